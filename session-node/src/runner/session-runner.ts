import {
  type ContactInfo,
  type Coordinator,
  coordinationKeys,
  DAILY_SENDS_WINDOW_MS,
  type Lease,
  recordChats,
  recordContacts,
  recordSessionState,
  type StateChange,
} from '@wa-cluster/core'
import { type DatabaseHandle, isDatabaseUnreachable } from '@wa-cluster/db'
import { type SecretBox, type SessionState, StaleEpoch } from '@wa-cluster/shared'
import type { Logger } from 'pino'
import { openPostgresAuthState, type PostgresAuthState, wipeAuthState } from '../auth-state/index.js'
import { findPoll, recordMessageChanges } from '../messages/message-changes.js'
import {
  type RowOnly,
  recordInboundMessages,
  recordReceivedMessageOnce,
  recordStatusUpdates,
} from '../messages/message-events.js'
import { findSentMessage, requeueInterruptedSends } from '../messages/outbound-queue.js'
import { countRecordedOutcomes, type SessionNodeMetrics } from '../metrics.js'
import type { ChatActions } from '../providers/chat-actions.js'
import type {
  MessageStatusUpdate,
  OutboundMessage,
  ProviderConnection,
  ProviderEvent,
  ReceivedMessage,
  WhatsAppProvider,
} from '../providers/provider.js'
import { type ConnectionClose, disconnectAction } from './disconnect-policy.js'
import { type CommitNotice, createFencedWriter, type FencedWriter } from './fenced-writes.js'
import { renderQrImage } from './qr-image.js'
import { nextReconnectDelay } from './reconnect-policy.js'
import { createSendLoop, outboundContentOf, type SendLoop } from './send-loop.js'

export type StopMode =
  /** Close the socket, keep credentials, rest as DISCONNECTED. */
  | 'disconnect'
  /** Unlink the device on the phone, wipe credentials, rest as LOGGED_OUT. */
  | 'logout'
  /** Another node takes over: announce RECONNECTING, close the socket, flush keys, release. */
  | 'handover'
  /**
   * The node goes away and no other node can take the session: rest as RECONNECTING ("gateway
   * shutting down"; it reconnects when a node can have it), close, flush keys, release.
   */
  | 'shutdown'
  /** The session already rests (its state is written): just close and release. */
  | 'release'
  /** Ownership is gone: close at once and write nothing. */
  | 'lost'

export type SessionRunnerDeps = {
  database: DatabaseHandle
  secretBox: SecretBox
  /** How the runner reaches WhatsApp. */
  provider: WhatsAppProvider
  logger: Logger
  /** Called after every committed write, to wake the webhook dispatcher and state watchers. */
  onCommitted: (sessionId: string, notice: CommitNotice) => void
  /**
   * The local webhook dispatcher's claim lease: inbound messages and status updates are appended
   * already claimed for it (the fast path). Without it every event waits for a dispatcher's claim query.
   */
  claimLeaseMs?: number
  metrics?: SessionNodeMetrics
  /** Where the tenant's `messagesPerDay` is counted; without it broadcasts ignore the daily quota. */
  coordinator?: Coordinator
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
/** How long a hand-over waits for in-flight events (and their key writes) before releasing. */
const FLUSH_TIMEOUT_MS = 5_000
/** How long a stop waits for the close handshake (a frozen server never answers). */
const CONNECTION_CLOSE_TIMEOUT_MS = 5_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * One WhatsApp connection for one session, owned under a lease and an epoch: the session state machine.
 * Maps the provider's events to states and the outbox, and applies the disconnect policy
 * (disconnect-policy.ts). Every write goes through the fenced writer (fenced-writes.ts), so a runner
 * that lost ownership can change nothing; queued sends go out through the send loop (send-loop.ts).
 */
export class SessionRunner {
  readonly sessionId: string
  readonly tenantId: string
  readonly epoch: number
  private readonly deps: SessionRunnerDeps
  private readonly input: SessionRunnerInput
  private readonly logger: Logger
  private readonly writer: FencedWriter
  private readonly sendLoop: SendLoop
  private connection: ProviderConnection | undefined
  private auth: PostgresAuthState | undefined
  private state: SessionState
  private stopping: StopMode | undefined
  private reconnectTimer: NodeJS.Timeout | undefined
  private reconnectAttempt = 0
  /** Contacts this runner wrote as they are now (see contactKey): the same again is not rewritten. */
  private readonly knownContacts = new Set<string>()
  private qrCount = 0
  private pairingRequested = false
  /** Serialises event handling so events reach the outbox in the order the connection reported them. */
  private queue: Promise<void> = Promise.resolve()
  private finished!: () => void
  /** Resolves when the runner has closed its connection for good and given up its lease. */
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
    this.writer = createFencedWriter({
      sessionId: input.sessionId,
      logger: this.logger,
      onCommitted: deps.onCommitted,
      mayRetry: () => input.lease.isHeld() && this.stopping !== 'lost',
      onStale: () => void this.stop('lost'),
    })
    this.sendLoop = createSendLoop({
      database: deps.database,
      sessionId: input.sessionId,
      epoch: input.epoch,
      writer: this.writer,
      claimLeaseMs: deps.claimLeaseMs,
      metrics: deps.metrics,
      ...(deps.coordinator
        ? {
            countDailySend: (limit: number) =>
              deps.coordinator!.rateLimit(
                coordinationKeys.dailySends(input.tenantId),
                limit,
                DAILY_SENDS_WINDOW_MS,
              ),
          }
        : {}),
      sendingConnection: () =>
        this.state === 'CONNECTED' && !this.stopping && input.lease.isHeld() ? this.connection : undefined,
      onError: (error) => this.onError(error),
    })
    this.done = new Promise((resolve) => {
      this.finished = resolve
    })
    input.lease.signal.addEventListener('abort', () => void this.stop('lost'), { once: true })
  }

  get currentState(): SessionState {
    return this.state
  }

  /** The connection's chat actions while it is connected and owned (session commands); else undefined. */
  get liveActions(): ChatActions | undefined {
    return this.state === 'CONNECTED' && !this.stopping && this.input.lease.isHeld()
      ? this.connection?.actions
      : undefined
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
      this.openConnection()
    } catch (error) {
      // Postgres away for a moment is no reason to give the session up: let go of it, and the node
      // takes it again at its next look (a stop as 'lost' schedules that).
      if (isDatabaseUnreachable(error)) {
        this.logger.warn({ err: (error as Error).message }, 'database unreachable while starting; retrying')
        await this.stop('lost')
        return
      }
      await this.fail(error)
    }
  }

  /** Sends queued outbound messages one by one while connected. Safe to call often. */
  flushOutbox(): void {
    this.sendLoop.flush()
  }

  private openConnection(): void {
    if (this.stopping || !this.auth) return
    if (!this.input.lease.isHeld()) {
      void this.stop('lost')
      return
    }
    const connection: ProviderConnection = this.deps.provider.open({
      sessionId: this.sessionId,
      auth: this.auth.state,
      logger: this.logger,
      // Read when the batch runs (a later microtask), so even a batch emitted inside `open` finds it.
      onEvents: (events) => this.enqueue(() => connection, events),
      storeBeforeReceipt: (message) => this.storeBeforeReceipt(connection, message),
      loadSentMessage: (waMessageId) => this.loadSentMessage(waMessageId),
      loadPoll: (waMessageId) => findPoll(this.deps.database, this.sessionId, waMessageId),
    })
    this.connection = connection
    this.qrCount = 0
  }

  /** A message this session sent, as the provider sends it, for a recipient asking for it again. */
  private async loadSentMessage(waMessageId: string): Promise<OutboundMessage | undefined> {
    const sent = await findSentMessage(this.deps.database, this.sessionId, waMessageId)
    if (!sent) return undefined
    this.logger.info({ messageId: sent.id, waMessageId }, 'a recipient asked for a sent message again')
    return {
      chatId: sent.chatId,
      messageId: sent.waMessageId,
      content: await outboundContentOf(this.deps.database, this.sessionId, sent),
    }
  }

  /** Handles a batch after the previous ones; batches of a connection that is no longer ours are dropped. */
  private enqueue(connectionOf: () => ProviderConnection, events: ProviderEvent[]): Promise<void> {
    const run = async () => {
      const connection = connectionOf()
      if (this.connection !== connection) return
      for (const event of events) await this.onEvent(connection, event)
    }
    this.queue = this.queue.then(run).catch((error) => this.onError(error))
    return this.queue
  }

  private async onEvent(connection: ProviderConnection, event: ProviderEvent): Promise<void> {
    switch (event.type) {
      case 'credentials':
        await this.auth?.saveCreds()
        return
      case 'qr':
        await this.onQr(connection, event.qr)
        return
      case 'paired':
        await this.transition({ state: 'PAIRING', reason: 'device linked; restarting the connection' })
        return
      case 'open':
        this.reconnectAttempt = 0
        await this.transition({ state: 'CONNECTED', phone: event.phone })
        this.sendLoop.flush()
        return
      case 'close':
        await this.onClose(event)
        return
      case 'messages':
        await this.recordMessages(event.messages)
        return
      case 'statuses':
        await this.recordStatuses(event.updates)
        return
      case 'changes':
        await this.writer.commit(
          () =>
            recordMessageChanges(this.deps.database, {
              ...this.fence(),
              changes: event.changes,
              claimLeaseMs: this.deps.claimLeaseMs,
            }),
          (result) => ({ claimed: result?.claimed ?? [], unclaimed: result?.unclaimed ?? false }),
        )
        return
      case 'contacts': {
        // Every received message names its sender; most senders are known already, exactly so.
        const contacts = event.contacts.filter((contact) => !this.knownContacts.has(contactKey(contact)))
        if (contacts.length === 0) return
        await this.recordDirectory(() => recordContacts(this.deps.database, { ...this.fence(), contacts }))
        if (this.knownContacts.size + contacts.length > KNOWN_CONTACTS_MAX) this.knownContacts.clear()
        for (const contact of contacts) this.knownContacts.add(contactKey(contact))
        return
      }
      case 'chats':
        await this.recordDirectory(() =>
          recordChats(this.deps.database, { ...this.fence(), chats: event.chats }),
        )
        return
    }
  }

  private async onQr(connection: ProviderConnection, qr: string): Promise<void> {
    const { pairingPhone } = this.input
    if (pairingPhone && !this.pairingRequested) {
      this.pairingRequested = true
      const pairingCode = await connection.requestPairingCode(pairingPhone)
      await this.transition({
        state: 'PAIRING',
        pairingCode,
        qrExpiresAt: new Date(Date.now() + FIRST_QR_TTL_MS),
      })
    } else if (!pairingPhone) {
      const ttl = this.qrCount++ === 0 ? FIRST_QR_TTL_MS : NEXT_QR_TTL_MS
      await this.transition({
        state: 'QR_READY',
        qr,
        qrImage: await renderQrImage(qr),
        qrExpiresAt: new Date(Date.now() + ttl),
      })
    }
  }

  /** Applies the disconnect policy to a connection that closed by itself. */
  private async onClose(close: ConnectionClose): Promise<void> {
    this.connection = undefined
    if (this.stopping) return
    const action = disconnectAction(close)
    if (action.reconnect === 'now') {
      this.openConnection()
      return
    }
    const change = { statusCode: close.statusCode, reason: action.reason, state: action.state }
    if (action.reconnect === 'never') {
      if (action.wipeCredentials) {
        await this.writer.commit(() => wipeAuthState(this.deps.database, this.sessionId, this.epoch))
      }
      await this.rest(change)
      return
    }
    const delay = nextReconnectDelay(this.reconnectAttempt++)
    this.deps.metrics?.reconnects.inc({ status_code: String(close.statusCode ?? 'none') })
    await this.transition(change)
    this.logger.info({ statusCode: close.statusCode, delayMs: delay }, 'socket closed; reconnecting')
    this.reconnectTimer = setTimeout(() => this.openConnection(), delay)
  }

  private async recordMessages(messages: ReceivedMessage[]): Promise<void> {
    await this.writer.commit(
      () =>
        recordInboundMessages(this.deps.database, {
          sessionId: this.sessionId,
          epoch: this.epoch,
          messages: messages.map((received) => received.message),
          claimLeaseMs: this.deps.claimLeaseMs,
          rowOnly: new Map(messages.map((received) => [received.message.waMessageId, rowOnlyOf(received)])),
        }),
      (result) => ({ claimed: result.claimed, unclaimed: result.unclaimed }),
    )
  }

  /**
   * A received message is committed before WhatsApp gets its receipt. When it cannot be (the session
   * moved: stale epoch; or Postgres stayed down through the writer's retries) the receipt is held:
   * WhatsApp delivers the message again at the next login, and this connection is closed so that
   * login comes soon.
   */
  private async storeBeforeReceipt(connection: ProviderConnection, received: ReceivedMessage): Promise<void> {
    let stored: boolean
    try {
      const result = await this.writer.commit(
        async () =>
          (await recordReceivedMessageOnce(this.deps.database, {
            sessionId: this.sessionId,
            epoch: this.epoch,
            message: received.message,
            claimLeaseMs: this.deps.claimLeaseMs,
            rowOnly: rowOnlyOf(received),
          })) ?? 'repeat',
        (result) =>
          result === 'repeat'
            ? { unclaimed: false }
            : { claimed: result.claimed, unclaimed: result.unclaimed },
      )
      stored = result !== undefined
      if (result === 'repeat')
        this.logger.info(
          { waMessageId: received.message.waMessageId },
          'message delivered again; already stored',
        )
    } catch (error) {
      this.logger.error(
        { waMessageId: received.message.waMessageId, err: (error as Error).message },
        'could not store a received message; holding its receipt and reconnecting',
      )
      stored = false
      if (this.connection === connection && !this.stopping) void connection.close()
    }
    if (!stored) throw new Error('received message not stored; its receipt is held')
  }

  private fence(): { sessionId: string; epoch: number } {
    return { sessionId: this.sessionId, epoch: this.epoch }
  }

  /**
   * Chats and contacts go through the writer like every owner write (in order, retried while owned),
   * but they make no event: nothing for the dispatcher to look at.
   */
  private async recordDirectory(write: () => Promise<number>): Promise<void> {
    await this.writer.commit(write, () => ({ unclaimed: false }))
  }

  private async recordStatuses(updates: MessageStatusUpdate[]): Promise<void> {
    this.logger.debug(
      { updates: updates.map((update) => `${update.waMessageId}:${update.status}`) },
      'message status updates',
    )
    await this.writer.commit(
      async () => {
        const result = await recordStatusUpdates(this.deps.database, {
          sessionId: this.sessionId,
          epoch: this.epoch,
          updates,
          claimLeaseMs: this.deps.claimLeaseMs,
        })
        countRecordedOutcomes(this.deps.metrics, result)
        return result
      },
      (result) => ({ claimed: result?.claimed ?? [], unclaimed: result?.unclaimed ?? false }),
    )
  }

  /**
   * Ends the runner. Idempotent; the first mode wins. The lease is released only after the connection
   * is closed and pending key writes are flushed, so a successor never overlaps with this connection.
   */
  async stop(mode: StopMode): Promise<void> {
    if (this.stopping) return this.done
    this.stopping = mode
    clearTimeout(this.reconnectTimer)
    this.sendLoop.stop()
    const connection = this.connection
    this.connection = undefined
    try {
      if (mode === 'handover' && this.state === 'CONNECTED') {
        await this.write({ state: 'RECONNECTING', reason: 'moving to another node' })
      }
      if (mode === 'shutdown' && (this.state === 'CONNECTED' || this.state === 'CONNECTING')) {
        await this.write({ state: 'RECONNECTING', reason: 'gateway shutting down' })
      }
      if (mode === 'logout' && connection && this.state === 'CONNECTED') {
        await connection.logout('logged out by API').catch((error) =>
          // The credentials are wiped below all the same; the phone lists the device until it notices.
          this.logger.warn({ err: (error as Error).message }, 'could not unlink the device on the phone'),
        )
      }
      // Wait for the close handshake: the lease may be released only once the server saw this connection
      // go, or the successor's login would overlap with it.
      if (connection) await Promise.race([connection.close(), sleep(CONNECTION_CLOSE_TIMEOUT_MS)])
      if (mode !== 'lost') {
        await Promise.race([this.queue, sleep(FLUSH_TIMEOUT_MS)])
        await this.auth?.flush()
      }
      connection?.dispose()
      if (mode === 'disconnect') {
        await this.write({
          state: 'DISCONNECTED',
          reason: 'disconnected by API',
          desiredState: 'disconnected',
          unassign: true,
        })
      } else if (mode === 'logout') {
        await this.writer.commit(() => wipeAuthState(this.deps.database, this.sessionId, this.epoch))
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
      await this.input.lease
        .release()
        .catch((error) =>
          this.logger.warn({ err: (error as Error).message }, 'could not release the lease; it will expire'),
        )
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
    const written = await this.writer.commit(
      () => recordSessionState(this.deps.database, { sessionId: this.sessionId, epoch: this.epoch, change }),
      () => ({ stateChanged: true }),
    )
    // Refused as stale: another node owns the session now and this state was never recorded.
    if (written === undefined) return
    this.deps.metrics?.transitions.inc({ state: change.state })
    this.logger.info({ state: change.state, previousState: previous, reason: change.reason }, 'session state')
  }

  private onError(error: unknown): void {
    this.logger.error({ err: (error as Error)?.message }, 'session runner error')
  }

  private async fail(error: unknown): Promise<void> {
    this.onError(error)
    try {
      await this.transition({ state: 'FAILED', reason: (error as Error)?.message ?? 'start failed' })
    } catch (writeError) {
      this.logger.warn({ err: (writeError as Error)?.message }, 'could not record FAILED')
    }
    await this.stop('release')
  }
}

/** How many written contacts a runner remembers before it starts over (a bound on its memory). */
const KNOWN_CONTACTS_MAX = 500

/** A contact as written: the same JIDs and names give the same key. */
function contactKey(contact: ContactInfo): string {
  return JSON.stringify([contact.phoneJid, contact.lid, contact.pushName, contact.savedName])
}

/** What a received message's row keeps beside what its event shows. */
function rowOnlyOf({ mediaSource, pollSecret }: ReceivedMessage): RowOnly {
  return { ...(mediaSource ? { mediaSource } : {}), ...(pollSecret ? { pollSecret } : {}) }
}
