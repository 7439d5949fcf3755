import type { AsyncLocalStorage } from 'node:async_hooks'
import { type ClaimedEventRow, type Lease, recordSessionState, type StateChange } from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import { type Config, phoneFromJid, type SecretBox, type SessionState, StaleEpoch } from '@wa-cluster/shared'
import makeWASocket, {
  Browsers,
  type ConnectionState,
  DisconnectReason,
  type WASocket,
} from '@whiskeysockets/baileys'
import type { Logger } from 'pino'
import QRCode from 'qrcode'
import { openPostgresAuthState, wipeAuthState } from '../auth-state/index.js'
import {
  claimNextOutbound,
  recordInboundMessages,
  recordStatusUpdates,
  requeueInterruptedSends,
  type StatusUpdate,
  toInboundMessage,
  toMessageStatus,
} from '../messages/message-events.js'
import type { SessionNodeMetrics } from '../metrics.js'
import { captureStorages, releaseStorages } from './async-context.js'
import { nextReconnectDelay } from './reconnect-policy.js'

export type StopMode =
  /** Close the socket, keep credentials, rest as DISCONNECTED. */
  | 'disconnect'
  /** Unlink the device on the phone, wipe credentials, rest as LOGGED_OUT. */
  | 'logout'
  /** Another node takes over: announce RECONNECTING, close the socket, flush keys, release. */
  | 'handover'
  /** The session already rests (its state is written): just close and release. */
  | 'release'
  /** Ownership is gone: close at once and write nothing. */
  | 'lost'

export type CommitNotice = {
  /** A new session state (wakes whoever waits for one, in every control-plane). */
  stateChanged: boolean
  /** Events the write claimed for the local dispatcher: deliver them now. */
  claimed: ClaimedEventRow[]
  /** The write may have left pending events no one claimed: a dispatcher should look. */
  unclaimed: boolean
}

export type SessionRunnerDeps = {
  database: DatabaseHandle
  secretBox: SecretBox
  config: Pick<Config, 'WA_WS_URL' | 'BAILEYS_LOG_LEVEL'>
  logger: Logger
  /** Called after every committed write, to wake the webhook dispatcher and state watchers. */
  onCommitted: (sessionId: string, notice: CommitNotice) => void
  /**
   * The local webhook dispatcher's claim lease: inbound messages are appended already claimed for it
   * (the fast path). Without it every event waits for a dispatcher's claim query.
   */
  claimLeaseMs?: number
  metrics?: SessionNodeMetrics
}

export type SessionRunnerInput = {
  sessionId: string
  tenantId: string
  epoch: number
  lease: Lease
  /** Phone number for pairing-code linking instead of a QR. */
  pairingPhone: string | null
  /** State recorded in Postgres when the runner was created. */
  initialState: SessionState
  /** The node running this runner (for logs and reasons). */
  nodeId: string
}

const FIRST_QR_TTL_MS = 60_000
const NEXT_QR_TTL_MS = 20_000
/** How long a hand-over waits for Baileys to flush in-flight key writes before releasing. */
const FLUSH_TIMEOUT_MS = 5_000
/** How long a stop waits for the websocket close handshake (a frozen server never answers). */
const SOCKET_CLOSE_TIMEOUT_MS = 5_000
/** A closed socket may still finish a key transaction for a moment; its storages go after this. */
const SOCKET_RETIRE_DELAY_MS = 10_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Retries of a failed write (about a minute in all) before the error surfaces. */
const COMMIT_RETRIES = 35

/**
 * One Baileys socket for one session, owned under a lease and an epoch. Maps Baileys' events to the
 * session state machine and the outbox; applies the disconnect policy. Every write it makes is fenced by
 * its epoch, so a runner that lost ownership can change nothing.
 */
export class SessionRunner {
  readonly sessionId: string
  readonly tenantId: string
  readonly epoch: number
  private readonly deps: SessionRunnerDeps
  private readonly input: SessionRunnerInput
  private readonly logger: Logger
  private socket: WASocket | undefined
  private auth: Awaited<ReturnType<typeof openPostgresAuthState>> | undefined
  private state: SessionState
  private stopping: StopMode | undefined
  private reconnectTimer: NodeJS.Timeout | undefined
  private reconnectAttempt = 0
  private qrCount = 0
  private pairingRequested = false
  private sending = false
  private sendAgain = false
  /** Serialises event handling so events reach the outbox in the order Baileys emitted them. */
  private queue: Promise<void> = Promise.resolve()
  /** Per socket not yet retired: the AsyncLocalStorages Baileys made for it (see async-context.ts). */
  private readonly socketStorages = new Map<WASocket, AsyncLocalStorage<unknown>[]>()
  /** The tail of this runner's writes (see commit). */
  private writes: Promise<unknown> = Promise.resolve()
  private finished!: () => void
  /** Resolves when the runner has closed its socket for good and given up its lease. */
  readonly done: Promise<void>

  constructor(deps: SessionRunnerDeps, input: SessionRunnerInput) {
    this.deps = deps
    this.input = input
    this.sessionId = input.sessionId
    this.tenantId = input.tenantId
    this.epoch = input.epoch
    this.state = input.initialState
    this.logger = deps.logger.child({
      sessionId: input.sessionId,
      tenantId: input.tenantId,
      epoch: input.epoch,
    })
    this.done = new Promise((resolve) => {
      this.finished = resolve
    })
    input.lease.signal.addEventListener('abort', () => void this.stop('lost'), { once: true })
  }

  get currentState(): SessionState {
    return this.state
  }

  /** How the runner was stopped (the first mode asked for), or undefined while it runs. */
  get stopMode(): StopMode | undefined {
    return this.stopping
  }

  async start(): Promise<void> {
    try {
      this.auth = await openPostgresAuthState({
        database: this.deps.database,
        secretBox: this.deps.secretBox,
        sessionId: this.sessionId,
        epoch: this.epoch,
        logger: this.logger,
        onStaleEpoch: () => void this.stop('lost'),
      })
      await requeueInterruptedSends(this.deps.database, this.sessionId, this.epoch)
      // A session that was connected elsewhere (failover, restart) is resuming, not new. A hand-over
      // already announced RECONNECTING.
      if (this.state === 'CONNECTED') {
        await this.transition({ state: 'RECONNECTING', reason: `resuming on node ${this.input.nodeId}` })
      } else if (this.state !== 'RECONNECTING') {
        await this.transition({ state: 'CONNECTING', reason: `connecting on node ${this.input.nodeId}` })
      }
      this.openSocket()
    } catch (error) {
      await this.fail(error)
    }
  }

  private openSocket(): void {
    if (this.stopping || !this.auth) return
    if (!this.input.lease.isHeld()) {
      void this.stop('lost')
      return
    }
    const baileysLogger = this.logger.child({ component: 'baileys' })
    // Baileys is chatty: it has a level of its own (BAILEYS_LOG_LEVEL), but a silent node stays silent.
    if (this.logger.level !== 'silent') baileysLogger.level = this.deps.config.BAILEYS_LOG_LEVEL
    const auth = this.auth.state
    const { result: socket, storages } = captureStorages(() =>
      makeWASocket({
        auth,
        waWebSocketUrl: this.deps.config.WA_WS_URL ?? 'wss://web.whatsapp.com/ws/chat',
        logger: baileysLogger as never,
        browser: Browsers.ubuntu('wa-cluster'),
        markOnlineOnConnect: false,
        syncFullHistory: false,
        generateHighQualityLinkPreview: false,
        getMessage: async () => undefined,
      }),
    )
    this.socketStorages.set(socket, storages)
    this.socket = socket
    this.qrCount = 0
    socket.ev.process((events) => {
      const run = async () => {
        if (this.socket !== socket) return
        if (events['creds.update']) await this.auth?.saveCreds()
        if (events['connection.update']) await this.onConnectionUpdate(socket, events['connection.update'])
        if (events['messages.upsert']) await this.onMessagesUpsert(events['messages.upsert'].messages)
        const updates: StatusUpdate[] = []
        for (const { key, update } of events['messages.update'] ?? []) {
          const status = toMessageStatus(update.status)
          if (status && key.fromMe && key.id)
            updates.push({ waMessageId: key.id, chatId: key.remoteJid ?? '', status })
        }
        // Baileys folds a receipt that arrives while our own message is still in its event buffer into
        // that message's upsert instead of emitting messages.update: read the status from there too.
        for (const message of events['messages.upsert']?.messages ?? []) {
          const status = toMessageStatus(message.status)
          if (status && message.key.fromMe && message.key.id) {
            updates.push({ waMessageId: message.key.id, chatId: message.key.remoteJid ?? '', status })
          }
        }
        if (updates.length > 0) {
          this.logger.debug(
            { updates: updates.map((update) => `${update.waMessageId}:${update.status}`) },
            'message status updates',
          )
          await this.commit(() =>
            recordStatusUpdates(this.deps.database, {
              sessionId: this.sessionId,
              epoch: this.epoch,
              updates,
            }),
          )
        }
      }
      this.queue = this.queue.then(run).catch((error) => this.onError(error))
      return this.queue
    })
  }

  private async onConnectionUpdate(socket: WASocket, update: Partial<ConnectionState>): Promise<void> {
    if (update.qr) {
      if (this.input.pairingPhone && !this.pairingRequested) {
        this.pairingRequested = true
        const pairingCode = await socket.requestPairingCode(this.input.pairingPhone)
        await this.transition({
          state: 'PAIRING',
          pairingCode,
          qrExpiresAt: new Date(Date.now() + FIRST_QR_TTL_MS),
        })
      } else if (!this.input.pairingPhone) {
        const ttl = this.qrCount++ === 0 ? FIRST_QR_TTL_MS : NEXT_QR_TTL_MS
        const qrImage = await QRCode.toDataURL(update.qr, {
          errorCorrectionLevel: 'L',
          margin: 2,
          width: 264,
        })
        await this.transition({
          state: 'QR_READY',
          qr: update.qr,
          qrImage,
          qrExpiresAt: new Date(Date.now() + ttl),
        })
      }
    }
    if (update.isNewLogin)
      await this.transition({ state: 'PAIRING', reason: 'device linked; restarting the connection' })
    if (update.connection === 'open') {
      this.reconnectAttempt = 0
      await this.transition({ state: 'CONNECTED', phone: phoneFromJid(this.auth?.state.creds.me?.id) })
      this.flushOutbox()
    }
    if (update.connection === 'close') {
      this.retireSocket(socket, SOCKET_RETIRE_DELAY_MS)
      const error = update.lastDisconnect?.error as (Error & { output?: { statusCode?: number } }) | undefined
      await this.onClose(error?.output?.statusCode, error?.message ?? 'connection closed')
    }
  }

  /** The disconnect policy. */
  private async onClose(statusCode: number | undefined, message: string): Promise<void> {
    this.socket = undefined
    if (this.stopping) return
    const base = { statusCode, reason: message }
    if (statusCode === DisconnectReason.restartRequired) {
      // 515 ends a pairing: the same credentials log in on a new socket, at once.
      this.openSocket()
      return
    }
    if (statusCode === DisconnectReason.connectionReplaced) {
      // Another socket owns the account now. Reconnecting would start a replace loop: step down.
      await this.rest({
        ...base,
        state: 'DISCONNECTED',
        reason: 'replaced: another connection took over this account',
      })
      return
    }
    if (
      statusCode === DisconnectReason.loggedOut ||
      statusCode === DisconnectReason.forbidden ||
      statusCode === 419
    ) {
      await this.commit(() => wipeAuthState(this.deps.database, this.sessionId, this.epoch))
      await this.rest({ ...base, state: 'LOGGED_OUT' })
      return
    }
    if (statusCode === DisconnectReason.timedOut && /QR refs attempts ended/i.test(message)) {
      await this.rest({ ...base, state: 'EXPIRED', reason: 'QR codes expired without a scan' })
      return
    }
    if (statusCode === DisconnectReason.multideviceMismatch) {
      await this.rest({ ...base, state: 'FAILED' })
      return
    }
    const delay = nextReconnectDelay(this.reconnectAttempt++)
    this.deps.metrics?.reconnects.inc({ status_code: String(statusCode ?? 'none') })
    await this.transition({ ...base, state: 'RECONNECTING' })
    this.logger.info({ statusCode, delayMs: delay }, 'socket closed; reconnecting')
    this.reconnectTimer = setTimeout(() => this.openSocket(), delay)
  }

  private async onMessagesUpsert(messages: import('@whiskeysockets/baileys').WAMessage[]): Promise<void> {
    const ownJid = this.auth?.state.creds.me?.id
    const items = messages
      .map((message) => toInboundMessage(message, ownJid))
      .filter((item) => item !== undefined)
    if (items.length === 0) return
    await this.commit(
      () =>
        recordInboundMessages(this.deps.database, {
          sessionId: this.sessionId,
          epoch: this.epoch,
          messages: items,
          claimLeaseMs: this.deps.claimLeaseMs,
        }),
      (result) => ({ claimed: result.claimed, unclaimed: result.unclaimed }),
    )
  }

  /** Sends queued outbound messages one by one while connected. Safe to call often. */
  flushOutbox(): void {
    if (this.sending) {
      this.sendAgain = true
      return
    }
    if (this.state !== 'CONNECTED' || !this.socket || this.stopping) return
    this.sending = true
    void (async () => {
      try {
        do {
          this.sendAgain = false
          for (;;) {
            const socket = this.socket
            if (!socket || this.state !== 'CONNECTED' || this.stopping || !this.input.lease.isHeld()) return
            const message = await claimNextOutbound(this.deps.database, this.sessionId, this.epoch)
            if (!message) break
            let update: StatusUpdate
            try {
              await socket.sendMessage(
                message.chatId,
                { text: message.text },
                { messageId: message.waMessageId },
              )
              update = { waMessageId: message.waMessageId, chatId: message.chatId, status: 'sent' }
            } catch (error) {
              update = {
                waMessageId: message.waMessageId,
                chatId: message.chatId,
                status: 'failed',
                error: (error as Error).message,
              }
            }
            this.deps.metrics?.messagesSent.inc({ outcome: update.status })
            await this.commit(() =>
              recordStatusUpdates(this.deps.database, {
                sessionId: this.sessionId,
                epoch: this.epoch,
                updates: [update],
              }),
            )
          }
        } while (this.sendAgain)
      } catch (error) {
        this.onError(error)
      } finally {
        this.sending = false
      }
    })()
  }

  /**
   * Ends the runner. Idempotent; the first mode wins. The lease is released only after the socket is
   * closed and pending key writes are flushed, so a successor never overlaps with this socket.
   */
  async stop(mode: StopMode): Promise<void> {
    if (this.stopping) return this.done
    this.stopping = mode
    clearTimeout(this.reconnectTimer)
    const socket = this.socket
    this.socket = undefined
    try {
      if (mode === 'handover' && this.state === 'CONNECTED') {
        await this.write({ state: 'RECONNECTING', reason: 'moving to another node' })
      }
      if (mode === 'logout' && socket && this.state === 'CONNECTED') {
        await socket.logout('logged out by API').catch(() => {})
      }
      // Wait for the close handshake: the lease may be released only once the server saw this socket go,
      // or the successor's login would overlap with it.
      if (socket) await Promise.race([socket.end(undefined), sleep(SOCKET_CLOSE_TIMEOUT_MS)])
      if (mode !== 'lost') {
        await Promise.race([this.queue, new Promise((resolve) => setTimeout(resolve, FLUSH_TIMEOUT_MS))])
        await this.auth?.flush()
      }
      for (const retired of [...this.socketStorages.keys()]) this.retireSocket(retired, 0)
      if (mode === 'disconnect') {
        await this.write({
          state: 'DISCONNECTED',
          reason: 'disconnected by API',
          desiredState: 'disconnected',
          unassign: true,
        })
      } else if (mode === 'logout') {
        await this.commit(() => wipeAuthState(this.deps.database, this.sessionId, this.epoch))
        await this.write({
          state: 'LOGGED_OUT',
          reason: 'logged out by API',
          desiredState: 'disconnected',
          unassign: true,
        })
      }
    } catch (error) {
      if (!(error instanceof StaleEpoch))
        this.logger.warn({ err: (error as Error).message }, 'error while stopping')
    } finally {
      await this.input.lease.release().catch(() => {})
      this.logger.info({ mode }, 'session runner stopped')
      this.finished()
    }
  }

  /** Records a resting state (no more reconnects) and ends the runner. */
  private async rest(change: StateChange): Promise<void> {
    await this.transition({ ...change, desiredState: 'disconnected', unassign: true })
    void this.stop('release')
  }

  private async transition(change: StateChange): Promise<void> {
    if (this.stopping) return
    await this.write(change)
  }

  private async write(change: StateChange): Promise<void> {
    const previous = this.state
    this.state = change.state
    const written = await this.commit(
      () => recordSessionState(this.deps.database, { sessionId: this.sessionId, epoch: this.epoch, change }),
      () => ({ stateChanged: true }),
    )
    // Refused as stale: another node owns the session now and this state was never recorded.
    if (written === undefined) return
    this.deps.metrics?.transitions.inc({ state: change.state })
    this.logger.info({ state: change.state, previousState: previous, reason: change.reason }, 'session state')
  }

  /**
   * Runs a fenced write. Writes of one runner go one at a time, in call order: an append that claims
   * its own events relies on no other append of the session running beside it.
   */
  private commit<T>(
    write: () => Promise<T>,
    notice?: (result: T) => Partial<CommitNotice>,
  ): Promise<T | undefined> {
    const run = this.writes.then(() => this.commitNow(write, notice))
    this.writes = run.catch(() => {})
    return run
  }

  /**
   * A stale epoch means we lost the session: stop at once, write nothing more. Any other failure
   * (Postgres restarting, a dropped connection) is retried while we still own the session: events are
   * handled one at a time, so holding here keeps them in order and loses none.
   */
  private async commitNow<T>(
    write: () => Promise<T>,
    notice?: (result: T) => Partial<CommitNotice>,
  ): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await write()
        this.deps.onCommitted(this.sessionId, {
          stateChanged: false,
          claimed: [],
          unclaimed: true,
          ...notice?.(result),
        })
        return result
      } catch (error) {
        if (error instanceof StaleEpoch) {
          this.logger.warn('epoch is stale: another owner took over; closing')
          void this.stop('lost')
          return undefined
        }
        if (attempt >= COMMIT_RETRIES || !this.input.lease.isHeld() || this.stopping === 'lost') throw error
        this.logger.warn({ err: (error as Error).message, attempt }, 'write failed; retrying')
        await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)))
      }
    }
  }

  /** Releases a closed socket's storages, now or after `delayMs`. */
  private retireSocket(socket: WASocket, delayMs: number): void {
    const storages = this.socketStorages.get(socket)
    if (!storages) return
    this.socketStorages.delete(socket)
    if (delayMs === 0) releaseStorages(storages)
    else setTimeout(() => releaseStorages(storages), delayMs).unref()
  }

  private onError(error: unknown): void {
    this.logger.error({ err: (error as Error)?.message }, 'session runner error')
  }

  private async fail(error: unknown): Promise<void> {
    this.onError(error)
    try {
      await this.transition({ state: 'FAILED', reason: (error as Error)?.message ?? 'start failed' })
    } catch {}
    await this.stop('release')
  }
}
