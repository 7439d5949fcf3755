import type { MessageMedia } from './media.js'
import type { MessageError } from './message-errors.js'
import type { SessionState } from './states.js'

/** Event types delivered to webhooks and listed by `GET /v1/events`. */
export const EVENT_TYPES = [
  'connection.update',
  'messages.upsert',
  'messages.update',
  'broadcast.progress',
  'broadcast.completed',
] as const
export type EventType = (typeof EVENT_TYPES)[number]

export const MESSAGE_STATUSES = [
  'queued',
  'sending',
  'sent',
  'delivered',
  'read',
  'played',
  'failed',
] as const
export type MessageStatus = (typeof MESSAGE_STATUSES)[number]

/** The status of a stored message: an outbound one's MessageStatus, or `received` for an inbound one. */
export const STORED_MESSAGE_STATUSES = [...MESSAGE_STATUSES, 'received'] as const
export type StoredMessageStatus = (typeof STORED_MESSAGE_STATUSES)[number]

export type ConnectionUpdateData = {
  state: SessionState
  previousState: SessionState
  reason?: string
  /** Baileys' close code when the state change came from a closed socket. */
  statusCode?: number
  qr?: string
  qrImage?: string
  qrExpiresAt?: string
  pairingCode?: string
  phone?: string
}

export type MessageLocation = { latitude: number; longitude: number; name?: string; address?: string }
export type MessageContact = { name: string; phone: string }
export type MessageReaction = { messageId: string; emoji: string }
/** A poll as sent or received: `selectableCount` is how many options a voter may pick (0 = any number). */
export type MessagePoll = { question: string; options: string[]; selectableCount: number }
/** One option of a poll and the phones (digits with the country code) that voted for it. */
export type PollOptionVotes = { option: string; voters: string[] }
/** Who reacted to a message with what (`from` is a phone, digits with the country code). */
export type MessageReactionBy = { from: string; emoji: string }
/** What changed on a message that already exists (a `messages.update` item with `change`). */
export const MESSAGE_CHANGES = ['edited', 'revoked', 'reaction', 'poll'] as const
export type MessageChangeKind = (typeof MESSAGE_CHANGES)[number]

export type InboundMessage = {
  id: string
  /** WhatsApp's id of the message (the same as `id` until the message is matched to a stored one). */
  waMessageId: string
  chatId: string
  from: string
  fromMe: boolean
  timestamp: number
  pushName?: string
  type: string
  text?: string
  location?: MessageLocation
  contacts?: MessageContact[]
  reaction?: MessageReaction
  /** When `type` is `poll`: its question and options. */
  poll?: MessagePoll
  /** Our id (`msg_…`) of the message this one quotes, when this session stored it. */
  replyTo?: string
  /** The WhatsApp id of the message this one quotes (always there when it quotes one). */
  replyToWaMessageId?: string
  /** Phones mentioned in the text. */
  mentions?: string[]
  /** A media message's file (`GET …/messages/{id}/media` gives its bytes). */
  media?: MessageMedia
  /** An image, video or document's caption (also in `text`). */
  caption?: string
  /** An audio that is a push-to-talk voice note. */
  voiceNote?: boolean
}

export type MessagesUpsertData = { messages: InboundMessage[] }
export type MessagesUpdateData = {
  updates: {
    id: string
    waMessageId?: string
    chatId: string
    /** A status change; with `change`, the message's current status (`received` for an inbound one). */
    status: StoredMessageStatus
    /** The `metadata` the send gave, so a receiver can match the update without a lookup. */
    metadata?: Record<string, string>
    /** Only on `failed`: why (a stable code from MESSAGE_ERROR_CODES and a message). */
    error?: MessageError
    /** Present when the message itself changed (not its status): what changed. */
    change?: MessageChangeKind
    /** The phone (digits with the country code) that made the change, when known. */
    by?: string
    /** The change was made by this session's account (the gateway or its phone). */
    byMe?: boolean
    /** `edited`: the new text. */
    text?: string
    /** `revoked`: deleted for everyone. */
    revoked?: true
    /** `reaction`: every reaction the message has now. */
    reactions?: MessageReactionBy[]
    /** `poll`: the tally of every option. */
    poll?: { votes: PollOptionVotes[] }
  }[]
}

export const BROADCAST_STATUSES = ['scheduled', 'running', 'paused', 'completed', 'cancelled'] as const
export type BroadcastStatus = (typeof BROADCAST_STATUSES)[number]

/**
 * Where a broadcast stands. The counts are cumulative: `sent` counts every recipient that reached
 * sent or beyond, `delivered` those delivered or read, `read` those read. `queued` is what is still
 * to go; `failed` includes recipients left unsent by a cancel (`cancelled` counts those).
 */
export type BroadcastCounts = MessageOutcomeCounts & { cancelled: number }

/** Outbound messages by how far they got: `sent` includes `delivered`, which includes `read`. */
export type MessageOutcomeCounts = {
  total: number
  queued: number
  sent: number
  delivered: number
  read: number
  failed: number
}

export type BroadcastProgressData = {
  broadcastId: string
  status: BroadcastStatus
  total: number
  queued: number
  sent: number
  delivered: number
  read: number
  failed: number
  cancelled: number
}
export type BroadcastCompletedData = {
  broadcastId: string
  status: BroadcastStatus
  total: number
  queued: number
  sent: number
  delivered: number
  read: number
  failed: number
  cancelled: number
  finishedAt: string
}

/**
 * What the outbox adds to the data of every event of a session that has an `externalId` (the tenant's
 * own key for it), as it was when the event was written.
 */
export type SessionEventFields = { externalId?: string }
type WithSessionFields<T> = { [K in keyof (T & SessionEventFields)]: (T & SessionEventFields)[K] }

export type EventData = {
  'connection.update': WithSessionFields<ConnectionUpdateData>
  'messages.upsert': WithSessionFields<MessagesUpsertData>
  'messages.update': WithSessionFields<MessagesUpdateData>
  'broadcast.progress': WithSessionFields<BroadcastProgressData>
  'broadcast.completed': WithSessionFields<BroadcastCompletedData>
}

/** The envelope every webhook body and every `GET /v1/events` item has. */
export type EventEnvelope<T extends EventType = EventType> = {
  id: string
  type: T
  tenantId: string
  sessionId: string
  seq: number
  occurredAt: string
  data: EventData[T]
}
