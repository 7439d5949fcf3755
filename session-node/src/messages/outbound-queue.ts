import type { DatabaseHandle, MessageContent } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'

// The queue of outbound messages of a session: rows the API stored as `queued`, taken by the owner
// one at a time. Every statement is fenced by the owner's epoch.

/** A message a send refers to (the quoted one, the one reacted to), as WhatsApp knows it. */
export type ReferencedMessage = {
  waMessageId: string | null
  chatId: string
  fromMe: boolean
  text: string | null
  /** Who sent a received message (in a group, the member; what a quote or a reaction names). */
  sender: string | null
}

export type ClaimedMessage = {
  id: string
  chatId: string
  type: string
  text: string | null
  content: MessageContent | null
  waMessageId: string
  /**
   * A broadcast recipient: its broadcast, the delay the session keeps after it is sent, and the
   * tenant's `messagesPerDay` when the operator set one.
   */
  paced?: { broadcastId: string; delayMs: number; messagesPerDay: number | null }
}

type ClaimedRow = {
  id: string
  chat_id: string
  type: string
  text: string | null
  content: MessageContent | null
  wa_message_id: string
  broadcast_id: string | null
  delay_ms: number | null
  messages_per_day: number | string | null
}

const CLAIMED_COLUMNS = sql`m.id, m.chat_id, m.type, m.text, m.content, m.wa_message_id`

function claimedMessage(row: ClaimedRow): ClaimedMessage {
  return {
    id: row.id,
    chatId: row.chat_id,
    type: row.type,
    text: row.text,
    content: row.content,
    waMessageId: row.wa_message_id,
    ...(row.broadcast_id !== null && row.delay_ms !== null
      ? {
          paced: {
            broadcastId: row.broadcast_id,
            delayMs: Number(row.delay_ms),
            messagesPerDay: row.messages_per_day === null ? null : Number(row.messages_per_day),
          },
        }
      : {}),
  }
}

/**
 * Takes the next due outbound message of a session, if this owner's epoch is current, and gives it
 * its WhatsApp id in the same statement: `newMessageId` unless the row already has one (a resend after
 * a crash keeps the id it was first sent with, which recipients de-duplicate).
 *
 * Single sends that are due (no `send_after`, or one that has passed) go first, in queue order, so a
 * broadcast never starves them. Then broadcast rows, at the session's pace: one is taken only when
 * `session_pacing.next_send_at` has passed, its broadcast is running (or scheduled and due) and past
 * its `not_before`, its tenant is not suspended, and the same statement moves `next_send_at` on by the
 * broadcast's delay (stretched to the tenant's `messagesPerMinutePerSession`, plus jitter). Rows of
 * several broadcasts interleave by position, so they share the pace.
 */
export async function claimNextOutbound(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; newMessageId: string },
): Promise<ClaimedMessage | undefined> {
  const [single] = await database.rows<ClaimedRow>(sql`
    UPDATE messages m SET status = 'sending', attempts = attempts + 1, updated_at = now(),
      wa_message_id = COALESCE(wa_message_id, ${input.newMessageId}),
      status_history = status_history || jsonb_build_array(jsonb_build_object('status', 'sending', 'at', now()))
    WHERE id = (
      SELECT m.id FROM messages m JOIN sessions s ON s.id = m.session_id AND s.epoch = ${input.epoch}
      WHERE m.session_id = ${input.sessionId} AND m.status = 'queued' AND m.direction = 'out'
        AND m.broadcast_id IS NULL AND (m.send_after IS NULL OR m.send_after <= now())
      ORDER BY m.id LIMIT 1 FOR UPDATE OF m SKIP LOCKED)
    RETURNING ${CLAIMED_COLUMNS}, NULL::text AS broadcast_id, NULL::int AS delay_ms, NULL::int AS messages_per_day`)
  if (single) return claimedMessage(single)
  const [paced] = await database.rows<ClaimedRow>(sql`
    WITH candidate AS (
      -- The tenant's per-minute limit stretches the delay: a broadcast waits for the limit, never fails on it.
      SELECT m.id, b.id AS broadcast_id, b.jitter_ms, (t.limits->>'messagesPerDay')::int AS messages_per_day,
        GREATEST(b.delay_ms,
          ceil(60000.0 / NULLIF((t.limits->>'messagesPerMinutePerSession')::numeric, 0)))::int AS delay_ms
      FROM messages m
      JOIN sessions s ON s.id = m.session_id AND s.epoch = ${input.epoch}
      JOIN tenants t ON t.id = m.tenant_id AND t.status = 'active'
      JOIN broadcasts b ON b.id = m.broadcast_id AND b.status IN ('scheduled', 'running') AND b.not_before <= now()
      JOIN session_pacing p ON p.session_id = m.session_id AND p.next_send_at <= now()
      WHERE m.session_id = ${input.sessionId} AND m.status = 'queued' AND m.direction = 'out'
        AND m.broadcast_id IS NOT NULL
      ORDER BY m.broadcast_index, m.id LIMIT 1
      FOR UPDATE OF m, p SKIP LOCKED
    ), paced AS (
      UPDATE session_pacing p
      SET next_send_at = now() + (c.delay_ms + floor(random() * (c.jitter_ms + 1))) * interval '1 millisecond'
      FROM candidate c WHERE p.session_id = ${input.sessionId}
      RETURNING p.session_id
    ), started AS (
      UPDATE broadcasts b SET status = 'running', started_at = COALESCE(b.started_at, now()), updated_at = now()
      FROM candidate c WHERE b.id = c.broadcast_id AND (b.status = 'scheduled' OR b.started_at IS NULL)
      RETURNING b.id
    )
    UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, updated_at = now(),
      wa_message_id = COALESCE(m.wa_message_id, ${input.newMessageId}),
      status_history = m.status_history || jsonb_build_array(jsonb_build_object('status', 'sending', 'at', now()))
    FROM candidate c
    WHERE m.id = c.id
    RETURNING ${CLAIMED_COLUMNS}, c.broadcast_id, c.delay_ms, c.messages_per_day`)
  return paced ? claimedMessage(paced) : undefined
}

/**
 * Gives back a claimed broadcast row that may not be sent now (the tenant's daily quota is spent):
 * `queued` again, never attempted, and its broadcast held until `retryAfterMs` from now.
 */
export async function holdPacedRow(
  database: DatabaseHandle,
  input: { messageId: string; broadcastId: string; epoch: number; retryAfterMs: number },
): Promise<void> {
  await database.rows(sql`
    UPDATE messages m SET status = 'queued', attempts = m.attempts - 1, updated_at = now(),
      status_history = m.status_history || jsonb_build_array(jsonb_build_object('status', 'queued', 'at', now()))
    FROM sessions s
    WHERE m.id = ${input.messageId} AND m.status = 'sending' AND s.id = m.session_id AND s.epoch = ${input.epoch}`)
  await database.rows(sql`
    UPDATE broadcasts SET updated_at = now(),
      not_before = GREATEST(not_before, now() + ${Math.ceil(input.retryAfterMs)} * interval '1 millisecond')
    WHERE id = ${input.broadcastId}`)
}

/**
 * When the session has something to send next that is not due yet: the earliest `send_after` of a
 * scheduled single message, or, while broadcast rows wait, the later of the session's pace and the
 * earliest `not_before` of its broadcasts. In milliseconds from now by Postgres' clock (the clock
 * every claim compares with); undefined when nothing waits.
 */
export async function msUntilNextDue(
  database: DatabaseHandle,
  sessionId: string,
): Promise<number | undefined> {
  const [row] = await database.rows<{ wait_ms: number | string | null }>(sql`
    -- GREATEST(0, NULL) is 0, not null: the clamp at 0 is done below, so "nothing waits" stays null.
    SELECT EXTRACT(EPOCH FROM (LEAST(
      (SELECT min(send_after) FROM messages
        WHERE session_id = ${sessionId} AND status = 'queued' AND direction = 'out' AND broadcast_id IS NULL),
      -- GREATEST and LEAST skip nulls: with no broadcast waiting this must be null, not the pace.
      (SELECT CASE WHEN min(b.not_before) IS NOT NULL THEN GREATEST(
          (SELECT next_send_at FROM session_pacing WHERE session_id = ${sessionId}),
          min(b.not_before)) END
        FROM broadcasts b
        WHERE b.session_id = ${sessionId} AND b.status IN ('scheduled', 'running')
          AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = b.tenant_id AND t.status = 'active')
          AND EXISTS (SELECT 1 FROM messages m WHERE m.broadcast_id = b.id AND m.status = 'queued'))
    ) - now())) * 1000 AS wait_ms`)
  return row?.wait_ms === null || row?.wait_ms === undefined ? undefined : Math.max(0, Number(row.wait_ms))
}

/** A message of the session by our id (what `replyTo` and a reaction name), if it exists. */
export async function findReferencedMessage(
  database: DatabaseHandle,
  sessionId: string,
  messageId: string,
): Promise<ReferencedMessage | undefined> {
  const [row] = await database.rows<{
    wa_message_id: string | null
    chat_id: string
    direction: string
    text: string | null
    sender: string | null
  }>(
    sql`SELECT wa_message_id, chat_id, direction, text, sender FROM messages WHERE session_id = ${sessionId} AND id = ${messageId}`,
  )
  return row
    ? {
        waMessageId: row.wa_message_id,
        chatId: row.chat_id,
        fromMe: row.direction === 'out',
        text: row.text,
        sender: row.direction === 'in' ? row.sender : null,
      }
    : undefined
}

/**
 * An outbound message by the WhatsApp id it went out with, for a recipient that asks for it again
 * (a retry receipt after it could not decrypt it). Read-only, so not fenced.
 */
export async function findSentMessage(
  database: DatabaseHandle,
  sessionId: string,
  waMessageId: string,
): Promise<ClaimedMessage | undefined> {
  const [row] = await database.rows<ClaimedRow>(
    sql`SELECT ${CLAIMED_COLUMNS}, NULL AS broadcast_id, NULL AS delay_ms, NULL AS messages_per_day
        FROM messages m
        WHERE m.session_id = ${sessionId} AND m.wa_message_id = ${waMessageId} AND m.direction = 'out'
        LIMIT 1`,
  )
  return row ? claimedMessage(row) : undefined
}

/**
 * Puts messages a previous owner left in `sending` back in the queue. They are resent with the same
 * WhatsApp id, which recipients de-duplicate, so a crash between send and record never doubles a message.
 */
export async function requeueInterruptedSends(
  database: DatabaseHandle,
  sessionId: string,
  epoch: number,
): Promise<void> {
  await database.rows(sql`
    UPDATE messages m SET status = 'queued', updated_at = now()
    FROM sessions s
    WHERE m.session_id = ${sessionId} AND m.status = 'sending' AND s.id = m.session_id AND s.epoch = ${epoch}`)
}

/**
 * Keeps a sent media message as it went out (its upload's URL, path and key) on its row, fenced by the
 * owner's epoch: a recipient that asks for it again after its file's pieces were deleted is answered
 * with the same upload.
 */
export async function keepSentMedia(
  database: DatabaseHandle,
  input: { messageId: string; epoch: number; uploaded: string },
): Promise<void> {
  await database.rows(sql`
    UPDATE messages m SET content = coalesce(m.content, '{}'::jsonb) || jsonb_build_object('uploaded', ${input.uploaded}::text)
    FROM sessions s
    WHERE m.id = ${input.messageId} AND s.id = m.session_id AND s.epoch = ${input.epoch}`)
}
