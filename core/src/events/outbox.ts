import { type Database, type DatabaseHandle, resultRows, runStatement, statementSql } from '@wa-cluster/db'
import {
  type EventData,
  type EventEnvelope,
  type EventType,
  NotFound,
  newId,
  StaleEpoch,
} from '@wa-cluster/shared'
import { type SQL, sql } from 'drizzle-orm'

/**
 * The outbox: every event a tenant should see is written here, in the caller's transaction, before
 * anything acknowledges it. The webhook dispatcher delivers the `pending` rows.
 */

/** The database or a transaction: callers append inside their own transaction to stay atomic. */
export type SqlExecutor = Pick<Database, 'execute'>

/** `none` = the tenant had no webhook, or its filter left this type out, when the event was written. */
export type DeliveryStatus = 'pending' | 'delivered' | 'dead' | 'none'

export type NewEvent<T extends EventType = EventType> = { type: T; data: EventData[T] }

export type AppendTarget = {
  sessionId: string
  /** When given, the session must belong to this tenant (a guard, not a source of truth). */
  tenantId?: string
  /** Fencing: when given, the append succeeds only while `sessions.epoch` still equals it. */
  epoch?: number
  /**
   * Received messages to store as `messages` rows (direction `in`, status `received`) by the same
   * statement, each at most once per (session, chat, WhatsApp id); each also moves its chat.
   */
  received?: ReceivedMessageRow[]
}

/** A received message as its `messages` row stores it (see AppendTarget.received). */
export type ReceivedMessageRow = {
  id: string
  chatId: string
  waMessageId: string
  type: string
  text: string | null
  content: Record<string, unknown> | null
  sender: string
  senderName: string | null
  /** Unix seconds, as WhatsApp gives it. */
  waTimestamp: number
  /** A media message: where its file is and its key (MediaSource). */
  mediaSource?: Record<string, unknown> | null
}

/** An event as `GET /v1/events` lists it: the envelope plus where its delivery stands. */
export type ListedEvent = EventEnvelope & {
  delivery: {
    status: DeliveryStatus
    attempts: number
    /** Only while pending. */
    nextAttemptAt: string | null
    lastError: string | null
    deliveredAt: string | null
  }
}

export type EventPage = { data: ListedEvent[]; nextCursor: string | null }

// Ids are `evt_` + 10 chars of time + 12 random, all base36. Within one process they are made strictly
// increasing, so a session's events (one owner at a time) sort by id in seq order and the `after`
// cursor never skips an event written in the same millisecond by this process.
const ID_DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
let lastEventId = ''

function nextEventId(): string {
  let id = newId('evt')
  if (id <= lastEventId) id = incrementBase36(lastEventId)
  lastEventId = id
  return id
}

function incrementBase36(id: string): string {
  const chars = id.split('')
  for (let index = chars.length - 1; index > 'evt_'.length - 1; index--) {
    const digit = ID_DIGITS.indexOf(chars[index]!)
    if (digit < ID_DIGITS.length - 1) {
      chars[index] = ID_DIGITS[digit + 1]!
      return chars.join('')
    }
    chars[index] = '0'
  }
  // 36^22 ids in one millisecond cannot happen; fall back to a fresh id rather than wrap.
  return newId('evt')
}

/** Postgres' JSON text of a timestamptz → the ISO string every envelope uses. */
function isoTimestamp(value: unknown): string {
  return new Date(value instanceof Date ? value : String(value)).toISOString()
}

function jsonValue<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

/**
 * An event claimed for delivery, with what the dispatcher needs to send it: the claim query returns
 * these, and so does an append that claims its own events (appendAndClaimEvents).
 */
export type ClaimedEventRow = {
  id: string
  type: string
  tenant_id: string
  session_id: string
  seq: number | string
  data: unknown
  occurred_at: string
  /** The attempt number this claim took (it fences every later write of the claim). */
  attempts: number | string
  /** Pending events of the session before this one, when claimed (all must be in the same claim). */
  earlier_pending: number | string
  url: string | null
  webhook_events: unknown
  secret_sealed: Uint8Array | null
  /** The secret before the last rotation, while its grace period lasts (`previous_secret_valid`). */
  previous_secret_sealed: Uint8Array | null
  previous_secret_valid: boolean | null
}

export type AppendResult = {
  envelopes: EventEnvelope[]
  /** Events this append claimed for delivery (only with a claim lease): send them now. */
  claimed: ClaimedEventRow[]
  /**
   * Some appended events are pending but not claimed, or are due to endpoints (webhook_deliveries) or
   * broker sinks (sink_deliveries): a
   * dispatcher must look for them.
   */
  unclaimed: boolean
}

type AppendedRow = {
  id: string
  tenant_id: string
  seq: number | string
  occurred_at: string
  delivery: DeliveryStatus
  attempts: number | string
  url: string | null
  webhook_events: unknown
  secret_sealed: Uint8Array | null
  previous_secret_sealed: Uint8Array | null
  previous_secret_valid: boolean | null
  /**
   * Delivery rows the append wrote for endpoints (webhook_endpoints) and broker sinks (event_sinks); the
   * same on every row.
   */
  endpoint_deliveries: number | string
  /** The session's `externalId`, which the append added to every event's data; null when none. */
  external_id: string | null
}

/**
 * The append, as one fixed statement (prepared once per connection): $1 session, $2 event ids,
 * $3 types, $4 data (a JSON array, one element per event), $5 epoch or null, $6 tenant or null,
 * $7 claim at insert, $8 claim lease (ms), $9 received messages to store (a JSON array) or null.
 */
const APPEND_EVENTS = `
  WITH session AS (
    UPDATE sessions SET last_seq = last_seq + cardinality($2::text[])
    WHERE id = $1 AND ($5::bigint IS NULL OR epoch = $5::bigint) AND ($6::text IS NULL OR tenant_id = $6::text)
    RETURNING tenant_id, last_seq, external_id
  ), input AS (
    SELECT ids.ordinal, ids.id, types.type, data.value AS data
    FROM unnest($2::text[]) WITH ORDINALITY AS ids (id, ordinal)
    JOIN unnest($3::text[]) WITH ORDINALITY AS types (type, ordinal) USING (ordinal)
    JOIN jsonb_array_elements($4::text::jsonb) WITH ORDINALITY AS data (value, ordinal) USING (ordinal)
  ), hook AS (
    SELECT w.url, w.events, w.secret_sealed, w.previous_secret_sealed,
      w.previous_secret_expires_at > now() AS previous_secret_valid
    FROM webhooks w JOIN session ON w.tenant_id = session.tenant_id
  ), claim AS (
    SELECT $7::boolean AND NOT EXISTS (
      SELECT 1 FROM events e WHERE e.session_id = $1 AND e.delivery = 'pending') AS now
  ), rows AS (
    SELECT input.id, session.tenant_id, session.last_seq - cardinality($2::text[]) + input.ordinal AS seq,
      input.type,
      CASE WHEN session.external_id IS NULL THEN input.data
        ELSE input.data || jsonb_build_object('externalId', session.external_id) END AS data,
      EXISTS (SELECT 1 FROM hook WHERE hook.events IS NULL OR jsonb_typeof(hook.events) = 'null'
        OR hook.events @> jsonb_build_array(input.type)) AS wanted
    FROM session CROSS JOIN input
  ), inserted AS (
    INSERT INTO events (id, tenant_id, session_id, seq, type, data, delivery, attempts, next_attempt_at)
    SELECT rows.id, rows.tenant_id, $1, rows.seq, rows.type, rows.data,
      CASE WHEN rows.wanted THEN 'pending' ELSE 'none' END,
      CASE WHEN rows.wanted AND claim.now THEN 1 ELSE 0 END,
      CASE WHEN rows.wanted AND claim.now THEN now() + $8::int * interval '1 millisecond' ELSE now() END
    FROM rows CROSS JOIN claim
    RETURNING id, tenant_id, seq, type, occurred_at, delivery, attempts
  ), fanned_out AS (
    -- One delivery row per enabled endpoint (webhook_endpoints) whose filters want the event.
    INSERT INTO webhook_deliveries (event_id, endpoint_id, tenant_id, session_id, seq)
    SELECT inserted.id, endpoint.id, inserted.tenant_id, $1, inserted.seq
    FROM inserted JOIN webhook_endpoints endpoint
      ON endpoint.tenant_id = inserted.tenant_id AND endpoint.enabled
      AND (endpoint.events IS NULL OR jsonb_typeof(endpoint.events) = 'null'
        OR endpoint.events @> jsonb_build_array(inserted.type))
      AND (endpoint.session_ids IS NULL OR jsonb_typeof(endpoint.session_ids) = 'null'
        OR endpoint.session_ids @> jsonb_build_array($1::text))
    RETURNING event_id
  ), sunk AS (
    -- One delivery row per enabled broker sink (event_sinks, from EVENT_SINKS) that wants the tenant.
    INSERT INTO sink_deliveries (event_id, sink_id, tenant_id, session_id, seq)
    SELECT inserted.id, sink.id, inserted.tenant_id, $1, inserted.seq
    FROM inserted JOIN event_sinks sink
      ON sink.enabled AND (sink.tenant_ids IS NULL OR jsonb_typeof(sink.tenant_ids) = 'null'
        OR sink.tenant_ids @> jsonb_build_array(inserted.tenant_id))
    RETURNING event_id
  ), received AS (
    -- Received messages become history rows with their event; a redelivered one is not stored twice.
    INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, wa_message_id, type, text, content,
      status, status_history, sender, sender_name, wa_timestamp, media_source)
    SELECT m.id, session.tenant_id, $1, 'in', m.chat_id, m.wa_message_id, m.type, m.text, m.content,
      'received', jsonb_build_array(jsonb_build_object('status', 'received', 'at', now())),
      m.sender, m.sender_name, to_timestamp(m.wa_timestamp), m.media_source
    FROM session CROSS JOIN jsonb_to_recordset($9::text::jsonb) AS m (id text, chat_id text,
      wa_message_id text, type text, text text, content jsonb, sender text, sender_name text,
      wa_timestamp double precision, media_source jsonb)
    ON CONFLICT (session_id, chat_id, wa_message_id) WHERE direction = 'in' DO NOTHING
    RETURNING id, tenant_id, chat_id, wa_timestamp
  ), chat_moved AS (
    -- Each chat that received one: unread count up, last message and activity forward.
    INSERT INTO chats AS c (session_id, tenant_id, chat_id, unread_count, last_message_id, last_activity_at)
    SELECT $1, min(tenant_id), chat_id, count(*), max(id), max(wa_timestamp)
    FROM received GROUP BY chat_id
    ON CONFLICT (session_id, chat_id) DO UPDATE SET unread_count = c.unread_count + EXCLUDED.unread_count,
      last_message_id = CASE WHEN EXCLUDED.last_activity_at >= c.last_activity_at
        THEN EXCLUDED.last_message_id ELSE c.last_message_id END,
      last_activity_at = GREATEST(c.last_activity_at, EXCLUDED.last_activity_at), updated_at = now()
    RETURNING 1
  )
  SELECT inserted.id, inserted.tenant_id, inserted.seq, to_json(inserted.occurred_at) #>> '{}' AS occurred_at,
    inserted.delivery, inserted.attempts, hook.url, hook.events AS webhook_events, hook.secret_sealed,
    hook.previous_secret_sealed, hook.previous_secret_valid,
    (SELECT count(*) FROM fanned_out) + (SELECT count(*) FROM sunk) AS endpoint_deliveries,
    (SELECT external_id FROM session) AS external_id
  FROM inserted LEFT JOIN hook ON true`

/**
 * Appends events of one session in ONE statement: takes the next `sessions.last_seq` values and inserts
 * the rows, `pending` when the tenant's webhook wants the type, else `none`. The session row lock the
 * UPDATE takes orders concurrent appends, so seq order is commit order within a session.
 * Throws StaleEpoch when `epoch` is given and stale, NotFound when the session does not exist.
 */
export async function appendEvents(
  db: SqlExecutor,
  input: AppendTarget & { events: NewEvent[] },
): Promise<EventEnvelope[]> {
  if (input.events.length === 0) return []
  const { text, params, ids } = appendStatement(input, undefined)
  const rows = resultRows<AppendedRow>(await db.execute(statementSql(text, params)))
  return appendResult(input, ids, rows).envelopes
}

/**
 * appendEvents, and the appender claims its pending events for delivery in the same statement (a lease
 * of `claimLeaseMs`, attempt 1) when nothing of the session is pending before them: the webhook fast
 * path, with no claim query between the commit and the POST. It runs on its own (a prepared statement,
 * no transaction): the claimed events are sent once this returns. Appends of one session must not
 * overlap while it runs: the "nothing pending before" check reads the statement's snapshot (an owner
 * serializes its appends; other writers hold no claim). Without a lease nothing is claimed.
 */
export async function appendAndClaimEvents(
  database: DatabaseHandle,
  input: AppendTarget & { events: NewEvent[] },
  claimLeaseMs: number | undefined,
): Promise<AppendResult> {
  if (input.events.length === 0) return { envelopes: [], claimed: [], unclaimed: false }
  const { text, params, ids } = appendStatement(input, claimLeaseMs)
  return appendResult(input, ids, await runStatement<AppendedRow>(database, text, params))
}

/**
 * appendAndClaimEvents inside the caller's transaction, for an event that must commit together with
 * the change it reports (a plain statement: a prepared one cannot join a drizzle transaction). The
 * claimed events may be sent only once that transaction has committed; the same rule holds that no
 * other append of the session runs beside it.
 */
export async function appendAndClaimEventsInTransaction(
  tx: SqlExecutor,
  input: AppendTarget & { events: NewEvent[] },
  claimLeaseMs: number,
): Promise<AppendResult> {
  if (input.events.length === 0) return { envelopes: [], claimed: [], unclaimed: false }
  const { text, params, ids } = appendStatement(input, claimLeaseMs)
  return appendResult(input, ids, resultRows<AppendedRow>(await tx.execute(statementSql(text, params))))
}

function appendStatement(input: AppendTarget & { events: NewEvent[] }, claimLeaseMs: number | undefined) {
  const ids = input.events.map(() => nextEventId())
  const params = [
    input.sessionId,
    ids,
    input.events.map((event) => event.type),
    JSON.stringify(input.events.map((event) => event.data)),
    input.epoch ?? null,
    input.tenantId ?? null,
    claimLeaseMs !== undefined,
    claimLeaseMs ?? 0,
    input.received?.length ? JSON.stringify(input.received.map(receivedRowParam)) : null,
  ]
  return { text: APPEND_EVENTS, params, ids }
}

function receivedRowParam(row: ReceivedMessageRow) {
  return {
    id: row.id,
    chat_id: row.chatId,
    wa_message_id: row.waMessageId,
    type: row.type,
    text: row.text,
    content: row.content,
    sender: row.sender,
    sender_name: row.senderName,
    wa_timestamp: row.waTimestamp,
    media_source: row.mediaSource ?? null,
  }
}

function appendResult(
  input: AppendTarget & { events: NewEvent[] },
  ids: string[],
  rows: AppendedRow[],
): AppendResult {
  const { sessionId, events } = input
  if (rows.length === 0) {
    if (input.epoch !== undefined) throw new StaleEpoch(sessionId, input.epoch)
    throw new NotFound('session')
  }
  const byId = new Map(rows.map((row) => [row.id, row]))
  const result: AppendResult = {
    envelopes: [],
    claimed: [],
    unclaimed: Number(rows[0]?.endpoint_deliveries ?? 0) > 0,
  }
  events.forEach((event, index) => {
    const row = byId.get(ids[index]!)!
    const data = row.external_id === null ? event.data : { ...event.data, externalId: row.external_id }
    const envelope: EventEnvelope = {
      id: row.id,
      type: event.type,
      tenantId: row.tenant_id,
      sessionId,
      seq: Number(row.seq),
      occurredAt: isoTimestamp(row.occurred_at),
      data,
    }
    result.envelopes.push(envelope)
    if (row.delivery !== 'pending') return
    if (Number(row.attempts) === 0) {
      result.unclaimed = true
      return
    }
    result.claimed.push({
      id: row.id,
      type: event.type,
      tenant_id: row.tenant_id,
      session_id: sessionId,
      seq: row.seq,
      data,
      occurred_at: row.occurred_at,
      attempts: row.attempts,
      earlier_pending: result.claimed.length,
      url: row.url,
      webhook_events: row.webhook_events,
      secret_sealed: row.secret_sealed,
      previous_secret_sealed: row.previous_secret_sealed,
      previous_secret_valid: row.previous_secret_valid,
    })
  })
  return result
}

/** Appends one event; see appendEvents. */
export async function appendEvent<T extends EventType>(
  db: SqlExecutor,
  input: AppendTarget & NewEvent<T>,
): Promise<EventEnvelope<T>> {
  const { type, data, ...target } = input
  const [envelope] = await appendEvents(db, { ...target, events: [{ type, data } as NewEvent]! })
  return envelope as EventEnvelope<T>
}

type EventRow = {
  id: string
  type: EventType
  tenant_id: string
  session_id: string
  seq: number | string
  occurred_at: string
  data: unknown
  delivery: DeliveryStatus
  attempts: number | string
  next_attempt_at: string | null
  last_error: string | null
  delivered_at: string | null
}

const LISTED_COLUMNS = sql`id, type, tenant_id, session_id, seq, data, delivery, attempts, last_error,
  to_json(occurred_at) #>> '{}' AS occurred_at,
  CASE WHEN delivery = 'pending' THEN to_json(next_attempt_at) #>> '{}' END AS next_attempt_at,
  to_json(delivered_at) #>> '{}' AS delivered_at`

/** The envelope of an outbox row, exactly as webhooks and `GET /v1/events` show it. */
export function toEventEnvelope(row: {
  id: string
  type: string
  tenant_id: string
  session_id: string
  seq: number | string
  occurred_at: unknown
  data: unknown
}): EventEnvelope {
  return {
    id: row.id,
    type: row.type as EventType,
    tenantId: row.tenant_id,
    sessionId: row.session_id,
    seq: Number(row.seq),
    occurredAt: isoTimestamp(row.occurred_at),
    data: jsonValue(row.data),
  }
}

function toListedEvent(row: EventRow): ListedEvent {
  return {
    ...toEventEnvelope(row),
    delivery: {
      status: row.delivery,
      attempts: Number(row.attempts),
      nextAttemptAt: row.next_attempt_at ? isoTimestamp(row.next_attempt_at) : null,
      lastError: row.last_error,
      deliveredAt: row.delivered_at ? isoTimestamp(row.delivered_at) : null,
    },
  }
}

/**
 * A page of the tenant's events in id order (time order; per session also seq order), after the
 * `after` cursor. `nextCursor` is null on the last page.
 */
export async function listEvents(
  db: SqlExecutor,
  input: {
    tenantId: string
    after?: string
    limit: number
    sessionId?: string
    type?: EventType
    delivery?: DeliveryStatus
  },
): Promise<EventPage> {
  const filters: SQL[] = [sql`tenant_id = ${input.tenantId}`]
  if (input.after !== undefined) filters.push(sql`id > ${input.after}`)
  if (input.sessionId !== undefined) filters.push(sql`session_id = ${input.sessionId}`)
  if (input.type !== undefined) filters.push(sql`type = ${input.type}`)
  if (input.delivery !== undefined) filters.push(sql`delivery = ${input.delivery}`)
  const limit = Math.max(1, Math.floor(input.limit))
  // One extra row tells whether another page exists without a count.
  const rows = resultRows<EventRow>(
    await db.execute(sql`
      SELECT ${LISTED_COLUMNS} FROM events WHERE ${sql.join(filters, sql` AND `)}
      ORDER BY id LIMIT ${limit + 1}`),
  )
  const page = rows.slice(0, limit).map(toListedEvent)
  return { data: page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null }
}

/** One of the tenant's events, or NotFound. */
export async function getEvent(
  db: SqlExecutor,
  input: { tenantId: string; eventId: string },
): Promise<ListedEvent> {
  const [row] = resultRows<EventRow>(
    await db.execute(
      sql`SELECT ${LISTED_COLUMNS} FROM events WHERE tenant_id = ${input.tenantId} AND id = ${input.eventId}`,
    ),
  )
  if (!row) throw new NotFound('event')
  return toListedEvent(row)
}

/**
 * Puts events back in the delivery queue with a fresh attempt budget: the listed ids, or every
 * dead-lettered event of the tenant. Events still pending are left alone (one may be in flight right
 * now; resetting it would let a second dispatcher send it alongside). Returns how many were reset.
 * Call the dispatcher's notify() afterwards to send them at once.
 */
export async function redeliverEvents(
  db: SqlExecutor,
  input: { tenantId: string; eventIds: string[] } | { tenantId: string; status: 'dead' },
): Promise<number> {
  let selection: SQL
  if ('eventIds' in input) {
    if (input.eventIds.length === 0) return 0
    selection = sql`id IN ${input.eventIds} AND delivery <> 'pending'`
  } else {
    selection = sql`delivery = ${input.status}`
  }
  const rows = resultRows<{ id: string }>(
    await db.execute(sql`
      UPDATE events SET delivery = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL, delivered_at = NULL
      WHERE tenant_id = ${input.tenantId} AND ${selection}
      RETURNING id`),
  )
  return rows.length
}
