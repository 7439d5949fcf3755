import type { ChatInfo, ContactInfo } from '@wa-cluster/core'
import {
  type InboundMessage,
  type MediaSource,
  type MessageContact,
  type MessageStatus,
  phoneFromJid,
} from '@wa-cluster/shared'
import {
  type BaileysEventMap,
  type Chat,
  type Contact,
  getContentType,
  jidNormalizedUser,
  normalizeMessageContent,
  proto,
  type WAMessage,
  type WAMessageKey,
  WAMessageStubType,
} from '@whiskeysockets/baileys'
import type { MessageChange, MessageStatusUpdate, ProviderEvent, ReceivedMessage } from '../provider.js'

// Baileys' events → the provider events a runner understands.

/** Content types that are protocol plumbing, not something a tenant reads. */
const PLUMBING = new Set(['protocolMessage', 'senderKeyDistributionMessage', 'messageContextInfo'])

/** Content types that change an earlier message: reported as `messages.update`, never as a message. */
const CHANGES = new Set(['pollUpdateMessage'])

/** Content types of a poll (v3 is single choice, v2 an announcement group's). */
const POLLS = ['pollCreationMessage', 'pollCreationMessageV2', 'pollCreationMessageV3'] as const

/** Content types of a media message (its file is downloaded on demand from where `mediaSourceOf` says). */
const MEDIA = new Set(['imageMessage', 'videoMessage', 'audioMessage', 'documentMessage', 'stickerMessage'])

/** Maps a Baileys message to the public `messages.upsert` item; undefined for protocol plumbing. */
export function toInboundMessage(message: WAMessage, ownJid: string | undefined): InboundMessage | undefined {
  const content = normalizeMessageContent(message.message)
  const contentType = getContentType(content ?? undefined)
  if (!content || !contentType || PLUMBING.has(contentType) || CHANGES.has(contentType)) return undefined
  const key = message.key
  const chatId = key.remoteJid ?? ''
  const from = authorOf(key, ownJid)
  const text =
    content.conversation ??
    content.extendedTextMessage?.text ??
    content.imageMessage?.caption ??
    content.videoMessage?.caption ??
    content.documentMessage?.caption ??
    undefined
  const item: InboundMessage = {
    id: key.id ?? '',
    waMessageId: key.id ?? '',
    chatId,
    from,
    fromMe: !!key.fromMe,
    timestamp: Number(message.messageTimestamp ?? Math.floor(Date.now() / 1000)),
    type: typeOf(contentType),
  }
  if (message.pushName) item.pushName = message.pushName
  if (text !== undefined && text !== null) item.text = text
  const location = content.locationMessage ?? content.liveLocationMessage
  if (location) {
    item.location = {
      latitude: Number(location.degreesLatitude ?? 0),
      longitude: Number(location.degreesLongitude ?? 0),
    }
    const place = content.locationMessage
    if (place?.name) item.location.name = place.name
    if (place?.address) item.location.address = place.address
  }
  const cards =
    content.contactsArrayMessage?.contacts ?? (content.contactMessage ? [content.contactMessage] : [])
  if (cards.length > 0) item.contacts = cards.map((card) => contactFromVcard(card.displayName, card.vcard))
  const reaction = content.reactionMessage
  if (reaction) item.reaction = { messageId: reaction.key?.id ?? '', emoji: reaction.text ?? '' }
  const poll = POLLS.map((type) => content[type]).find((part) => part)
  if (poll)
    item.poll = {
      question: poll.name ?? '',
      options: (poll.options ?? []).map((option) => option.optionName ?? ''),
      selectableCount: poll.selectableOptionsCount ?? 0,
    }
  const context = contextOf(content, contentType)
  if (context?.stanzaId) item.replyToWaMessageId = context.stanzaId
  const mentions = (context?.mentionedJid ?? [])
    .map((jid) => phoneFromJid(jid))
    .filter((phone) => phone !== undefined)
  if (mentions.length > 0) item.mentions = mentions
  const media = MEDIA.has(contentType) ? mediaPartOf(content, contentType) : undefined
  if (media) {
    item.media = {
      mimeType: media.mimetype ?? 'application/octet-stream',
      size: Number(media.fileLength ?? 0),
      sha256: media.fileSha256 ? Buffer.from(media.fileSha256).toString('hex') : '',
      ...(media.fileName ? { fileName: media.fileName } : {}),
    }
    if (media.caption) item.caption = media.caption
    if (contentType === 'audioMessage' && media.ptt) item.voiceNote = true
  }
  return item
}

/**
 * Who wrote a message: this account when `fromMe`, else the sender's phone-number JID when WhatsApp
 * gave it (Baileys 7 puts it in the *Alt fields when the chat is addressed by LID), else its LID.
 */
function authorOf(key: WAMessageKey, ownJid: string | undefined): string {
  if (key.fromMe) return ownJid ?? ''
  const pn = [key.participant, key.participantAlt, key.remoteJid, key.remoteJidAlt].find((jid) =>
    jid?.endsWith('@s.whatsapp.net'),
  )
  return pn ?? key.participant ?? key.remoteJid ?? ''
}

/** The fields every media content type shares (some only some have). */
type MediaPart = proto.Message.IImageMessage &
  Pick<proto.Message.IDocumentMessage, 'fileName'> &
  Pick<proto.Message.IAudioMessage, 'ptt'>

function mediaPartOf(content: proto.IMessage, contentType: string): MediaPart | undefined {
  const part = content[contentType as 'imageMessage']
  return typeof part === 'object' && part !== null ? (part as MediaPart) : undefined
}

/** Where a received media file is and its key, as its message row keeps them; undefined without. */
export function mediaSourceOf(message: WAMessage): MediaSource | undefined {
  const content = normalizeMessageContent(message.message)
  const contentType = getContentType(content ?? undefined)
  if (!content || !contentType || !MEDIA.has(contentType)) return undefined
  const part = mediaPartOf(content, contentType)
  if (!part?.mediaKey || (!part.directPath && !part.url)) return undefined
  return {
    keyType: contentType.replace(/Message$/, ''),
    directPath: part.directPath ?? null,
    url: part.url ?? null,
    mediaKey: Buffer.from(part.mediaKey).toString('base64'),
    mimeType: part.mimetype ?? 'application/octet-stream',
  }
}

/** The public `type` of a Baileys content type: `text`, `location`, `contact`, `reaction`, `image`… */
function typeOf(contentType: string): string {
  switch (contentType) {
    case 'pollCreationMessage':
    case 'pollCreationMessageV2':
    case 'pollCreationMessageV3':
      return 'poll'
    case 'conversation':
    case 'extendedTextMessage':
      return 'text'
    case 'liveLocationMessage':
      return 'location'
    case 'contactsArrayMessage':
      return 'contact'
    default:
      return contentType.replace(/Message$/, '')
  }
}

/** The context (quote, mentions) every content type but a plain conversation may carry. */
function contextOf(content: proto.IMessage, contentType: string): proto.IContextInfo | null | undefined {
  const part = content[contentType as keyof proto.IMessage] as { contextInfo?: proto.IContextInfo | null }
  return typeof part === 'object' && part !== null ? part.contextInfo : undefined
}

/** A shared contact card: its name and the first number of its vCard (the `waid` when it has one). */
export function contactFromVcard(
  displayName: string | null | undefined,
  vcard: string | null | undefined,
): MessageContact {
  const lines = (vcard ?? '').split(/\r?\n/)
  const fullName = lines.find((line) => line.startsWith('FN:'))?.slice(3)
  const telephone = lines.find((line) => /^(item\d+\.)?TEL[;:]/i.test(line))
  const waid = telephone && /waid=(\d+)/i.exec(telephone)?.[1]
  const number = telephone?.slice(telephone.lastIndexOf(':') + 1).replace(/\D/g, '')
  return { name: displayName || fullName || '', phone: waid || number || '' }
}

/** The message as the runner receives it: the public item, and its media when it has some. */
export function toReceivedMessage(
  message: WAMessage,
  ownJid: string | undefined,
): ReceivedMessage | undefined {
  const item = toInboundMessage(message, ownJid)
  if (!item) return undefined
  const pollSecret = item.poll ? message.message?.messageContextInfo?.messageSecret : undefined
  if (pollSecret?.length) return { message: item, pollSecret: Buffer.from(pollSecret) }
  const mediaSource = mediaSourceOf(message)
  return { message: item, ...(mediaSource ? { mediaSource } : {}) }
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

/** Status changes of our own messages in one batch. */
export function toStatusUpdates(batch: Partial<BaileysEventMap>): MessageStatusUpdate[] {
  const updates: MessageStatusUpdate[] = []
  for (const { key, update } of batch['messages.update'] ?? []) {
    const status = toMessageStatus(update.status)
    if (status && key.fromMe && key.id)
      updates.push({ waMessageId: key.id, chatId: key.remoteJid ?? '', status })
  }
  // Baileys folds a receipt that arrives while our own message is still in its event buffer into
  // that message's upsert instead of emitting messages.update: read the status from there too.
  for (const message of batch['messages.upsert']?.messages ?? []) {
    const status = toMessageStatus(message.status)
    if (status && message.key.fromMe && message.key.id) {
      updates.push({ waMessageId: message.key.id, chatId: message.key.remoteJid ?? '', status })
    }
  }
  return updates
}

/** The text of a message's content (a text, or a media message's caption). */
function textOf(message: proto.IMessage | null | undefined): string | undefined {
  const content = normalizeMessageContent(message)
  return (
    content?.conversation ??
    content?.extendedTextMessage?.text ??
    content?.imageMessage?.caption ??
    content?.videoMessage?.caption ??
    content?.documentMessage?.caption ??
    undefined
  )
}

/**
 * Edits, deletes for everyone and reactions in one batch, by either side, as changes of the message
 * they target. (Poll votes are encrypted: the provider reads them with the poll's secret.)
 */
export function toMessageChanges(
  batch: Partial<BaileysEventMap>,
  ownJid: string | undefined,
): MessageChange[] {
  const changes: MessageChange[] = []
  for (const { key, update } of batch['messages.update'] ?? []) {
    if (!key.id) continue
    // Both carry the key of the changed message with the author's side (`fromMe`, participant).
    const target = { waMessageId: key.id, chatId: key.remoteJid ?? '' }
    const edited = update.message?.editedMessage?.message
    if (edited) {
      const text = textOf(edited)
      if (text !== undefined)
        changes.push({ ...target, by: authorOf(key, ownJid), byMe: !!key.fromMe, kind: 'edited', text })
    } else if (update.messageStubType === WAMessageStubType.REVOKE && update.message === null) {
      const author = update.key ?? key
      changes.push({ ...target, by: authorOf(author, ownJid), byMe: !!author.fromMe, kind: 'revoked' })
    }
  }
  for (const { key, reaction } of batch['messages.reaction'] ?? []) {
    if (!key.id || !reaction.key) continue
    changes.push({
      waMessageId: key.id,
      chatId: key.remoteJid ?? reaction.key.remoteJid ?? '',
      by: authorOf(reaction.key, ownJid),
      byMe: !!reaction.key.fromMe,
      kind: 'reaction',
      emoji: reaction.text ?? '',
    })
  }
  return changes
}

/** `…@s.whatsapp.net` or `…@lid` without a device part; undefined for anything else. */
function userJid(jid: string | null | undefined, server: 's.whatsapp.net' | 'lid'): string | undefined {
  if (!jid?.endsWith(`@${server}`)) return undefined
  return jidNormalizedUser(jid)
}

/** A Baileys chat as ChatInfo; `absoluteUnread` when the count is WhatsApp's own (history sync). */
function chatInfoOf(chat: Partial<Chat>, absoluteUnread: boolean): ChatInfo | undefined {
  if (!chat.id) return undefined
  // A one-to-one chat addressed by LID is kept under its phone number when WhatsApp gave it.
  const chatId =
    (chat.id.endsWith('@lid') && userJid(chat.pnJid, 's.whatsapp.net')) || jidNormalizedUser(chat.id)
  const info: ChatInfo = { chatId }
  const name = chat.name ?? chat.displayName
  if (name) info.name = name
  // Live messages move the count themselves; of a chat event only "read on the phone" (0) is news.
  if (typeof chat.unreadCount === 'number' && (absoluteUnread || chat.unreadCount === 0))
    info.unreadCount = Math.max(0, chat.unreadCount)
  const timestamp = Number(chat.conversationTimestamp ?? chat.lastMessageRecvTimestamp ?? 0)
  if (timestamp > 0) info.lastActivityAt = timestamp
  return info
}

/** A Baileys contact as ContactInfo (saved name, push name, both JIDs when known). */
function contactInfoOf(contact: Partial<Contact>): ContactInfo | undefined {
  const phoneJid = userJid(contact.id, 's.whatsapp.net') ?? userJid(contact.phoneNumber, 's.whatsapp.net')
  const lid = userJid(contact.id, 'lid') ?? userJid(contact.lid, 'lid')
  if (!phoneJid && !lid) return undefined
  const info: ContactInfo = {}
  if (phoneJid) info.phoneJid = phoneJid
  if (lid) info.lid = lid
  if (contact.notify) info.pushName = contact.notify
  if (contact.name ?? contact.verifiedName) info.savedName = (contact.name ?? contact.verifiedName)!
  return info
}

/** Chats of one batch: the history sync's (with their unread counts) and chat events'. */
export function toChatInfos(batch: Partial<BaileysEventMap>): ChatInfo[] {
  const history = batch['messaging-history.set']?.chats ?? []
  const live = [...(batch['chats.upsert'] ?? []), ...(batch['chats.update'] ?? [])]
  return [
    ...history.map((chat) => chatInfoOf(chat, true)),
    ...live.map((chat) => chatInfoOf(chat, false)),
  ].filter((chat) => chat !== undefined)
}

/**
 * The sender of a received message as a contact: its push name, and both its JIDs when WhatsApp gave
 * them (Baileys 7 puts the other addressing form in the `*Alt` fields). The history sync's mappings
 * do not survive Baileys' event buffer during the initial sync, so the traffic is where most
 * mappings are learnt.
 */
function senderContactOf(message: WAMessage): ContactInfo | undefined {
  const key = message.key
  if (key.fromMe) return undefined
  const jids = key.remoteJid?.endsWith('@g.us')
    ? [key.participant, key.participantAlt]
    : [key.remoteJid, key.remoteJidAlt]
  const phoneJid = jids.map((jid) => userJid(jid, 's.whatsapp.net')).find((jid) => jid !== undefined)
  const lid = jids.map((jid) => userJid(jid, 'lid')).find((jid) => jid !== undefined)
  // A bare number says nothing a contact row would add.
  if (!lid && !message.pushName) return undefined
  return contactInfoOf({
    id: phoneJid ?? lid ?? '',
    ...(lid ? { lid } : {}),
    ...(message.pushName ? { notify: message.pushName } : {}),
  })
}

/**
 * Contacts of one batch: names and LID↔phone-number mappings from the history sync, contact and
 * mapping events, and the senders of received messages.
 */
export function toContactInfos(batch: Partial<BaileysEventMap>): ContactInfo[] {
  const history = batch['messaging-history.set']
  const mappings = [...(history?.lidPnMappings ?? [])]
  const mapping = batch['lid-mapping.update']
  if (mapping) mappings.push(mapping)
  return [
    ...(batch['messages.upsert']?.messages ?? [])
      .map(senderContactOf)
      .filter((contact) => contact !== undefined),
    ...[
      ...(history?.contacts ?? []),
      ...(batch['contacts.upsert'] ?? []),
      ...(batch['contacts.update'] ?? []),
    ]
      .map(contactInfoOf)
      .filter((contact) => contact !== undefined),
    ...mappings
      .map(({ pn, lid }) => contactInfoOf({ id: pn, lid }))
      .filter((contact) => contact !== undefined),
  ]
}

/**
 * One batch of Baileys events as provider events, in the order a runner must handle them: the
 * credentials first (persisted before anything acts on them), then the connection's state, the
 * received messages, and the status changes of sent ones.
 */
export function toProviderEvents(
  batch: Partial<BaileysEventMap>,
  ownJid: string | undefined,
): ProviderEvent[] {
  const events: ProviderEvent[] = []
  if (batch['creds.update']) events.push({ type: 'credentials' })
  const update = batch['connection.update']
  if (update) {
    if (update.qr) events.push({ type: 'qr', qr: update.qr })
    if (update.isNewLogin) events.push({ type: 'paired' })
    if (update.connection === 'open') events.push({ type: 'open', phone: phoneFromJid(ownJid) })
    if (update.connection === 'close') {
      const error = update.lastDisconnect?.error as (Error & { output?: { statusCode?: number } }) | undefined
      events.push({
        type: 'close',
        statusCode: error?.output?.statusCode,
        message: error?.message ?? 'connection closed',
      })
    }
  }
  const upserted = batch['messages.upsert']?.messages
  const received = (upserted ?? [])
    .map((message) => toReceivedMessage(message, ownJid))
    .filter((message) => message !== undefined)
  if (received.length > 0) events.push({ type: 'messages', messages: received })
  const updates = toStatusUpdates(batch)
  if (updates.length > 0) events.push({ type: 'statuses', updates })
  const changes = toMessageChanges(batch, ownJid)
  if (changes.length > 0) events.push({ type: 'changes', changes })
  // Contacts before chats: a chat known only by LID is filed under the phone number once mapped.
  const contacts = toContactInfos(batch)
  if (contacts.length > 0) events.push({ type: 'contacts', contacts })
  const chats = withoutMessageEchoes(
    toChatInfos(batch),
    received.map(({ message }) => message),
  )
  if (chats.length > 0) events.push({ type: 'chats', chats })
  return events
}

/**
 * WhatsApp moves a chat with every message it receives ("chats.update": the message's time), and the
 * append that stores a received message moves its chat already: a chat whose only news is the time of
 * a message received in the same batch is left out, sparing a write per received message.
 */
function withoutMessageEchoes(chats: ChatInfo[], received: InboundMessage[]): ChatInfo[] {
  const latest = new Map<string, number>()
  for (const message of received) {
    if (message.fromMe) continue
    latest.set(message.chatId, Math.max(latest.get(message.chatId) ?? 0, message.timestamp))
  }
  if (latest.size === 0) return chats
  return chats.filter(
    (chat) =>
      chat.name !== undefined ||
      chat.unreadCount !== undefined ||
      chat.lastActivityAt === undefined ||
      chat.lastActivityAt > (latest.get(chat.chatId) ?? Number.NEGATIVE_INFINITY),
  )
}
