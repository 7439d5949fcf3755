import {
  type AppendResult,
  appendAndClaimEvents,
  appendAndClaimEventsInTransaction,
  appendEvents,
  metadataField,
  moveChatsForSent,
  type NewEvent,
  type ReceivedMessageRow,
} from '@wa-cluster/core'
import { type DatabaseHandle, resultRows, runStatement } from '@wa-cluster/db'
import {
  type InboundMessage,
  type MediaSource,
  type MessagesUpdateData,
  messageError,
  newId,
  phoneFromJid,
} from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { MessageStatusUpdate } from '../providers/provider.js'

// What a runner records about messages: received ones as `messages.upsert`, status changes of sent
// ones on their row and as `messages.update`. Every write is fenced by the owner's epoch.

/**
 * The chat a received message belongs to in the history: a one-to-one chat WhatsApp addressed by LID
 * is filed under the sender's phone-number JID when WhatsApp gave it, so it is the same chat our sends
 * to that number are in.
 */
export function historyChatId(message: InboundMessage): string {
  if (message.chatId.endsWith('@lid') && !message.fromMe) {
    const phone = phoneFromJid(message.from)
    if (phone) return `${phone}@s.whatsapp.net`
  }
  return message.chatId
}

let lastReceivedMessageId = ''

/**
 * A message id greater than every one this process minted before: ids of one millisecond differ only
 * in their random part, and the history lists newest first by id, so messages received in the same
 * millisecond must still sort in the order they arrived (`…0` sorts right after its prefix).
 */
function nextReceivedMessageId(): string {
  const id = newId('msg')
  lastReceivedMessageId = id > lastReceivedMessageId ? id : `${lastReceivedMessageId}0`
  return lastReceivedMessageId
}

/** What a received message's row keeps and its event never shows. */
export type RowOnly = {
  /** Where its media file is and its key. */
  mediaSource?: MediaSource
  /** A poll's `messageSecret`, which votes on it are encrypted with. */
  pollSecret?: Buffer
}

/** The fields of a received message its row keeps in `content` (the rest are columns). */
const CONTENT_FIELDS = [
  'location',
  'contacts',
  'reaction',
  'poll',
  'replyTo',
  'replyToWaMessageId',
  'mentions',
  'media',
  'caption',
  'voiceNote',
] as const satisfies readonly (keyof InboundMessage)[]

/**
 * The history rows of received messages: one each, except our own (`fromMe`: sent by this gateway,
 * whose rows exist already, or from the phone itself). `rowOnly` by WhatsApp id.
 */
export function receivedMessageRows(
  messages: InboundMessage[],
  rowOnly?: ReadonlyMap<string, RowOnly>,
): ReceivedMessageRow[] {
  const received = messages.filter((message) => !message.fromMe && message.waMessageId)
  return received.map((message) => {
    const { mediaSource, pollSecret } = rowOnly?.get(message.waMessageId) ?? {}
    const content: Record<string, unknown> = Object.fromEntries(
      CONTENT_FIELDS.map((field) => [field, message[field]]),
    )
    if (message.poll && pollSecret) content.pollSecret = pollSecret.toString('base64')
    const present = Object.fromEntries(Object.entries(content).filter(([, value]) => value !== undefined))
    return {
      id: nextReceivedMessageId(),
      chatId: historyChatId(message),
      waMessageId: message.waMessageId,
      type: message.type,
      text: message.text ?? null,
      content: Object.keys(present).length > 0 ? present : null,
      sender: message.from,
      senderName: message.pushName ?? null,
      waTimestamp: message.timestamp,
      ...(mediaSource ? { mediaSource } : {}),
    }
  })
}

/**
 * Appends one `messages.upsert` event (fenced by epoch) and, in the same statement, the history rows
 * of the received messages (see receivedMessageRows). With `claimLeaseMs` the append claims the event
 * for the caller's dispatcher when nothing of the session is pending before it (see appendAndClaimEvents).
 */
export async function recordInboundMessages(
  database: DatabaseHandle,
  input: {
    sessionId: string
    epoch: number
    messages: InboundMessage[]
    claimLeaseMs?: number
    /** What the rows keep and the event never shows, by WhatsApp id. */
    rowOnly?: ReadonlyMap<string, RowOnly>
  },
): Promise<AppendResult> {
  const messages = await withReplyIds(database, input.sessionId, input.messages)
  const target = {
    sessionId: input.sessionId,
    epoch: input.epoch,
    events: [{ type: 'messages.upsert' as const, data: { messages } }],
    received: receivedMessageRows(messages, input.rowOnly),
  }
  return appendAndClaimEvents(database, target, input.claimLeaseMs)
}

/**
 * The messages with `replyTo` set to our id of the message each quotes, when the session stored it
 * (sent through the gateway or received by it); one look-up for all the quotes of a batch.
 */
async function withReplyIds(
  database: DatabaseHandle,
  sessionId: string,
  messages: InboundMessage[],
): Promise<InboundMessage[]> {
  const quoted = [...new Set(messages.flatMap((message) => message.replyToWaMessageId ?? []))]
  if (quoted.length === 0) return messages
  const rows = await database.rows<{ id: string; wa_message_id: string }>(sql`
    SELECT DISTINCT ON (wa_message_id) id, wa_message_id FROM messages
    WHERE session_id = ${sessionId} AND wa_message_id IN (${sql.join(
      quoted.map((waMessageId) => sql`${waMessageId}`),
      sql`, `,
    )})
    ORDER BY wa_message_id, id`)
  const ours = new Map(rows.map((row) => [row.wa_message_id, row.id]))
  return messages.map((message) => {
    const id = message.replyToWaMessageId && ours.get(message.replyToWaMessageId)
    return id ? { ...message, replyTo: id } : message
  })
}

/**
 * Whether a received message has its event already (WhatsApp delivers again what it saw no receipt
 * for): a fixed statement, prepared once per connection, since it runs before every receipt.
 * $1 session, $2 WhatsApp id, $3 chat.
 */
const STORED_ALREADY = `
  SELECT id FROM events
  WHERE session_id = $1::text AND type = 'messages.upsert'
    AND (data -> 'messages' -> 0 ->> 'waMessageId') = $2::text
    AND (data -> 'messages' -> 0 ->> 'chatId') = $3::text
  LIMIT 1`

/**
 * Stores one message received from WhatsApp as its own `messages.upsert` event, unless this session
 * already stored it (WhatsApp delivers a message again when the receipt did not go out): the same
 * message never becomes two events. Returns undefined for a repeat.
 */
export async function recordReceivedMessageOnce(
  database: DatabaseHandle,
  input: {
    sessionId: string
    epoch: number
    message: InboundMessage
    claimLeaseMs?: number
    rowOnly?: RowOnly
  },
): Promise<AppendResult | undefined> {
  const [stored] = await runStatement<{ id: string }>(database, STORED_ALREADY, [
    input.sessionId,
    input.message.waMessageId,
    input.message.chatId,
  ])
  if (stored) return undefined
  const { rowOnly, ...rest } = input
  return recordInboundMessages(database, {
    ...rest,
    messages: [input.message],
    ...(rowOnly ? { rowOnly: new Map([[input.message.waMessageId, rowOnly]]) } : {}),
  })
}

const STATUS_RANK = sql`CASE status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 5 ELSE 6 END`

/**
 * Moves outbound messages forward (never backwards: a late `delivered` after `read` is ignored) and
 * appends one `messages.update` event for the updates that changed something, in one transaction.
 * With `claimLeaseMs` the append claims the event for the caller's dispatcher like an inbound message
 * (the fast path); undefined when nothing changed.
 */
export async function recordStatusUpdates(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; updates: MessageStatusUpdate[]; claimLeaseMs?: number },
): Promise<AppendResult | undefined> {
  if (input.updates.length === 0) return undefined
  return database.db.transaction(async (tx) => {
    const changed: MessagesUpdateData['updates'] = []
    const wentOut: string[] = []
    for (const update of input.updates) {
      const rank = ['queued', 'sending', 'sent', 'delivered', 'read', 'played', 'failed'].indexOf(
        update.status,
      )
      const error =
        update.status === 'failed' ? (update.error ?? messageError('rejected_by_whatsapp')) : undefined
      const [row] = resultRows<{ id: string; metadata: unknown; was_unsent: boolean }>(
        await tx.execute(sql`
          UPDATE messages m SET status = ${update.status}, error = COALESCE(${error?.message ?? null}, m.error),
            error_code = COALESCE(${error?.code ?? null}, m.error_code),
            status_history = m.status_history || jsonb_build_array(jsonb_build_object('status', ${update.status}::text, 'at', now())),
            updated_at = now()
          FROM (SELECT id, status IN ('queued', 'sending') AS was_unsent FROM messages
            WHERE session_id = ${input.sessionId} AND wa_message_id = ${update.waMessageId} AND direction = 'out'
              AND ${STATUS_RANK} < ${rank}
            FOR UPDATE) previous
          WHERE m.id = previous.id
          RETURNING m.id, m.metadata, previous.was_unsent`),
      )
      // The first sign it went out (usually `sent`; a receipt can overtake it) moves its chat.
      if (row?.was_unsent && update.status !== 'failed') wentOut.push(row.id)
      if (row)
        changed.push({
          id: row.id,
          waMessageId: update.waMessageId,
          chatId: update.chatId,
          status: update.status,
          ...metadataField(row.metadata),
          ...(error ? { error } : {}),
        })
    }
    await moveChatsForSent(tx, { sessionId: input.sessionId, messageIds: wentOut })
    if (changed.length === 0) return undefined
    const target = {
      sessionId: input.sessionId,
      epoch: input.epoch,
      events: [{ type: 'messages.update', data: { updates: changed } } satisfies NewEvent<'messages.update'>],
    }
    if (input.claimLeaseMs !== undefined)
      return appendAndClaimEventsInTransaction(tx, target, input.claimLeaseMs)
    const envelopes = await appendEvents(tx, target)
    return { envelopes, claimed: [], unclaimed: true }
  })
}
