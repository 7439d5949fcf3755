import type { Readable } from 'node:stream'
import type { ChatInfo, ContactInfo } from '@wa-cluster/core'
import type {
  InboundMessage,
  MediaMessageType,
  MediaSource,
  MessageContact,
  MessageError,
  MessageLocation,
  MessagePoll,
  MessageStatus,
} from '@wa-cluster/shared'
import type { Logger } from 'pino'
import type { PostgresAuthState } from '../auth-state/index.js'
import type { ChatActions } from './chat-actions.js'

// The seam between a session runner and WhatsApp. The runner speaks only these types; each way of
// reaching WhatsApp (Baileys' multi-device socket today) is one folder under providers/ implementing
// them. Nothing outside that folder knows which provider it talks to.

/**
 * Why a connection closed: WhatsApp Web's stream close codes (what Baileys calls DisconnectReason),
 * also the `statusCode` of the public `connection.update` event. A provider that fails differently maps
 * its failures onto these; the disconnect policy (runner/disconnect-policy.ts) decides on them.
 */
export const CloseCode = {
  /** Also "QR refs attempts ended": the QRs expired without a scan (told apart by the message). */
  timedOut: 408,
  loggedOut: 401,
  forbidden: 403,
  multideviceMismatch: 411,
  connectionClosed: 428,
  connectionReplaced: 440,
  badSession: 500,
  unavailableService: 503,
  /** The server ends the pairing socket; the same credentials log in on a new one. */
  restartRequired: 515,
} as const

/** The credentials and Signal keys a connection logs in with (Postgres-backed, fenced by the epoch). */
export type ConnectionAuth = PostgresAuthState['state']

export type ReceivedMessage = {
  /** What the tenant sees (the `messages.upsert` item). */
  message: InboundMessage
  /** A poll's `messageSecret`: votes on it are encrypted with it. Kept out of `message` (never shown). */
  pollSecret?: Buffer
  /** Where its media file is and its key, stored with the message to download it later. */
  mediaSource?: MediaSource
}

/** A status change of a message this session sent (a receipt, or the server's ack). */
export type MessageStatusUpdate = {
  waMessageId: string
  chatId: string
  status: MessageStatus
  /** Why a `failed` one failed; a failure receipt without one is `rejected_by_whatsapp`. */
  error?: MessageError
}

/**
 * A change to a message already in a chat, made by either side: its text edited, deleted for everyone,
 * a reaction put on it (`""` took one away), or a vote on a poll (the voter's whole current choice).
 */
export type MessageChange = {
  /** The changed message's WhatsApp id and chat. */
  waMessageId: string
  chatId: string
  /**
   * Who changed it: a phone-number JID when known (else the JID WhatsApp gave); `''` for this account
   * when the caller does not know its JID (the store fills in the session's phone).
   */
  by: string
  /** This account made the change (the gateway, or the account's phone). */
  byMe: boolean
} & (
  | { kind: 'edited'; text: string }
  | { kind: 'revoked' }
  | { kind: 'reaction'; emoji: string }
  | { kind: 'poll'; options: string[] }
)

/** What a connection reports, in the order it happened (see OpenConnectionInput.onEvents). */
export type ProviderEvent =
  /** The credentials changed in memory: persist them before anything else of the batch. */
  | { type: 'credentials' }
  /** A QR to scan (each refresh is a new one). */
  | { type: 'qr'; qr: string }
  /** The phone linked this device; the connection restarts to log in with the new credentials. */
  | { type: 'paired' }
  /** Logged in; `phone` is the account's number when known. */
  | { type: 'open'; phone: string | undefined }
  /** The connection is gone for good; the runner decides what comes next (see CloseCode). */
  | { type: 'close'; statusCode: number | undefined; message: string }
  | { type: 'messages'; messages: ReceivedMessage[] }
  | { type: 'statuses'; updates: MessageStatusUpdate[] }
  /** Edits, deletes for everyone, reactions and poll votes of messages already in a chat. */
  | { type: 'changes'; changes: MessageChange[] }
  /** Chats as WhatsApp describes them (history sync, chat events). */
  | { type: 'chats'; chats: ChatInfo[] }
  /** Contacts' names and LID↔phone-number mappings. */
  | { type: 'contacts'; contacts: ContactInfo[] }

/** A message already in the chat that a send refers to (quotes, reacts to). */
export type MessageReference = {
  waMessageId: string
  chatId: string
  fromMe: boolean
  text?: string
  /** In a group, the member who sent a received message (a quote or a reaction must name them). */
  participant?: string
}

/** What to send. A union by `kind`, so other kinds (image, document...) join it later. */
export type OutboundContent =
  | { kind: 'text'; text: string; quote?: MessageReference; mentions?: string[] }
  | { kind: 'location'; location: MessageLocation; quote?: MessageReference }
  | { kind: 'contacts'; contacts: MessageContact[]; quote?: MessageReference }
  /** `emoji` `""` removes the reaction. */
  | { kind: 'reaction'; target: MessageReference; emoji: string }
  /** `messageSecret` (32 bytes) is what voters encrypt their votes with: the same on every rebuild. */
  | { kind: 'poll'; poll: MessagePoll; messageSecret: Buffer; quote?: MessageReference }
  /** A new text for a message this session sent. */
  | { kind: 'edit'; target: MessageReference; text: string }
  /** Deletes a message this session sent for everyone. */
  | { kind: 'revoke'; target: MessageReference }
  | OutboundMedia

/** A media file to send: read as a stream (once per attempt), encrypted and uploaded as it is read. */
export type OutboundMedia = {
  kind: 'media'
  mediaType: MediaMessageType
  mimeType: string
  open: () => Readable
  fileName?: string
  caption?: string
  /** An audio as a push-to-talk voice note. */
  voiceNote?: boolean
  quote?: MessageReference
  /** The message as it went out (SentMedia.uploaded), once sent: a resend reuses the upload. */
  uploaded?: string
}

/** What a sent media message left to keep: the encoded message as it went out, with its upload. */
export type SentMedia = { uploaded: string }

export type OutboundMessage = {
  chatId: string
  /** The WhatsApp id the message carries (minted by `newMessageId`, stored before the first attempt). */
  messageId: string
  content: OutboundContent
}

export type OpenConnectionInput = {
  sessionId: string
  auth: ConnectionAuth
  logger: Logger
  /**
   * Receives the events in batches, in order. A batch may arrive before the previous one is handled:
   * the receiver serialises them.
   */
  onEvents: (events: ProviderEvent[]) => Promise<void>
  /**
   * Stores a received message before WhatsApp is told it arrived. WhatsApp keeps a message it got no
   * receipt for and delivers it again at the next login, so a crash before this resolves loses
   * nothing; a rejection holds the receipt back. A message stored here does not come again in a
   * `messages` event.
   */
  storeBeforeReceipt?: (message: ReceivedMessage) => Promise<void>
  /**
   * A message this session sent, by its WhatsApp id, for a recipient whose phone could not decrypt
   * it and asks for it again. The connection keeps recent sends in memory; this answers for those a
   * restart or a failover took away.
   */
  loadSentMessage?: (waMessageId: string) => Promise<OutboundMessage | undefined>
  /**
   * A poll this session sent, by its WhatsApp id: the options and the secret its votes are encrypted
   * with, so a vote can be read on whichever node owns the session now.
   */
  loadPoll?: (waMessageId: string) => Promise<StoredPoll | undefined>
}

/** A poll as stored: what reading a vote on it needs. */
export type StoredPoll = {
  options: string[]
  messageSecret: Buffer
  /** Who created it, for a poll the session received (its sender's JID); absent for its own. */
  creator?: string
}

/** `send` was refused before anything went out: the recipient's number has no WhatsApp account. */
export class RecipientNotOnWhatsApp extends Error {
  override name = 'RecipientNotOnWhatsApp'
  constructor(readonly chatId: string) {
    super(`${chatId.split('@')[0]} is not on WhatsApp`)
  }
}

/** One connection of one session to WhatsApp. It never reconnects by itself. */
export type ProviderConnection = {
  /** Asks for an 8-character code to link on `phone` instead of scanning a QR. */
  requestPairingCode(phone: string): Promise<string>
  /**
   * Resolves once WhatsApp took the message (with what to keep of a media message's upload); throws
   * when it could not be sent (RecipientNotOnWhatsApp when the number has no account).
   */
  send(message: OutboundMessage): Promise<SentMedia | undefined>
  /** A new message id in WhatsApp's format for this account (recipients de-duplicate by it). */
  newMessageId(): string
  /** Unlinks this device from the phone. */
  logout(reason: string): Promise<void>
  /** Closes the connection; resolves when the server saw it go (a frozen server may never answer). */
  close(): Promise<void>
  /** Frees what the connection holds in the process once it is closed and its writes are flushed. */
  dispose(): void
  /** Chat reads, presence, number checks and groups (chat-actions.ts). */
  actions: ChatActions
}

export type WhatsAppProvider = {
  readonly name: string
  open(input: OpenConnectionInput): ProviderConnection
}
