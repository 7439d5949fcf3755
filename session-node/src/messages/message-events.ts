import { type AppendResult, appendAndClaimEvents, appendEvent, appendEvents } from '@wa-cluster/core'
import { type DatabaseHandle, resultRows } from '@wa-cluster/db'
import type { InboundMessage, MessageStatus } from '@wa-cluster/shared'
import { getContentType, normalizeMessageContent, proto, type WAMessage } from '@whiskeysockets/baileys'
import { sql } from 'drizzle-orm'

/** Content types that are protocol plumbing, not something a tenant reads. */
const PLUMBING = new Set(['protocolMessage', 'senderKeyDistributionMessage', 'messageContextInfo'])

/** Maps a Baileys message to the public `messages.upsert` item; undefined for protocol plumbing. */
export function toInboundMessage(message: WAMessage, ownJid: string | undefined): InboundMessage | undefined {
  const content = normalizeMessageContent(message.message)
  const contentType = getContentType(content ?? undefined)
  if (!content || !contentType || PLUMBING.has(contentType)) return undefined
  const key = message.key
  const chatId = key.remoteJid ?? ''
  // Baileys 7 gives the phone-number form in the *Alt fields when the chat is addressed by LID.
  const pnOf = (...jids: (string | null | undefined)[]) =>
    jids.find((jid) => jid?.endsWith('@s.whatsapp.net'))
  const from = key.fromMe
    ? (ownJid ?? '')
    : (pnOf(key.participant, key.participantAlt, key.remoteJid, key.remoteJidAlt) ??
      key.participant ??
      chatId)
  const text =
    content.conversation ??
    content.extendedTextMessage?.text ??
    content.imageMessage?.caption ??
    content.videoMessage?.caption ??
    content.documentMessage?.caption ??
    undefined
  const item: InboundMessage = {
    id: key.id ?? '',
    chatId,
    from,
    fromMe: !!key.fromMe,
    timestamp: Number(message.messageTimestamp ?? Math.floor(Date.now() / 1000)),
    type:
      contentType === 'conversation' || contentType === 'extendedTextMessage'
        ? 'text'
        : contentType.replace(/Message$/, ''),
  }
  if (message.pushName) item.pushName = message.pushName
  if (text !== undefined && text !== null) item.text = text
  return item
}

/** Baileys' numeric receipt status → the public message status; undefined for `pending`. */
export function toMessageStatus(
  status: proto.WebMessageInfo.Status | number | null | undefined,
): MessageStatus | undefined {
  switch (status) {
    case proto.WebMessageInfo.Status.ERROR:
      return 'failed'
    case proto.WebMessageInfo.Status.SERVER_ACK:
      return 'sent'
    case proto.WebMessageInfo.Status.DELIVERY_ACK:
      return 'delivered'
    case proto.WebMessageInfo.Status.READ:
      return 'read'
    case proto.WebMessageInfo.Status.PLAYED:
      return 'played'
    default:
      return undefined
  }
}

/**
 * Appends one `messages.upsert` event (fenced by epoch). With `claimLeaseMs` the append claims the event
 * for the caller's dispatcher when nothing of the session is pending before it (see appendAndClaimEvents).
 */
export async function recordInboundMessages(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; messages: InboundMessage[]; claimLeaseMs?: number },
): Promise<AppendResult> {
  const target = {
    sessionId: input.sessionId,
    epoch: input.epoch,
    events: [{ type: 'messages.upsert' as const, data: { messages: input.messages } }],
  }
  if (input.claimLeaseMs !== undefined) return appendAndClaimEvents(database, target, input.claimLeaseMs)
  const envelopes = await appendEvents(database.db, target)
  return { envelopes, claimed: [], unclaimed: true }
}

const STATUS_RANK = sql`CASE status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 5 ELSE 6 END`

export type StatusUpdate = { waMessageId: string; chatId: string; status: MessageStatus; error?: string }

/**
 * Moves outbound messages forward (never backwards: a late `delivered` after `read` is ignored) and
 * appends one `messages.update` event for the updates that changed something, in one transaction.
 */
export async function recordStatusUpdates(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; updates: StatusUpdate[] },
) {
  if (input.updates.length === 0) return undefined
  return database.db.transaction(async (tx) => {
    const changed: { id: string; waMessageId: string; chatId: string; status: MessageStatus }[] = []
    for (const update of input.updates) {
      const rank = ['queued', 'sending', 'sent', 'delivered', 'read', 'played', 'failed'].indexOf(
        update.status,
      )
      const [row] = resultRows<{ id: string }>(
        await tx.execute(sql`
          UPDATE messages SET status = ${update.status}, error = COALESCE(${update.error ?? null}, error),
            status_history = status_history || jsonb_build_array(jsonb_build_object('status', ${update.status}::text, 'at', now())),
            updated_at = now()
          WHERE session_id = ${input.sessionId} AND wa_message_id = ${update.waMessageId} AND direction = 'out'
            AND ${STATUS_RANK} < ${rank}
          RETURNING id`),
      )
      if (row)
        changed.push({
          id: row.id,
          waMessageId: update.waMessageId,
          chatId: update.chatId,
          status: update.status,
        })
    }
    if (changed.length === 0) return undefined
    return appendEvent(tx, {
      sessionId: input.sessionId,
      type: 'messages.update',
      data: { updates: changed },
      epoch: input.epoch,
    })
  })
}

export type ClaimedMessage = { id: string; chatId: string; text: string; waMessageId: string }

/** Takes the next queued outbound message of a session, if this owner's epoch is current. */
export async function claimNextOutbound(
  database: DatabaseHandle,
  sessionId: string,
  epoch: number,
): Promise<ClaimedMessage | undefined> {
  const [row] = await database.rows<{ id: string; chat_id: string; text: string; wa_message_id: string }>(sql`
    UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = now(),
      status_history = status_history || jsonb_build_array(jsonb_build_object('status', 'sending', 'at', now()))
    WHERE id = (
      SELECT m.id FROM messages m JOIN sessions s ON s.id = m.session_id AND s.epoch = ${epoch}
      WHERE m.session_id = ${sessionId} AND m.status = 'queued' AND m.direction = 'out'
      ORDER BY m.id LIMIT 1 FOR UPDATE OF m SKIP LOCKED)
    RETURNING id, chat_id, text, wa_message_id`)
  return row ? { id: row.id, chatId: row.chat_id, text: row.text, waMessageId: row.wa_message_id } : undefined
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
