import type {
  MediaSource,
  MessageContact,
  MessageLocation,
  MessageMedia,
  MessagePoll,
  MessageReaction,
  MessageReactionBy,
  StoredMessageStatus,
} from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core'
import { broadcasts } from './broadcasts.js'
import { sessions } from './sessions.js'

/** The fields of a message beyond its text, stored as sent. */
export type MessageContent = {
  location?: MessageLocation
  contacts?: MessageContact[]
  reaction?: MessageReaction
  replyTo?: string
  /** A received message's quote as WhatsApp names it (`replyTo` is ours, when the quoted one is stored). */
  replyToWaMessageId?: string
  mentions?: string[]
  poll?: MessagePoll
  /**
   * A poll's `messageSecret` (base64, 32 bytes): votes are encrypted with it, so it is kept for as long
   * as the row to rebuild the poll for WhatsApp and decrypt its votes on any node. Never shown.
   */
  pollSecret?: string
  /** A poll's current votes: each voter's phone (digits) → the options they picked. */
  pollVotes?: Record<string, string[]>
  /** An `edit` or `revoke` row: our id of the message it changes. */
  target?: string
  /** The text was edited (the row's `text` is the latest). */
  edited?: true
  /** Deleted for everyone (the row's `text` is cleared). */
  revoked?: true
  /** Reactions others (or this account) put on the message, one per phone. */
  reactions?: MessageReactionBy[]
  /** A media message's file (never its bytes). */
  media?: MessageMedia
  /** An image, video or document's caption. */
  caption?: string
  /** An audio sent as a push-to-talk voice note. */
  voiceNote?: boolean
  /**
   * A sent media message as it went out (base64 of the encoded message: the uploaded file's URL, path
   * and key), so a recipient that asks for it again is answered after its file's pieces are gone.
   * Never shown.
   */
  uploaded?: string
  /**
   * The key its file is stored under when that is not the message's own id: a broadcast stores each
   * file once (`<broadcast id>/<n>`) for all the recipients that send it. Never shown.
   */
  mediaFile?: string
}

/**
 * Outbound and inbound messages. An outbound row is stored with its idempotency key before it is
 * sent, so a retry never produces a second message; the owner gives it its WhatsApp id when it first
 * claims it, so a resend after a crash carries the same id. An inbound row (`received`) is written by
 * the statement that appends its `messages.upsert` event, so the two commit together.
 */
export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    direction: text('direction').$type<'in' | 'out'>().notNull(),
    idempotencyKey: text('idempotency_key'),
    /** Hash of the request body the idempotency key was first used with. */
    requestHash: text('request_hash'),
    chatId: text('chat_id').notNull(),
    /** Null while queued and never claimed; set by the owner's claim, before the first attempt. */
    waMessageId: text('wa_message_id'),
    type: text('type').notNull().default('text'),
    text: text('text'),
    /**
     * The kind's fields as the client sent them (`location`, `contacts`, `reaction`, `replyTo`,
     * `mentions`); null for a plain text.
     */
    content: jsonb('content').$type<MessageContent>(),
    status: text('status').$type<StoredMessageStatus>().notNull(),
    statusHistory: jsonb('status_history')
      .$type<{ status: StoredMessageStatus; at: string }[]>()
      .notNull()
      .default([]),
    /** Why a failed message failed, for people; the stable reason is `error_code`. */
    error: text('error'),
    /** The stable reason of a failure (MESSAGE_ERROR_CODES in @wa-cluster/shared); null unless failed. */
    errorCode: text('error_code'),
    attempts: bigint('attempts', { mode: 'number' }).notNull().default(0),
    /** A scheduled message: the owner does not claim it before this (`sendAt`); null = at once. */
    sendAfter: timestamp('send_after', { withTimezone: true }),
    /** The broadcast this row is a recipient of; its rows are sent at the session's pace. */
    broadcastId: text('broadcast_id').references(() => broadcasts.id, { onDelete: 'cascade' }),
    /** The recipient's position in its broadcast (the order rows are sent in). */
    broadcastIndex: integer('broadcast_index'),
    /** The recipient's `metadata`, as the client sent it, shown back in the broadcast's recipients. */
    metadata: jsonb('metadata').$type<Record<string, unknown>>(),
    /** Inbound: the sender's JID (the phone-number form when WhatsApp gave one). */
    sender: text('sender'),
    /** Inbound: the name the sender set on WhatsApp. */
    senderName: text('sender_name'),
    /** Inbound: when WhatsApp says the message was sent. */
    waTimestamp: timestamp('wa_timestamp', { withTimezone: true }),
    /** A received media message: where its encrypted file is and its key (downloaded on demand). */
    mediaSource: jsonb('media_source').$type<MediaSource>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('messages_idempotency_idx').on(table.sessionId, table.idempotencyKey),
    index('messages_wa_id_idx').on(table.sessionId, table.waMessageId),
    index('messages_queue_idx').on(table.status, table.sessionId),
    index('messages_broadcast_idx').on(table.broadcastId, table.broadcastIndex),
    // A received message delivered again (its receipt was lost) must not become a second row.
    uniqueIndex('messages_inbound_idx')
      .on(table.sessionId, table.chatId, table.waMessageId)
      .where(sql`direction = 'in'`),
    // History reads: newest first by id (ids are time-sortable), per tenant, session or chat.
    index('messages_tenant_history_idx').on(table.tenantId, table.id),
    index('messages_session_history_idx').on(table.sessionId, table.id),
    index('messages_chat_history_idx').on(table.tenantId, table.chatId, table.id),
    index('messages_metadata_idx').using('gin', sql`${table.metadata} jsonb_path_ops`),
  ],
)
