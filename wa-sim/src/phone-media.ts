import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import { getMediaKeys, type proto } from '@whiskeysockets/baileys'
import { BadInput } from './errors.js'
import type { MediaStore } from './media-server.js'

// What a simulated phone does with media: encrypts a file and uploads it before sending its message,
// and downloads and decrypts the media of a message it received (WhatsApp's scheme: HKDF-expanded
// media key, AES-256-CBC, the first 10 bytes of an HMAC-SHA256 over iv + ciphertext appended).

export const PHONE_MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const
export type PhoneMediaType = (typeof PHONE_MEDIA_TYPES)[number]

/** The largest file a simulated phone sends through the control API. */
const MAX_PHONE_MEDIA_BYTES = 16 * 1024 * 1024

/** What a phone decrypted from a session's media message (in the inbox). */
export interface InboxMedia {
  type: PhoneMediaType
  mimeType: string
  size: number
  /** Hex SHA-256 of the decrypted bytes. */
  sha256: string
  fileName?: string
  /** An audio sent as a push-to-talk voice note. */
  voiceNote?: boolean
}

/** `POST /send`'s `media`: the file, base64, and how to present it. */
export interface PhoneMediaInput {
  type: PhoneMediaType
  data: string
  mimeType: string
  fileName?: string
  caption?: string
  voiceNote?: boolean
}

const FIELD_OF: Record<PhoneMediaType, keyof proto.IMessage> = {
  image: 'imageMessage',
  video: 'videoMessage',
  audio: 'audioMessage',
  document: 'documentMessage',
  sticker: 'stickerMessage',
}

/** Reads and checks `media` of a control request. */
export function parsePhoneMedia(input: unknown): PhoneMediaInput {
  if (typeof input !== 'object' || input === null) throw new BadInput('media', 'must be an object')
  const media = input as Record<string, unknown>
  if (typeof media.type !== 'string' || !PHONE_MEDIA_TYPES.includes(media.type as PhoneMediaType))
    throw new BadInput('media.type', `must be one of ${PHONE_MEDIA_TYPES.join(', ')}`)
  if (typeof media.data !== 'string' || media.data === '')
    throw new BadInput('media.data', 'must be the file in base64')
  if (typeof media.mimeType !== 'string' || !/^[\w.+-]+\/[\w.+-]+/.test(media.mimeType))
    throw new BadInput('media.mimeType', 'must be a MIME type')
  for (const field of ['fileName', 'caption'] as const)
    if (media[field] !== undefined && typeof media[field] !== 'string')
      throw new BadInput(`media.${field}`, 'must be a string')
  return {
    type: media.type as PhoneMediaType,
    data: media.data,
    mimeType: media.mimeType,
    ...(typeof media.fileName === 'string' ? { fileName: media.fileName } : {}),
    ...(typeof media.caption === 'string' ? { caption: media.caption } : {}),
    ...(media.voiceNote === true ? { voiceNote: true } : {}),
  }
}

/** The HKDF info type of a media kind (a voice note is `ptt`). */
function keyTypeOf(type: PhoneMediaType, voiceNote: boolean | undefined) {
  return voiceNote && type === 'audio' ? 'ptt' : type
}

/** Encrypts the file, uploads it to the media server and returns the message a phone sends. */
export async function phoneMediaMessage(store: MediaStore, media: PhoneMediaInput): Promise<proto.IMessage> {
  const plaintext = Buffer.from(media.data, 'base64')
  if (plaintext.length === 0) throw new BadInput('media.data', 'must be the file in base64')
  if (plaintext.length > MAX_PHONE_MEDIA_BYTES)
    throw new BadInput('media.data', `must be at most ${MAX_PHONE_MEDIA_BYTES} bytes`)
  const mediaKey = randomBytes(32)
  const { iv, cipherKey, macKey } = await getMediaKeys(mediaKey, keyTypeOf(media.type, media.voiceNote))
  const cipher = createCipheriv('aes-256-cbc', cipherKey!, iv!)
  const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const mac = createHmac('sha256', macKey!).update(iv!).update(encrypted).digest().subarray(0, 10)
  const file = Buffer.concat([encrypted, mac])
  const directPath = store.put(file)
  const common = {
    url: `https://${store.host}${directPath}`,
    directPath,
    mediaKey,
    mimetype: media.mimeType,
    fileSha256: createHash('sha256').update(plaintext).digest(),
    fileEncSha256: createHash('sha256').update(file).digest(),
    fileLength: plaintext.length,
    mediaKeyTimestamp: Math.floor(Date.now() / 1000),
  }
  const caption = media.caption !== undefined ? { caption: media.caption } : {}
  switch (media.type) {
    case 'image':
    case 'video':
      return { [FIELD_OF[media.type]]: { ...common, ...caption } }
    case 'audio':
      return { audioMessage: { ...common, ptt: !!media.voiceNote } }
    case 'document':
      return { documentMessage: { ...common, ...caption, fileName: media.fileName ?? 'file' } }
    case 'sticker':
      return { stickerMessage: common }
  }
}

/** The media part of a received message, when it has one: its kind and fields. */
function mediaPartOf(
  message: proto.IMessage,
): { type: PhoneMediaType; part: proto.Message.IImageMessage & proto.Message.IDocumentMessage } | undefined {
  for (const type of PHONE_MEDIA_TYPES) {
    const part = message[FIELD_OF[type]]
    if (part) return { type, part: part as proto.Message.IImageMessage & proto.Message.IDocumentMessage }
  }
  // A document with a caption comes wrapped.
  const wrapped = message.documentWithCaptionMessage?.message
  return wrapped ? mediaPartOf(wrapped) : undefined
}

/**
 * Downloads and decrypts the media of a message a phone received (its MAC checked); undefined for a
 * message without media. Throws when the file is missing or does not decrypt.
 */
export async function decryptPhoneMedia(
  store: MediaStore,
  message: proto.IMessage,
): Promise<{ media: InboxMedia; caption?: string } | undefined> {
  const found = mediaPartOf(message)
  if (!found) return undefined
  const { type, part } = found
  const voiceNote = type === 'audio' && !!(part as proto.Message.IAudioMessage).ptt
  const directPath = part.directPath ?? (part.url ? new URL(part.url).pathname : '')
  const file = store.get(directPath)
  if (!file || !part.mediaKey) throw new Error(`media file ${directPath} is not on the media server`)
  store.downloads++
  const { iv, cipherKey, macKey } = await getMediaKeys(part.mediaKey, keyTypeOf(type, voiceNote))
  const encrypted = file.subarray(0, file.length - 10)
  const mac = createHmac('sha256', macKey!).update(iv!).update(encrypted).digest().subarray(0, 10)
  if (!mac.equals(file.subarray(file.length - 10))) throw new Error('media MAC does not match')
  const decipher = createDecipheriv('aes-256-cbc', cipherKey!, iv!)
  const plaintext = Buffer.concat([decipher.update(encrypted), decipher.final()])
  const media: InboxMedia = {
    type,
    mimeType: part.mimetype ?? 'application/octet-stream',
    size: plaintext.length,
    sha256: createHash('sha256').update(plaintext).digest('hex'),
  }
  if (part.fileName) media.fileName = part.fileName
  if (voiceNote) media.voiceNote = true
  return { media, ...(part.caption ? { caption: part.caption } : {}) }
}
