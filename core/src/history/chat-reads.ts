import type { DatabaseHandle } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'

/** A received message still unread in its chat: what a read receipt names. */
export type UnreadMessage = { waMessageId: string; sender: string | null }

/**
 * The chat's unread received messages, newest first: as many of the latest inbound messages as the
 * chat's unread count says, at most `limit`.
 */
export async function unreadMessagesOf(
  database: DatabaseHandle,
  input: { sessionId: string; chatId: string; limit: number },
): Promise<UnreadMessage[]> {
  return database.rows<UnreadMessage>(sql`
    SELECT m.wa_message_id AS "waMessageId", m.sender
    FROM chats c
    CROSS JOIN LATERAL (
      SELECT wa_message_id, sender FROM messages
      WHERE session_id = c.session_id AND chat_id = c.chat_id AND direction = 'in'
        AND wa_message_id IS NOT NULL
      ORDER BY id DESC
      LIMIT LEAST(c.unread_count, ${input.limit})
    ) m
    WHERE c.session_id = ${input.sessionId} AND c.chat_id = ${input.chatId}`)
}

/**
 * Counts `read` messages of the chat as read, fenced by the owner's epoch. Subtracting rather than
 * zeroing keeps a message that arrived meanwhile unread.
 */
export async function recordChatRead(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; chatId: string; read: number },
): Promise<void> {
  if (input.read === 0) return
  await database.db.execute(sql`
    UPDATE chats SET unread_count = GREATEST(0, unread_count - ${input.read}), updated_at = now()
    WHERE session_id = ${input.sessionId} AND chat_id = ${input.chatId}
      AND EXISTS (SELECT 1 FROM sessions WHERE id = ${input.sessionId} AND epoch = ${input.epoch})`)
}
