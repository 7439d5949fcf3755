import {
  OUTBOX_ANNOUNCE_CHANNEL,
  type OutboxPosition,
  parseOutboxAnnouncement,
  readOutboxAfter,
  registeredMetric,
} from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import type { Config } from '@wa-cluster/shared'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import {
  LiveStream,
  type StreamEndReason,
  type StreamFilter,
  type StreamTransport,
  type TenantFeedPort,
  toStreamedEvent,
} from './event-stream.js'

/**
 * The live event streams of one control-plane process. One LISTEN on the outbox announcements (a
 * trigger NOTIFYs `<tenantId>:<tx>` when an insert commits, whichever process wrote it) wakes the feed
 * of that tenant; the feed reads the new rows once by its position and hands them to every stream of
 * the tenant, each filtering for itself. No stream polls: a slow timer re-reads each feed in case an
 * announcement was lost, and one timer sends every stream's heartbeat.
 */
export type EventStreams = {
  start(): Promise<void>
  /** Ends every stream (shutdown) and stops listening. */
  stop(): Promise<void>
  /**
   * Opens a stream for a tenant from `start` (exclusive). Resolves once the stream is set up; events
   * go to `transport` until the stream ends (`stream.done()`).
   */
  open(input: {
    tenantId: string
    filter: StreamFilter
    start: OutboxPosition
    transport: StreamTransport
  }): LiveStream
  /** Streams open right now. */
  count(): number
}

/**
 * Rows a feed reads per query; it reads again at once while pages come back full. A stream may hold
 * one such read beyond STREAM_BUFFER_BYTES (see LiveStream).
 */
const FEED_PAGE = 200
/**
 * A row announced but still above the horizon (an older transaction running) is re-read soon: 5 ms,
 * then every 20 ms at most while rows stay held. A short cap keeps the added latency at one retry
 * period past the moment the older transaction ends; each retry is one indexed query per held feed.
 */
const HELD_BACK_FIRST_RETRY_MS = 5
const HELD_BACK_MAX_RETRY_MS = 20

type StreamMetrics = { open: Gauge; ended: Counter<'reason'>; heldBack: Counter }

function streamMetrics(registry: Registry, count: () => number): StreamMetrics {
  const open = registeredMetric(
    registry,
    'event_streams_open',
    () =>
      new Gauge({
        name: 'event_streams_open',
        help: 'Live event streams (SSE and WebSocket) connected to this process',
        registers: [registry],
        collect() {
          this.set(count())
        },
      }),
  )
  const ended = registeredMetric(
    registry,
    'event_streams_ended_total',
    () =>
      new Counter({
        name: 'event_streams_ended_total',
        help: 'Live event streams ended, by reason (slow_consumer: the client stopped reading)',
        labelNames: ['reason'],
        registers: [registry],
      }),
  )
  const heldBack = registeredMetric(
    registry,
    'event_feed_held_back_reads_total',
    () =>
      new Counter({
        name: 'event_feed_held_back_reads_total',
        help: 'Feed re-reads scheduled because a committed event was held behind an older transaction still running',
        registers: [registry],
      }),
  )
  return { open, ended, heldBack }
}

/** The live feed of one tenant in this process: reads its new outbox rows once for all its streams. */
class TenantFeed implements TenantFeedPort {
  private readPosition: OutboxPosition | undefined
  readonly streams = new Set<LiveStream>()
  private reading = false
  private readAgain = false
  /** The highest transaction announced for this tenant: rows below it not read yet are held back. */
  private announcedTx = 0n
  private retryTimer: NodeJS.Timeout | undefined
  private retryDelayMs = HELD_BACK_FIRST_RETRY_MS
  private closed = false
  /** When the last read started (performance.now()), and the timer of a read put off until the gap passed. */
  private lastReadAt = Number.NEGATIVE_INFINITY
  private batchTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly tenantId: string,
    private readonly database: DatabaseHandle,
    private readonly logger: Logger,
    /** The shortest time between two reads (STREAM_BATCH_MS). */
    private readonly batchMs: number,
    private readonly onEmpty: (feed: TenantFeed) => void,
    private readonly onHeldBack: () => void,
  ) {}

  position(): OutboxPosition | undefined {
    return this.readPosition
  }

  attach(stream: LiveStream, position: OutboxPosition): void {
    this.streams.add(stream)
    // The first stream's cursor is settled (everything up to it has committed), so the feed starts there.
    if (!this.readPosition) this.readPosition = position
    this.wake()
  }

  detach(stream: LiveStream): void {
    if (!this.streams.delete(stream)) return
    if (this.streams.size === 0) {
      this.closed = true
      clearTimeout(this.retryTimer)
      clearTimeout(this.batchTimer)
      this.onEmpty(this)
    }
  }

  announce(tx: bigint): void {
    if (tx > this.announcedTx) this.announcedTx = tx
    this.wake()
  }

  /**
   * Reads what is new: at once when the last read started at least `batchMs` ago, else when that much
   * has passed. Wakes coalesce: one that comes during a read, or while a read waits, is served by it.
   */
  wake(): void {
    if (this.closed || !this.readPosition) return
    if (this.reading) {
      this.readAgain = true
      return
    }
    if (this.batchTimer) return
    const waitMs = this.lastReadAt + this.batchMs - performance.now()
    if (waitMs > 0) {
      this.batchTimer = setTimeout(() => {
        this.batchTimer = undefined
        this.wake()
      }, waitMs)
      return
    }
    this.reading = true
    void this.readNew().finally(() => {
      this.reading = false
      if (this.readAgain) this.wake()
    })
  }

  private async readNew(): Promise<void> {
    try {
      for (;;) {
        this.readAgain = false
        this.lastReadAt = performance.now()
        const after = this.readPosition!
        const rows = await readOutboxAfter(this.database, {
          tenantId: this.tenantId,
          after,
          limit: FEED_PAGE,
        })
        if (this.closed) return
        if (rows.length > 0) {
          const events = rows.map(toStreamedEvent)
          // Position and fan-out move together, in one turn of the event loop: a stream attaching
          // between two reads sees a position whose rows every attached stream has been offered.
          this.readPosition = rows.at(-1)!.position
          for (const stream of this.streams) stream.offer(events)
        }
        // A full page reads on at once; what was announced meanwhile waits for the gap (wake, above).
        if (rows.length < FEED_PAGE) break
      }
      this.scheduleHeldBackRetry()
    } catch (error) {
      // The safety re-read (or the next announcement) tries again.
      this.logger.warn({ tenantId: this.tenantId, err: (error as Error).message }, 'event feed read failed')
    }
  }

  /**
   * An announced transaction whose rows we could not read yet is held above the horizon by an older
   * transaction still running; no announcement comes when that one ends (it may have written no
   * event), so look again shortly, backing off.
   */
  private scheduleHeldBackRetry(): void {
    const position = this.readPosition
    if (!position || this.announcedTx <= BigInt(position.tx)) {
      this.retryDelayMs = HELD_BACK_FIRST_RETRY_MS
      return
    }
    if (this.retryTimer) return
    this.onHeldBack()
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.wake()
    }, this.retryDelayMs)
    this.retryDelayMs = Math.min(HELD_BACK_MAX_RETRY_MS, this.retryDelayMs * 2)
  }
}

export function createEventStreams(deps: {
  config: Pick<
    Config,
    'STREAM_HEARTBEAT_MS' | 'STREAM_BUFFER_BYTES' | 'STREAM_REREAD_INTERVAL_MS' | 'STREAM_BATCH_MS'
  >
  database: DatabaseHandle
  logger: Logger
  metrics: Registry
}): EventStreams {
  const { config, database } = deps
  const logger = deps.logger.child({ component: 'event-streams' })
  const feeds = new Map<string, TenantFeed>()
  const streams = new Set<LiveStream>()
  const metrics = streamMetrics(deps.metrics, () => streams.size)
  let unlisten: (() => Promise<void>) | undefined
  let heartbeatTimer: NodeJS.Timeout | undefined
  let rereadTimer: NodeJS.Timeout | undefined

  function feedOf(tenantId: string): TenantFeed {
    let feed = feeds.get(tenantId)
    if (!feed) {
      feed = new TenantFeed(
        tenantId,
        database,
        logger,
        config.STREAM_BATCH_MS,
        (empty) => {
          if (feeds.get(tenantId) === empty) feeds.delete(tenantId)
        },
        () => metrics.heldBack.inc(),
      )
      feeds.set(tenantId, feed)
    }
    return feed
  }

  const wakeAll = () => {
    for (const feed of feeds.values()) feed.wake()
  }

  return {
    async start() {
      if (unlisten) return
      unlisten = await database.listen(
        OUTBOX_ANNOUNCE_CHANNEL,
        (payload) => {
          const announcement = parseOutboxAnnouncement(payload)
          if (announcement) feeds.get(announcement.tenantId)?.announce(BigInt(announcement.tx))
        },
        // (Re)subscribed: what was announced while the connection was down is read now.
        wakeAll,
      )
      heartbeatTimer = setInterval(() => {
        for (const stream of streams) stream.heartbeat()
      }, config.STREAM_HEARTBEAT_MS)
      heartbeatTimer.unref()
      rereadTimer = setInterval(wakeAll, config.STREAM_REREAD_INTERVAL_MS)
      rereadTimer.unref()
    },
    async stop() {
      clearInterval(heartbeatTimer)
      clearInterval(rereadTimer)
      for (const stream of [...streams]) stream.end('shutdown')
      await unlisten?.().catch(() => {})
      unlisten = undefined
    },
    open(input) {
      // The feed is looked up when the stream joins it, not now: it may be gone by the end of the replay.
      const feedPort: TenantFeedPort = {
        position: () => feeds.get(input.tenantId)?.position(),
        attach: (stream, position) => feedOf(input.tenantId).attach(stream, position),
        detach: (stream) => feeds.get(input.tenantId)?.detach(stream),
      }
      const stream = new LiveStream({
        database,
        logger,
        tenantId: input.tenantId,
        filter: input.filter,
        start: input.start,
        bufferBytes: config.STREAM_BUFFER_BYTES,
        transport: input.transport,
        feed: feedPort,
        onEnd: (ended, reason: StreamEndReason) => {
          streams.delete(ended)
          metrics.ended.inc({ reason })
          if (reason === 'slow_consumer') {
            logger.warn({ tenantId: input.tenantId }, 'event stream dropped: the client stopped reading')
          }
        },
      })
      streams.add(stream)
      void stream.start()
      return stream
    },
    count: () => streams.size,
  }
}
