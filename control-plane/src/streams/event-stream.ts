import {
  compareOutboxPositions,
  type OutboxPosition,
  type PositionedEvent,
  readOutboxAfter,
} from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import type { EventType } from '@wa-cluster/shared'
import type { Logger } from 'pino'

/**
 * An outbox event on its way to streams: serialized once, however many streams send it (the feed
 * makes one per row for all the streams of the tenant; the wire forms are cached on it).
 */
export type StreamedEvent = PositionedEvent & { json: string; wire?: { sse?: Buffer; text?: Buffer } }

export function toStreamedEvent(event: PositionedEvent): StreamedEvent {
  return { ...event, json: JSON.stringify(event.envelope) }
}

/** The SSE frame of an event (`id:` + one `data:` line: JSON.stringify never writes a raw newline). */
export function sseFrameOf(event: StreamedEvent): Buffer {
  event.wire ??= {}
  event.wire.sse ??= Buffer.from(`id: ${event.envelope.id}\ndata: ${event.json}\n\n`)
  return event.wire.sse
}

/** The envelope as UTF-8 bytes, for a WebSocket text message. */
export function textBytesOf(event: StreamedEvent): Buffer {
  event.wire ??= {}
  event.wire.text ??= Buffer.from(event.json)
  return event.wire.text
}

/** What a stream shows: every event of its tenant, or those of one session and/or some types. */
export type StreamFilter = { sessionId?: string; types?: readonly EventType[] }

/** Why a stream ended, for logs and metrics. */
export type StreamEndReason = 'client_closed' | 'slow_consumer' | 'token_expired' | 'shutdown' | 'error'

/** The transport under a stream (SSE response, WebSocket). */
export type StreamTransport = {
  /**
   * Sends events in order, in as few writes as it can; resolves once the transport took them (this is
   * where a slow client pushes back).
   */
  sendEvents(events: readonly StreamedEvent[]): Promise<void>
  /** Keeps proxies from closing an idle connection (SSE comment line, WS ping). */
  heartbeat(): void
  /** Ends the connection; `reason` says why (a slow consumer's socket is destroyed, not flushed). */
  end(reason: StreamEndReason): void
}

/** The feed of one tenant, as a stream sees it (see event-feeds.ts). */
export type TenantFeedPort = {
  /** Where the feed has read up to, or undefined when it has no position yet (no live stream). */
  position(): OutboxPosition | undefined
  attach(stream: LiveStream, position: OutboxPosition): void
  detach(stream: LiveStream): void
}

/** What a stream reads the outbox with when it is behind the feed (its replay). */
const REPLAY_PAGE = 100

/**
 * One connected client: replays the outbox from its cursor, then joins its tenant's live feed with no
 * gap and no duplicate, and sends in (tx, id) order. Events wait in a queue bounded by `bufferBytes`: a
 * batch of live events (one read of the feed) finding more than that still waiting means the client
 * stopped reading, and it is dropped (it resumes from its last event id). The check is per batch, so
 * a burst larger than the bound does not drop a client that keeps up: what a stream holds is at most
 * `bufferBytes` plus one feed read (or, while it replays, one page of the outbox).
 */
export class LiveStream {
  private state: 'replaying' | 'joining' | 'live' | 'ended' = 'replaying'
  private readonly queue: StreamedEvent[] = []
  private queuedBytes = 0
  private backlogBytes = 0
  private pumping = false
  private drainWaiters: (() => void)[] = []
  /** Live events that arrived while the stream read the rows between its cursor and the feed's. */
  private backlog: StreamedEvent[] = []
  /** Everything at or before this position has been queued (or filtered out). */
  private cursor: OutboxPosition
  private endedWith: StreamEndReason | undefined
  private started: Promise<void> | undefined
  private readonly ended: Promise<StreamEndReason>
  private resolveEnded!: (reason: StreamEndReason) => void

  constructor(
    private readonly deps: {
      database: DatabaseHandle
      logger: Logger
      tenantId: string
      filter: StreamFilter
      start: OutboxPosition
      bufferBytes: number
      transport: StreamTransport
      feed: TenantFeedPort
      onEnd: (stream: LiveStream, reason: StreamEndReason) => void
    },
  ) {
    this.cursor = deps.start
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve
    })
  }

  get tenantId(): string {
    return this.deps.tenantId
  }

  /** Resolves when the stream has ended, with why. */
  done(): Promise<StreamEndReason> {
    return this.ended
  }

  /** Resolves once the replay is done and the stream is live (or it ended first). */
  live(): Promise<void> {
    return this.started ?? Promise.resolve()
  }

  /** Replays, then joins the live feed. Resolves once live (or ended). Called once. */
  start(): Promise<void> {
    this.started ??= this.run()
    return this.started
  }

  private async run(): Promise<void> {
    try {
      await this.replay()
      if (this.state === 'ended') return
      await this.join()
    } catch (error) {
      this.deps.logger.warn({ err: (error as Error).message }, 'event stream failed')
      this.end('error')
    }
  }

  /** Replays from the cursor, a page at a time, each page sent before the next is read. */
  private async replay(): Promise<void> {
    for (;;) {
      const page = await this.read(this.cursor, undefined)
      if (this.state === 'ended') return
      for (const event of page) this.push(event)
      void this.pump()
      // Sent before reading on: a replay holds one page, and live events never queue behind it.
      await this.whenDrained()
      if (page.length < REPLAY_PAGE) return
    }
  }

  /**
   * Attaches to the feed, then reads what lies between the stream's cursor and the feed's position at
   * that moment; live events offered meanwhile wait in the backlog, after those rows.
   */
  private async join(): Promise<void> {
    const feedPosition = this.deps.feed.position()
    this.state = 'joining'
    this.deps.feed.attach(this, this.cursor)
    if (feedPosition && compareOutboxPositions(feedPosition, this.cursor) > 0) {
      for (;;) {
        const page = await this.read(this.cursor, feedPosition)
        if (this.isEnded()) return
        for (const event of page) this.push(event)
        void this.pump()
        if (page.length < REPLAY_PAGE) break
      }
      // Rows up to the feed's position that matched nothing still count as passed.
      if (compareOutboxPositions(feedPosition, this.cursor) > 0) this.cursor = feedPosition
      await this.whenDrained()
    }
    if (this.isEnded()) return
    const backlog = this.backlog
    this.backlog = []
    this.backlogBytes = 0
    this.state = 'live'
    this.offer(backlog, false)
  }

  private async read(after: OutboxPosition, until: OutboxPosition | undefined): Promise<StreamedEvent[]> {
    const { filter } = this.deps
    const rows = await readOutboxAfter(this.deps.database, {
      tenantId: this.deps.tenantId,
      after,
      limit: REPLAY_PAGE,
      ...(filter.sessionId !== undefined ? { sessionId: filter.sessionId } : {}),
      ...(filter.types !== undefined ? { types: filter.types } : {}),
      ...(until ? { until } : {}),
    })
    return rows.map(toStreamedEvent)
  }

  /**
   * Live events from the feed (one read), in position order. Live events still waiting past the bound
   * when the next read comes mean the client stopped reading: it is dropped.
   */
  offer(events: readonly StreamedEvent[], checkBuffer = true): void {
    if (this.state === 'ended') return
    const waiting = this.state === 'joining' ? this.backlogBytes : this.queuedBytes
    if (checkBuffer && waiting > this.deps.bufferBytes) {
      this.end('slow_consumer')
      return
    }
    for (const event of events) {
      if (compareOutboxPositions(event.position, this.cursor) <= 0) continue
      if (!this.matches(event)) continue
      if (this.state === 'joining') {
        this.backlog.push(event)
        this.backlogBytes += event.json.length
        continue
      }
      this.push(event)
    }
    void this.pump()
  }

  private matches(event: StreamedEvent): boolean {
    const { sessionId, types } = this.deps.filter
    if (sessionId !== undefined && event.envelope.sessionId !== sessionId) return false
    if (types !== undefined && !types.includes(event.envelope.type)) return false
    return true
  }

  /** Queues an event; the caller starts the pump once it has queued what it had. */
  private push(event: StreamedEvent): void {
    this.cursor = event.position
    this.queue.push(event)
    this.queuedBytes += event.json.length
  }

  /**
   * Sends what is queued, all of it at once: events that arrived together (one feed read, one replay
   * page) or while the previous send waited go out in one write, so a busy stream costs fewer writes.
   */
  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    try {
      while (this.queue.length > 0 && this.state !== 'ended') {
        const batch = this.queue.slice()
        await this.deps.transport.sendEvents(batch)
        if (this.isEnded()) break
        this.queue.splice(0, batch.length)
        for (const event of batch) this.queuedBytes -= event.json.length
      }
    } catch {
      // The transport failed under us: the client is gone.
      this.end('client_closed')
    } finally {
      this.pumping = false
      if (this.queue.length === 0) this.releaseDrainWaiters()
    }
  }

  /** Resolves when nothing is waiting to be sent (or the stream ended). */
  whenDrained(): Promise<void> {
    if (this.queue.length === 0 || this.state === 'ended') return Promise.resolve()
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const resolve of waiters) resolve()
  }

  /** A heartbeat, only while nothing is waiting to be sent (a queued event says the same). */
  heartbeat(): void {
    if (this.state !== 'ended' && this.queue.length === 0) this.deps.transport.heartbeat()
  }

  /** Ends the stream once: detaches it, ends the transport and releases what it held. Idempotent. */
  end(reason: StreamEndReason): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    this.endedWith = reason
    this.deps.feed.detach(this)
    this.queue.length = 0
    this.backlog = []
    this.queuedBytes = 0
    this.backlogBytes = 0
    this.releaseDrainWaiters()
    if (reason !== 'client_closed') this.deps.transport.end(reason)
    this.deps.onEnd(this, reason)
    this.resolveEnded(reason)
  }

  /** A method, not a field read, so the compiler does not narrow it across awaits. */
  private isEnded(): boolean {
    return this.state === 'ended'
  }

  get endReason(): StreamEndReason | undefined {
    return this.endedWith
  }
}
