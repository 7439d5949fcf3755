import { phoneFromJid, type StoredMessageStatus, ValidationFailed } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { requireSession } from './sessions.js'

// A session's chats (newest activity first) and contacts, as the session's WhatsApp and its traffic
// described them.

export type ChatView = {
  chatId: string
  phone: string | null
  name: string | null
  unreadCount: number
  lastActivityAt: string | null
  lastMessage: {
    id: string
    direction: 'in' | 'out'
    type: string
    text: string | null
    status: StoredMessageStatus
  } | null
}

export type ContactView = {
  jid: string
  phone: string | null
  lid: string | null
  pushName: string | null
  savedName: string | null
}

type ChatRow = {
  chat_id: string
  name: string | null
  unread_count: number
  activity_micros: string
  phone_jid: string | null
  contact_name: string | null
  message_id: string | null
  direction: 'in' | 'out' | null
  type: string | null
  text: string | null
  status: StoredMessageStatus | null
}

/** The chat cursor: the last chat's activity (microseconds since the epoch, exact) and id. */
function encodeChatCursor(row: ChatRow): string {
  return Buffer.from(`${row.activity_micros}|${row.chat_id}`).toString('base64url')
}

function decodeChatCursor(cursor: string): { micros: string; chatId: string } {
  const [micros, chatId] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  if (!micros || !/^-?\d{1,20}$/.test(micros) || !chatId)
    throw new ValidationFailed('query.after', 'must be the nextCursor of the previous page')
  return { micros, chatId }
}

/** `628…@s.whatsapp.net` → `628…`; anything else → null. */
function phoneOf(jid: string | null): string | null {
  return phoneFromJid(jid) ?? null
}

/**
 * A page of the session's chats, newest activity first (then by chat id), with each chat's last
 * stored message and, for a chat WhatsApp named by LID, the phone number when its mapping is known.
 */
export async function listChats({
  ctx,
  tenantId,
  sessionId,
  page,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  page: { after?: string; limit: number }
}): Promise<{ data: ChatView[]; nextCursor: string | null }> {
  await requireSession(ctx, tenantId, sessionId)
  const cursor = page.after === undefined ? undefined : decodeChatCursor(page.after)
  const after = cursor
    ? sql`AND (c.last_activity_at, c.chat_id) < ('epoch'::timestamptz + ${cursor.micros}::bigint * interval '1 microsecond', ${cursor.chatId})`
    : sql``
  const rows = await ctx.database.rows<ChatRow>(sql`
    SELECT c.chat_id, c.name, c.unread_count,
      (extract(epoch FROM c.last_activity_at) * 1000000)::bigint::text AS activity_micros,
      COALESCE(CASE WHEN c.chat_id LIKE '%@s.whatsapp.net' THEN c.chat_id END, k.jid) AS phone_jid,
      COALESCE(k.saved_name, k.push_name) AS contact_name,
      m.id AS message_id, m.direction, m.type, m.text, m.status
    FROM chats c
    LEFT JOIN LATERAL (
      SELECT jid, saved_name, push_name FROM contacts
      WHERE session_id = c.session_id AND (jid = c.chat_id OR lid = c.chat_id)
      ORDER BY jid LIKE '%@s.whatsapp.net' DESC LIMIT 1
    ) k ON true
    LEFT JOIN messages m ON m.id = c.last_message_id
    WHERE c.session_id = ${sessionId} AND c.tenant_id = ${tenantId} ${after}
    ORDER BY c.last_activity_at DESC, c.chat_id DESC
    LIMIT ${page.limit + 1}`)
  const shown = rows.slice(0, page.limit)
  const last = shown.at(-1)
  return {
    data: shown.map((row) => ({
      chatId: row.chat_id,
      phone: phoneOf(row.phone_jid),
      name: row.name ?? row.contact_name,
      unreadCount: Number(row.unread_count),
      lastActivityAt:
        row.activity_micros === '0'
          ? null
          : new Date(Number(BigInt(row.activity_micros) / 1000n)).toISOString(),
      lastMessage:
        row.message_id && row.direction && row.type && row.status
          ? {
              id: row.message_id,
              direction: row.direction,
              type: row.type,
              text: row.text,
              status: row.status,
            }
          : null,
    })),
    nextCursor: rows.length > page.limit && last ? encodeChatCursor(last) : null,
  }
}

/** A page of the session's contacts in JID order, each with its phone number when known. */
export async function listContacts({
  ctx,
  tenantId,
  sessionId,
  page,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  page: { after?: string; limit: number }
}): Promise<{ data: ContactView[]; nextCursor: string | null }> {
  await requireSession(ctx, tenantId, sessionId)
  const after = page.after === undefined ? sql`` : sql`AND jid > ${page.after}`
  const rows = await ctx.database.rows<{
    jid: string
    lid: string | null
    push_name: string | null
    saved_name: string | null
  }>(sql`
    SELECT jid, lid, push_name, saved_name FROM contacts
    WHERE session_id = ${sessionId} AND tenant_id = ${tenantId} ${after}
    ORDER BY jid LIMIT ${page.limit + 1}`)
  const shown = rows.slice(0, page.limit)
  return {
    data: shown.map((row) => ({
      jid: row.jid,
      phone: phoneOf(row.jid),
      lid: row.lid ?? (row.jid.endsWith('@lid') ? row.jid : null),
      pushName: row.push_name,
      savedName: row.saved_name,
    })),
    nextCursor: rows.length > page.limit ? (shown.at(-1)?.jid ?? null) : null,
  }
}
