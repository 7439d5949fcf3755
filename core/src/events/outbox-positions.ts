import { type DatabaseHandle, resultRows, runStatement } from '@wa-cluster/db'
import { EVENT_TYPES, type EventEnvelope, type EventType } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { type SqlExecutor, toEventEnvelope } from './outbox.js'

/**
 * Where live streams read the outbox: in commit-safe order. An event id is minted before its
 * transaction commits, so two writers can commit ids out of order and a reader that pages by id could
 * pass a row that becomes visible later. Streams instead read by (tx, id), where `tx` is the inserting
 * transaction's id, and only below the *horizon*: the oldest transaction still running
 * (`pg_snapshot_xmin`). Every transaction below it has ended, so no row can appear there later: a
 * position handed out once is never passed by a late commit. A row held above the horizon by an older
 * transaction still running is read as soon as that one ends.
 */

/** A place in the outbox's commit-safe order: the inserting transaction (xid8, decimal text), then the id. */
export type OutboxPosition = { tx: string; id: string }

/** An event read for a stream: the webhook envelope and where it sits. */
export type PositionedEvent = { envelope: EventEnvelope; position: OutboxPosition }

/**
 * The NOTIFY channel a trigger on `events` announces every committed insert on, with the payload
 * `<tenantId>:<tx>` (see the `stream_announce` migration). Postgres delivers it when the transaction
 * commits and folds identical payloads of one transaction into one.
 */
export const OUTBOX_ANNOUNCE_CHANNEL = 'wa_events'

/** `<tenantId>:<tx>` → its parts; undefined for anything else. */
export function parseOutboxAnnouncement(payload: string): { tenantId: string; tx: string } | undefined {
  const match = /^([a-z]+_[0-9a-z]+):(\d+)$/.exec(payload)
  return match ? { tenantId: match[1]!, tx: match[2]! } : undefined
}

/** Orders positions: negative when `a` comes first. */
export function compareOutboxPositions(a: OutboxPosition, b: OutboxPosition): number {
  const ta = BigInt(a.tx)
  const tb = BigInt(b.tx)
  if (ta !== tb) return ta < tb ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/** "Now": every row after it is either not committed yet or committed above the horizon. */
export async function currentOutboxPosition(db: SqlExecutor): Promise<OutboxPosition> {
  const [row] = resultRows<{ tx: string }>(
    await db.execute(sql`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS tx`),
  )
  return { tx: row!.tx, id: '' }
}

/** The position of one of the tenant's events (a resume cursor), or undefined when it has no such event. */
export async function outboxPositionOf(
  db: SqlExecutor,
  input: { tenantId: string; eventId: string },
): Promise<OutboxPosition | undefined> {
  const [row] = resultRows<{ tx: string }>(
    await db.execute(
      sql`SELECT tx::text AS tx FROM events WHERE tenant_id = ${input.tenantId} AND id = ${input.eventId}`,
    ),
  )
  return row ? { tx: row.tx, id: input.eventId } : undefined
}

type PositionedRow = {
  id: string
  type: string
  tenant_id: string
  session_id: string
  seq: number | string
  occurred_at: string
  data: unknown
  tx: string
}

/**
 * readOutboxAfter as one fixed statement (prepared once per connection: a feed runs it after each
 * commit burst of its tenant). $1 tenant, $2/$3 after (tx, id), $4/$5 until (tx, id) or null,
 * $6 session or null, $7 types or null, $8 limit.
 */
const READ_OUTBOX_AFTER = `
  SELECT id, type, tenant_id, session_id, seq, data, to_json(occurred_at) #>> '{}' AS occurred_at,
    tx::text AS tx
  FROM events
  WHERE tenant_id = $1::text AND (tx, id) > ($2::xid8, $3::text)
    AND tx < pg_snapshot_xmin(pg_current_snapshot())
    AND ($4::xid8 IS NULL OR (tx, id) <= ($4::xid8, $5::text))
    AND ($6::text IS NULL OR session_id = $6::text)
    AND ($7::text[] IS NULL OR type = ANY($7::text[]))
  ORDER BY tx, id LIMIT $8::int`

/**
 * The tenant's events after `after`, below the horizon, in (tx, id) order: at most `limit`. Optional
 * filters narrow them to one session and some types. Uses `events_tenant_tx_idx`.
 */
export async function readOutboxAfter(
  database: DatabaseHandle,
  input: {
    tenantId: string
    after: OutboxPosition
    limit: number
    sessionId?: string
    types?: readonly EventType[]
    /** Read no further than this position (inclusive). */
    until?: OutboxPosition
  },
): Promise<PositionedEvent[]> {
  const types = input.types !== undefined && input.types.length < EVENT_TYPES.length ? [...input.types] : null
  const rows = await runStatement<PositionedRow>(database, READ_OUTBOX_AFTER, [
    input.tenantId,
    input.after.tx,
    input.after.id,
    input.until?.tx ?? null,
    input.until?.id ?? null,
    input.sessionId ?? null,
    types,
    Math.max(1, Math.floor(input.limit)),
  ])
  return rows.map((row) => ({ envelope: toEventEnvelope(row), position: { tx: row.tx, id: row.id } }))
}
