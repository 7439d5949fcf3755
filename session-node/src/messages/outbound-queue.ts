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
}

export type ClaimedMessage = {
  id: string
  chatId: string
  type: string
  text: string | null
  content: MessageContent | null
  waMessageId: string
}

/**
 * Takes the next queued outbound message of a session, if this owner's epoch is current, and gives it
 * its WhatsApp id in the same statement: `newMessageId` unless the row already has one (a resend after
 * a crash keeps the id it was first sent with, which recipients de-duplicate).
 */
export async function claimNextOutbound(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; newMessageId: string },
): Promise<ClaimedMessage | undefined> {
  const [row] = await database.rows<{
    id: string
    chat_id: string
    type: string
    text: string | null
    content: MessageContent | null
    wa_message_id: string
  }>(sql`
    UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = now(),
      wa_message_id = COALESCE(wa_message_id, ${input.newMessageId}),
      status_history = status_history || jsonb_build_array(jsonb_build_object('status', 'sending', 'at', now()))
    WHERE id = (
      SELECT m.id FROM messages m JOIN sessions s ON s.id = m.session_id AND s.epoch = ${input.epoch}
      WHERE m.session_id = ${input.sessionId} AND m.status = 'queued' AND m.direction = 'out'
      ORDER BY m.id LIMIT 1 FOR UPDATE OF m SKIP LOCKED)
    RETURNING id, chat_id, type, text, content, wa_message_id`)
  return row
    ? {
        id: row.id,
        chatId: row.chat_id,
        type: row.type,
        text: row.text,
        content: row.content,
        waMessageId: row.wa_message_id,
      }
    : undefined
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
  }>(
    sql`SELECT wa_message_id, chat_id, direction, text FROM messages WHERE session_id = ${sessionId} AND id = ${messageId}`,
  )
  return row
    ? { waMessageId: row.wa_message_id, chatId: row.chat_id, fromMe: row.direction === 'out', text: row.text }
    : undefined
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
