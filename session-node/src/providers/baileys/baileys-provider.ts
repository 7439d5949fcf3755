import { readFileSync } from 'node:fs'
import { Agent as HttpsAgent } from 'node:https'
import { rootCertificates } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { mediaCaPem } from '@wa-cluster/core'
import type { Config, MessageContact } from '@wa-cluster/shared'
import makeWASocket, {
  type AnyMessageContent,
  Browsers,
  generateMessageIDV2,
  generateWAMessage,
  proto,
  type WAMessage,
  type WAMessageKey,
} from '@whiskeysockets/baileys'
import {
  type MessageChange,
  type MessageReference,
  type OpenConnectionInput,
  type OutboundContent,
  type OutboundMedia,
  type ProviderConnection,
  type ProviderEvent,
  RecipientNotOnWhatsApp,
  type WhatsAppProvider,
} from '../provider.js'
import { captureStorages, releaseStorages, type SocketStorage } from './async-context.js'
import { baileysChatActions } from './baileys-chat-actions.js'
import { toProviderEvents, toReceivedMessage } from './event-mapping.js'
import { pollVotesOf } from './poll-votes.js'

export type BaileysProviderConfig = Pick<Config, 'WA_WS_URL' | 'BAILEYS_LOG_LEVEL'> &
  Partial<Pick<Config, 'WA_MEDIA_CA'>>

/** A closed socket may still finish a key transaction for a moment; its storages go after this. */
const SOCKET_RETIRE_DELAY_MS = 10_000

/** Recipients a connection already found on WhatsApp, at most this many (then it asks again). */
const KNOWN_RECIPIENTS_MAX = 5_000

/**
 * Fails when the installed Baileys lacks our patch (patches/, applied by `npm install`'s postinstall):
 * without it a message is receipted before it is stored, and a crash in between loses it.
 */
export function assertBaileysPatched(): void {
  const file = fileURLToPath(import.meta.resolve('@whiskeysockets/baileys/lib/Socket/messages-recv.js'))
  if (!readFileSync(file, 'utf8').includes('config.beforeMessageReceipt'))
    throw new Error(
      `Baileys at ${file} is not patched (patches/@whiskeysockets+baileys+*.patch): run npm install, which applies it`,
    )
}

/** WhatsApp through Baileys' multi-device socket (the linked-device protocol WhatsApp Web speaks). */
export function createBaileysProvider(config: BaileysProviderConfig): WhatsAppProvider {
  // Media uploads go over HTTPS to the host WhatsApp names; WA_MEDIA_CA adds a root (a simulator's)
  // to the system's, never turning certificate checks off. One agent serves every socket.
  const mediaCa = mediaCaPem(config.WA_MEDIA_CA)
  const mediaAgent = mediaCa
    ? new HttpsAgent({ ca: [...rootCertificates, mediaCa], keepAlive: true })
    : undefined
  return { name: 'baileys', open: (input) => openBaileysConnection(config, input, mediaAgent) }
}

function openBaileysConnection(
  config: BaileysProviderConfig,
  input: OpenConnectionInput,
  mediaAgent: HttpsAgent | undefined,
): ProviderConnection {
  const { auth, logger } = input
  /** Ids of messages stored before their receipt, so the later `messages.upsert` does not repeat them. */
  const storedBeforeReceipt = new Set<string>()
  const beforeMessageReceipt = input.storeBeforeReceipt
    ? async (message: WAMessage) => {
        const received = toReceivedMessage(message, auth.creds.me?.id)
        if (!received) return
        await input.storeBeforeReceipt!(received)
        storedBeforeReceipt.add(received.message.waMessageId)
      }
    : undefined
  const loadSentMessage = async (key: WAMessageKey): Promise<proto.IMessage | undefined> => {
    if (!input.loadSentMessage || !key.id || !auth.creds.me) return undefined
    const sent = await input.loadSentMessage(key.id)
    if (!sent) return undefined
    // A sent media message is answered with its upload: its file's pieces are gone by now.
    if (sent.content.kind === 'media' && sent.content.uploaded)
      return proto.Message.decode(Buffer.from(sent.content.uploaded, 'base64'))
    const quote = quoteOf(sent.content)
    const generate = () =>
      generateWAMessage(sent.chatId, contentOf(sent.content), {
        userJid: auth.creds.me!.id,
        messageId: sent.messageId,
        upload: socket.waUploadToServer,
        logger: baileysLogger as never,
        ...(quote ? { quoted: quotedMessage(quote) } : {}),
      })
    // A media message whose upload was not kept (its send was cut short) and whose file is gone.
    const generated =
      sent.content.kind === 'media' ? await generate().catch(() => undefined) : await generate()
    return generated?.message ?? undefined
  }
  const baileysLogger = logger.child({ component: 'baileys' })
  // Baileys is chatty: it has a level of its own (BAILEYS_LOG_LEVEL), but a silent node stays silent.
  if (logger.level !== 'silent') baileysLogger.level = config.BAILEYS_LOG_LEVEL
  const { result: socket, storages } = captureStorages(() =>
    makeWASocket({
      auth,
      waWebSocketUrl: config.WA_WS_URL ?? 'wss://web.whatsapp.com/ws/chat',
      logger: baileysLogger as never,
      browser: Browsers.ubuntu('wa-cluster'),
      markOnlineOnConnect: false,
      syncFullHistory: false,
      generateHighQualityLinkPreview: false,
      ...(mediaAgent ? { fetchAgent: mediaAgent } : {}),
      // A recipient that could not decrypt a message asks for it again; Baileys keeps recent sends in
      // memory, and this answers from Postgres for those a restart or a failover took away.
      getMessage: (key) => loadSentMessage(key),
      // Not in Baileys' types: added by patches/@whiskeysockets+baileys+7.0.0-rc14.patch (postinstall),
      // which calls it before the message's receipt is sent.
      ...({ beforeMessageReceipt } as object),
    }),
  )

  // Each socket makes AsyncLocalStorages it never disables (slots of one shared storage here, see
  // async-context.ts): they go 10 s after the socket closed by itself, or as soon as the runner is
  // done with it.
  let retained: SocketStorage[] | undefined = storages
  let retireTimer: NodeJS.Timeout | undefined
  const dispose = () => {
    clearTimeout(retireTimer)
    if (retained) releaseStorages(retained)
    retained = undefined
  }

  socket.ev.process((batch) => {
    if (batch['connection.update']?.connection === 'close' && retained && !retireTimer) {
      retireTimer = setTimeout(dispose, SOCKET_RETIRE_DELAY_MS)
      retireTimer.unref()
    }
    const events = toProviderEvents(batch, auth.creds.me?.id).flatMap((event): ProviderEvent[] => {
      if (event.type !== 'messages' || storedBeforeReceipt.size === 0) return [event]
      const messages = event.messages.filter(
        (received) => !storedBeforeReceipt.delete(received.message.waMessageId),
      )
      return messages.length > 0 ? [{ ...event, messages }] : []
    })
    const upserted = batch['messages.upsert']?.messages ?? []
    if (!input.loadPoll || !upserted.some((message) => message.message?.pollUpdateMessage))
      return events.length > 0 ? input.onEvents(events) : Promise.resolve()
    // Votes are encrypted with their poll's secret, which lives with the stored poll.
    return pollVotesOf(upserted, { me: auth.creds.me, loadPoll: input.loadPoll, logger: baileysLogger }).then(
      (votes: MessageChange[]) => {
        if (votes.length > 0) events.push({ type: 'changes', changes: votes })
        return events.length > 0 ? input.onEvents(events) : undefined
      },
    )
  })

  // Sending to a number without WhatsApp goes through without an error (there is no device to encrypt
  // for), so the first send to each person asks WhatsApp whether the number is registered.
  const knownRecipients = new Set<string>()
  const ensureOnWhatsApp = async (chatId: string) => {
    if (!chatId.endsWith('@s.whatsapp.net') || knownRecipients.has(chatId)) return
    const [found] = (await socket.onWhatsApp(chatId)) ?? []
    if (!found?.exists) throw new RecipientNotOnWhatsApp(chatId)
    if (knownRecipients.size >= KNOWN_RECIPIENTS_MAX) knownRecipients.clear()
    knownRecipients.add(chatId)
  }

  return {
    requestPairingCode: (phone) => socket.requestPairingCode(phone),
    async send(message) {
      await ensureOnWhatsApp(message.chatId)
      const content = message.content
      const quote = quoteOf(content)
      const sent = await socket.sendMessage(message.chatId, contentOf(content), {
        messageId: message.messageId,
        ...(quote ? { quoted: quotedMessage(quote) } : {}),
      })
      if (content.kind !== 'media' || !sent?.message) return undefined
      return { uploaded: Buffer.from(proto.Message.encode(sent.message).finish()).toString('base64') }
    },
    // The same id Baileys would choose itself (derived from the account and the time, plus randomness).
    newMessageId: () => generateMessageIDV2(auth.creds.me?.id),
    logout: (reason) => socket.logout(reason),
    close: () => socket.end(undefined),
    dispose,
    actions: baileysChatActions(socket),
  }
}

/** The message a send quotes, for the kinds that can quote one. */
function quoteOf(content: OutboundContent): MessageReference | undefined {
  return 'quote' in content ? content.quote : undefined
}

/** A message of the chat as Baileys names it in a reaction, an edit or a delete. */
function keyOf(target: MessageReference): WAMessageKey {
  return {
    remoteJid: target.chatId,
    fromMe: target.fromMe,
    id: target.waMessageId,
    // In a group, the member whose message it is (else Baileys names the group).
    ...(target.participant ? { participant: target.participant } : {}),
  }
}

/** Our send kinds → Baileys' message content. */
function contentOf(content: OutboundContent): AnyMessageContent {
  switch (content.kind) {
    case 'text':
      return content.mentions?.length
        ? { text: content.text, mentions: content.mentions.map((phone) => `${phone}@s.whatsapp.net`) }
        : { text: content.text }
    case 'location': {
      const { latitude, longitude, name, address } = content.location
      return {
        location: {
          degreesLatitude: latitude,
          degreesLongitude: longitude,
          ...(name !== undefined ? { name } : {}),
          ...(address !== undefined ? { address } : {}),
        },
      }
    }
    case 'contacts':
      return {
        contacts: {
          displayName:
            content.contacts.length === 1 ? content.contacts[0]!.name : `${content.contacts.length} contacts`,
          contacts: content.contacts.map((contact) => ({
            displayName: contact.name,
            vcard: vcardOf(contact),
          })),
        },
      }
    case 'media':
      return mediaContentOf(content)
    case 'reaction':
      return { react: { text: content.emoji, key: keyOf(content.target) } }
    case 'poll':
      return {
        poll: {
          name: content.poll.question,
          values: content.poll.options,
          selectableCount: content.poll.selectableCount,
          messageSecret: content.messageSecret,
        },
      }
    case 'edit':
      return { text: content.text, edit: keyOf(content.target) }
    case 'revoke':
      return { delete: keyOf(content.target) }
  }
}

/** A media send as Baileys' content: the file as a stream Baileys encrypts and uploads as it reads. */
function mediaContentOf(content: OutboundMedia): AnyMessageContent {
  const stream = { stream: content.open() }
  const caption = content.caption !== undefined ? { caption: content.caption } : {}
  switch (content.mediaType) {
    case 'image':
      return { image: stream, mimetype: content.mimeType, ...caption }
    case 'video':
      return { video: stream, mimetype: content.mimeType, ...caption }
    case 'audio':
      return { audio: stream, mimetype: content.mimeType, ptt: !!content.voiceNote }
    case 'document':
      return {
        document: stream,
        mimetype: content.mimeType,
        fileName: content.fileName ?? 'file',
        ...caption,
      }
    case 'sticker':
      return { sticker: stream, mimetype: content.mimeType }
  }
}

/** The vCard WhatsApp shows as a contact card (the `waid` makes its "Message" button work). */
export function vcardOf(contact: MessageContact): string {
  const name = contact.name.replace(/[\r\n]+/g, ' ').replace(/([,;\\])/g, '\\$1')
  return [
    'BEGIN:VCARD',
    'VERSION:3.0',
    `FN:${name}`,
    `TEL;type=CELL;type=VOICE;waid=${contact.phone}:+${contact.phone}`,
    'END:VCARD',
  ].join('\n')
}

/** The quoted message as Baileys wants it: its key and (what we know of) its content. */
function quotedMessage(quote: MessageReference): WAMessage {
  return {
    key: {
      remoteJid: quote.chatId,
      fromMe: quote.fromMe,
      id: quote.waMessageId,
      ...(quote.participant ? { participant: quote.participant } : {}),
    },
    message: { conversation: quote.text ?? '' },
  }
}
