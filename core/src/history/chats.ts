import { type DatabaseHandle, runStatement } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'
import type { SqlExecutor } from '../events/outbox.js'

// A session's chats (`chats`), as WhatsApp describes them. Received messages move their chat in the
// statement that stores them (the outbox append); sent ones in the transaction that records `sent`.

/** What WhatsApp told about a chat; an absent field leaves the stored value alone. */
export type ChatInfo = {
  chatId: string
  name?: string
  /**
   * The chat's unread count as WhatsApp states it (history sync, marked read on the phone). Counts
   * that only follow the live traffic are ours to keep: the messages move them.
   */
  unreadCount?: number
  /** Unix seconds of the chat's last message. */
  lastActivityAt?: number
}

/**
 * recordChats' upsert as one fixed statement (prepared once per connection: chat events come with much
 * of a session's traffic). $1 session, $2 epoch, $3 the chats (JSON).
 * Update what exists, insert the rest: an absent unread count must leave the stored one alone, which an
 * upsert cannot tell from a given one. A runner's writes go one at a time, so nothing inserts the same
 * chat in between (DO NOTHING covers a chat the API path touched meanwhile).
 */
const RECORD_CHATS = `
  WITH session AS (
    SELECT tenant_id FROM sessions WHERE id = $1::text AND epoch = $2::bigint
  ), input AS (
    -- A chat WhatsApp named by LID goes under the phone number its contact is mapped to.
    SELECT COALESCE((SELECT k.jid FROM contacts k WHERE k.session_id = $1::text
        AND k.lid = r.chat_id AND k.jid LIKE '%@s.whatsapp.net' LIMIT 1), r.chat_id) AS chat_id,
      r.name, r.unread_count, r.last_activity_at
    FROM session CROSS JOIN jsonb_to_recordset($3::text::jsonb)
      AS r (chat_id text, name text, unread_count int, last_activity_at double precision)
  ), updated AS (
    UPDATE chats c SET name = COALESCE(i.name, c.name),
      unread_count = COALESCE(i.unread_count, c.unread_count),
      last_activity_at = GREATEST(c.last_activity_at, to_timestamp(i.last_activity_at)),
      updated_at = now()
    FROM input i WHERE c.session_id = $1::text AND c.chat_id = i.chat_id
    RETURNING c.chat_id
  ), inserted AS (
    INSERT INTO chats (session_id, tenant_id, chat_id, name, unread_count, last_activity_at)
    SELECT $1::text, session.tenant_id, i.chat_id, i.name, COALESCE(i.unread_count, 0),
      COALESCE(to_timestamp(i.last_activity_at), 'epoch')
    FROM input i CROSS JOIN session WHERE i.chat_id NOT IN (SELECT chat_id FROM updated)
    ON CONFLICT (session_id, chat_id) DO NOTHING
    RETURNING chat_id
  )
  SELECT chat_id FROM updated UNION ALL SELECT chat_id FROM inserted`

/**
 * Upserts chats a session's WhatsApp described (history sync, chat events), fenced by the owner's
 * epoch: the last activity only moves forward, a name or an unread count replaces the stored one.
 * Returns how many rows it wrote (0 when the epoch is stale).
 */
export async function recordChats(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; chats: ChatInfo[] },
): Promise<number> {
  // One row per chat: Postgres refuses to upsert the same row twice in a statement.
  const byId = new Map<string, ChatInfo>()
  for (const chat of input.chats) byId.set(chat.chatId, { ...byId.get(chat.chatId), ...chat })
  if (byId.size === 0) return 0
  const rows = [...byId.values()].map((chat) => ({
    chat_id: chat.chatId,
    name: chat.name ?? null,
    unread_count: chat.unreadCount ?? null,
    last_activity_at: chat.lastActivityAt ?? null,
  }))
  const written = await runStatement<{ chat_id: string }>(database, RECORD_CHATS, [
    input.sessionId,
    input.epoch,
    JSON.stringify(rows),
  ])
  return written.length
}

/**
 * Moves the chats of messages that were just sent: each becomes its chat's last message, and the
 * chat counts as read (WhatsApp marks a chat read when the account writes in it). Runs in the
 * caller's transaction, the one that records `sent`.
 */
export async function moveChatsForSent(
  tx: SqlExecutor,
  input: { sessionId: string; messageIds: string[] },
): Promise<void> {
  if (input.messageIds.length === 0) return
  await tx.execute(sql`
    INSERT INTO chats AS c (session_id, tenant_id, chat_id, unread_count, last_message_id, last_activity_at)
    SELECT session_id, min(tenant_id), chat_id, 0, max(id), now()
    FROM messages WHERE session_id = ${input.sessionId} AND id IN ${input.messageIds}
    GROUP BY session_id, chat_id
    ON CONFLICT (session_id, chat_id) DO UPDATE SET unread_count = 0,
      last_message_id = EXCLUDED.last_message_id,
      last_activity_at = GREATEST(c.last_activity_at, EXCLUDED.last_activity_at), updated_at = now()`)
}
