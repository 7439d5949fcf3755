import {
  type AuthenticationState,
  type BaileysEventMap,
  makeWASocket,
  WA_CERT_DETAILS,
  type WASocket,
} from '@whiskeysockets/baileys'
import { SimLogger } from '../../src/logger.js'
import { makeMemoryAuthState } from './memory-auth-state.js'

/** A real, unmodified Baileys client against the simulator, with the waits tests need. */
export class TestClient {
  readonly auth = makeMemoryAuthState()
  sock: WASocket | undefined
  readonly events: { [K in keyof BaileysEventMap]?: BaileysEventMap[K][] } = {}
  private waiters: { check: () => boolean; resolve: () => void }[] = []

  constructor(
    private readonly url: string,
    rootPublicKey: string,
    private readonly options: {
      keepAliveIntervalMs?: number
      qrTimeout?: number
      markOnlineOnConnect?: boolean
      /** The agent media uploads go through (one trusting the simulator's media CA). */
      fetchAgent?: import('node:https').Agent
    } = {},
  ) {
    WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootPublicKey, 'base64')
  }

  get state(): AuthenticationState {
    return this.auth.state
  }

  /** Opens a new socket with the same auth state (what an app does after 515). */
  connect(): WASocket {
    const sock = makeWASocket({
      waWebSocketUrl: this.url,
      auth: this.auth.state,
      logger: new SimLogger((process.env.BAILEYS_LOG as never) ?? 'silent') as never,
      keepAliveIntervalMs: this.options.keepAliveIntervalMs ?? 30_000,
      qrTimeout: this.options.qrTimeout,
      markOnlineOnConnect: this.options.markOnlineOnConnect ?? false,
      connectTimeoutMs: 20_000,
      defaultQueryTimeoutMs: 20_000,
      syncFullHistory: false,
      ...(this.options.fetchAgent ? { fetchAgent: this.options.fetchAgent } : {}),
    })
    this.sock = sock
    sock.ev.on('creds.update', this.auth.saveCreds)
    const names: (keyof BaileysEventMap)[] = [
      'connection.update',
      'messages.upsert',
      'messages.update',
      'messaging-history.set',
    ]
    for (const name of names) {
      const on = sock.ev.on.bind(sock.ev) as (event: string, listener: (payload: unknown) => void) => void
      on(name, (event) => {
        this.events[name] ??= []
        ;(this.events[name] as unknown[]).push(event)
        this.poke()
      })
    }
    return sock
  }

  /** Resolves when `check()` holds, re-evaluated after each event; rejects after timeoutMs. */
  waitFor(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`timed out waiting for ${what}`))
      }, timeoutMs)
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      this.waiters.push(waiter)
    })
  }

  private poke(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.check()) {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        waiter.resolve()
      }
    }
  }

  /** Latest QR string shown. */
  lastQr(): string | undefined {
    return this.events['connection.update']?.filter((u) => u.qr).at(-1)?.qr
  }

  async waitForQr(): Promise<string> {
    await this.waitFor(() => !!this.lastQr(), 'qr')
    return this.lastQr()!
  }

  /** Waits for the next connection close after `afterIndex` updates and returns its status code. */
  async waitForClose(afterIndex = 0, timeoutMs = 15_000): Promise<number | undefined> {
    const closed = () =>
      this.events['connection.update']?.slice(afterIndex).find((u) => u.connection === 'close')
    await this.waitFor(() => !!closed(), 'connection close', timeoutMs)
    return (closed()!.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output
      ?.statusCode
  }

  async waitForOpen(afterIndex = 0): Promise<void> {
    await this.waitFor(
      () => !!this.events['connection.update']?.slice(afterIndex).some((u) => u.connection === 'open'),
      'connection open',
    )
  }

  updateCount(): number {
    return this.events['connection.update']?.length ?? 0
  }

  /** Scans via `scan`, handles the 515 restart and waits until the new socket is open. */
  async link(scan: (qr: string) => Promise<unknown>): Promise<void> {
    this.connect()
    const qr = await this.waitForQr()
    const mark = this.updateCount()
    await scan(qr)
    const code = await this.waitForClose(mark)
    if (code !== 515) throw new Error(`expected 515 after pairing, got ${code}`)
    const reopen = this.updateCount()
    this.connect()
    await this.waitForOpen(reopen)
  }

  /** Ends the socket without logging out. */
  close(): void {
    this.sock?.end(undefined)
  }

  /** Ends the socket and waits until Baileys reported the close. */
  async closeAndWait(): Promise<void> {
    const mark = this.updateCount()
    this.close()
    await this.waitForClose(mark)
  }
}
