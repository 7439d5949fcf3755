import { registeredMetric, toEventEnvelope } from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import type { EventSinkConfig } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { SKIP_WAL_FLUSH } from '../webhooks/skip-wal-flush.js'
import { createSinkPublisher, type SinkPublisher } from './publishers.js'

/**
 * Delivers `sink_deliveries`: one row per (event, broker sink), written by the append statement for
 * every enabled sink (`event_sinks`) that wants the event's tenant. The rules of `webhook_deliveries`:
 *
 * - A claim is one statement (`FOR UPDATE SKIP LOCKED`) that counts the attempt and pushes
 *   `next_attempt_at` forward as a lease; a crashed process's claims come back when it ends. Every later
 *   write is fenced by the attempt number.
 * - Order: only the head of each (sink, session) queue is claimable, so a sink receives a session's
 *   events in seq order, and a failing sink holds back only its own queues.
 * - A row is marked delivered only after the broker confirmed it (RabbitMQ publisher confirm, JetStream
 *   ack). A failed publish is retried with capped backoff and never dead-lettered: a broker outage holds
 *   the events here, and they go out when it returns.
 * - A process claims only the sinks its own configuration names (it has their URLs).
 */

export type SinkDeliveryOptions = {
  /** Timeout of one connect or publish. */
  timeoutMs: number
  claimLeaseMs: number
  claimBatchSize: number
  maxInFlight: number
  retryDelayMs(attempt: number): number
}

type ClaimedSinkDelivery = {
  event_id: string
  sink_id: string
  attempts: number | string
  type: string
  tenant_id: string
  session_id: string
  seq: number | string
  data: unknown
  occurred_at: string
}

const MAX_ERROR_LENGTH = 500

export type SinkDeliveries = {
  /** Registers this process's sinks in `event_sinks` (see syncEventSinks). */
  start(): Promise<void>
  /** Claims what is due and publishes it; resolves when the claim is made (publishes run on). */
  claimAndSend(): Promise<void>
  /** Publishes in flight (the dispatcher waits for them when it stops). */
  readonly inFlight: Set<Promise<void>>
  /** Closes the broker connections (after the publishes in flight ended). */
  close(): Promise<void>
  readonly size: number
}

/**
 * Makes `event_sinks` say which sinks exist and which tenants each wants. With `authoritative` (this
 * process's configuration names its sinks explicitly, even as `EVENT_SINKS=[]`) the sinks it does not
 * name are disabled: appends stop writing deliveries for them; their pending ones wait. Without it
 * (nothing configured) the table is left as other processes made it.
 */
export async function syncEventSinks(
  database: DatabaseHandle,
  sinks: EventSinkConfig[],
  authoritative: boolean,
): Promise<void> {
  for (const sink of sinks) {
    const tenants = sink.tenants ? JSON.stringify(sink.tenants) : null
    await database.rows(sql`
      INSERT INTO event_sinks (id, kind, tenant_ids, enabled, updated_at)
      VALUES (${sink.name}, ${sink.kind}, ${tenants}::jsonb, true, now())
      ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, tenant_ids = excluded.tenant_ids, enabled = true,
        updated_at = now()
      WHERE event_sinks.kind IS DISTINCT FROM excluded.kind OR event_sinks.tenant_ids IS DISTINCT FROM excluded.tenant_ids
        OR NOT event_sinks.enabled`)
  }
  if (!authoritative) return
  const names = sinks.map((sink) => sink.name)
  await database.rows(
    names.length > 0
      ? sql`UPDATE event_sinks SET enabled = false, updated_at = now() WHERE enabled AND id NOT IN ${names}`
      : sql`UPDATE event_sinks SET enabled = false, updated_at = now() WHERE enabled`,
  )
}

export function createSinkDeliveries(deps: {
  database: DatabaseHandle
  logger: Logger
  sinks: EventSinkConfig[]
  /** Whether this process's configuration is the full list of sinks (see syncEventSinks). */
  authoritative: boolean
  running(): boolean
  onSettled(): void
  metrics?: Registry
  options: SinkDeliveryOptions
}): SinkDeliveries {
  const { database, logger, options } = deps
  const inFlight = new Set<Promise<void>>()
  const publishers = new Map<string, SinkPublisher>()
  for (const sink of deps.sinks)
    publishers.set(
      sink.name,
      createSinkPublisher(sink, { timeoutMs: options.timeoutMs, logger: logger.child({ sink: sink.name }) }),
    )
  const names = [...publishers.keys()]
  const registry = deps.metrics
  const outcomes = registry
    ? registeredMetric(
        registry,
        'wa_sink_deliveries_total',
        () =>
          new Counter({
            name: 'wa_sink_deliveries_total',
            help: 'Broker sink publish attempts by sink and outcome (delivered, failed)',
            labelNames: ['sink', 'outcome'],
            registers: [registry],
          }),
      )
    : undefined

  async function claim(limit: number): Promise<ClaimedSinkDelivery[]> {
    return database.rows<ClaimedSinkDelivery>(sql`
      WITH due AS (
        SELECT d.event_id, d.sink_id FROM sink_deliveries d
        WHERE d.status = 'pending' AND d.sink_id IN ${names} AND d.next_attempt_at <= now() AND ${SKIP_WAL_FLUSH}
          AND NOT EXISTS (
            SELECT 1 FROM sink_deliveries earlier
            WHERE earlier.sink_id = d.sink_id AND earlier.session_id = d.session_id
              AND earlier.status = 'pending' AND earlier.seq < d.seq)
        ORDER BY d.next_attempt_at, d.seq
        LIMIT ${limit}
        FOR UPDATE OF d SKIP LOCKED
      ), claimed AS (
        UPDATE sink_deliveries SET attempts = sink_deliveries.attempts + 1,
          next_attempt_at = now() + ${options.claimLeaseMs} * interval '1 millisecond'
        FROM due
        WHERE sink_deliveries.event_id = due.event_id AND sink_deliveries.sink_id = due.sink_id
        RETURNING sink_deliveries.event_id, sink_deliveries.sink_id, sink_deliveries.attempts
      )
      SELECT c.event_id, c.sink_id, c.attempts, e.type, e.tenant_id, e.session_id, e.seq, e.data,
        to_json(e.occurred_at) #>> '{}' AS occurred_at
      FROM claimed c JOIN events e ON e.id = c.event_id`)
  }

  async function send(row: ClaimedSinkDelivery): Promise<void> {
    const attempt = Number(row.attempts)
    const publisher = publishers.get(row.sink_id)!
    const envelope = toEventEnvelope({ ...row, id: row.event_id })
    let error: string | undefined
    try {
      await publisher.publish({
        address: publisher.address(envelope),
        body: JSON.stringify(envelope),
        eventId: envelope.id,
        type: envelope.type,
      })
    } catch (cause) {
      error = ((cause as Error)?.message ?? String(cause)).slice(0, MAX_ERROR_LENGTH)
    }
    const fence = sql`event_id = ${row.event_id} AND sink_id = ${row.sink_id} AND status = 'pending'
      AND attempts = ${attempt} AND ${SKIP_WAL_FLUSH}`
    if (error === undefined) {
      await database.rows(sql`
        UPDATE sink_deliveries SET status = 'delivered', delivered_at = now(), last_error = NULL WHERE ${fence}`)
      outcomes?.inc({ sink: row.sink_id, outcome: 'delivered' })
      return
    }
    const delayMs = options.retryDelayMs(attempt)
    await database.rows(sql`
      UPDATE sink_deliveries SET next_attempt_at = now() + ${delayMs} * interval '1 millisecond',
        last_error = ${error}
      WHERE ${fence}`)
    outcomes?.inc({ sink: row.sink_id, outcome: 'failed' })
    logger.warn(
      { sink: row.sink_id, eventId: row.event_id, attempt, error, retryInMs: delayMs },
      'sink publish failed; the event stays in the outbox',
    )
  }

  return {
    inFlight,
    size: names.length,
    async start() {
      await syncEventSinks(database, deps.sinks, deps.authoritative)
    },
    async claimAndSend() {
      if (names.length === 0) return
      const room = Math.min(options.claimBatchSize, options.maxInFlight - inFlight.size)
      if (room <= 0 || !deps.running()) return
      const claimed = await claim(room)
      for (const row of claimed) {
        const sending = send(row)
          .catch((error) =>
            logger.error({ err: (error as Error).message, sink: row.sink_id }, 'sink delivery failed'),
          )
          .finally(() => {
            inFlight.delete(sending)
            deps.onSettled()
          })
        inFlight.add(sending)
      }
    },
    async close() {
      await Promise.all([...publishers.values()].map((publisher) => publisher.close()))
    },
  }
}
