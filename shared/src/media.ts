// Media messages: the kinds, WhatsApp's size limit of each, the MIME types each accepts, and the
// sniffing that names a file's type when the sender did not.

export const MEDIA_MESSAGE_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const
export type MediaMessageType = (typeof MEDIA_MESSAGE_TYPES)[number]

const MB = 1024 * 1024

/**
 * The largest file of each kind, as WhatsApp documents them for its Cloud API (the same limits its
 * apps apply): image 5 MB, video 16 MB, audio 16 MB, document 100 MB, sticker 500 KB (animated; a
 * static one is 100 KB, which WhatsApp checks itself).
 */
export const MEDIA_SIZE_LIMITS: Record<MediaMessageType, number> = {
  image: 5 * MB,
  video: 16 * MB,
  audio: 16 * MB,
  document: 100 * MB,
  sticker: 500 * 1024,
}

/** The MIME types WhatsApp shows as each kind (a document may be anything). */
const ACCEPTED_MIME_TYPES: Record<Exclude<MediaMessageType, 'document'>, RegExp> = {
  image: /^image\/(jpeg|png)$/,
  video: /^video\/(mp4|3gpp)$/,
  audio: /^audio\/(aac|mp4|mpeg|amr|ogg)(;\s*codecs=opus)?$/,
  sticker: /^image\/webp$/,
}

/** A media message's file as the API shows it: never the bytes. */
export type MessageMedia = {
  mimeType: string
  /** Bytes of the file (decrypted). */
  size: number
  /** Hex SHA-256 of the file. */
  sha256: string
  /** A document's file name. */
  fileName?: string
}

/**
 * What downloading a received media file from WhatsApp needs, kept on its message row: where the
 * encrypted file is and the key that opens it. Never shown through the API.
 */
export type MediaSource = {
  /** The kind that names the key derivation (`image`, `video`, `audio`, `ptt`, `document`, `sticker`…). */
  keyType: string
  directPath: string | null
  url: string | null
  /** Base64. */
  mediaKey: string
  mimeType: string
}

/** A size in the unit people read limits in (`5 MB`, `500 KB`). */
export function formatBytes(bytes: number): string {
  return bytes >= MB ? `${+(bytes / MB).toFixed(1)} MB` : `${+(bytes / 1024).toFixed(1)} KB`
}

/**
 * The MIME type the first bytes of a file show, or undefined when they show none we know. Enough to
 * tell the formats WhatsApp sends apart: JPEG, PNG, GIF, WebP, MP4/3GP/M4A, Ogg, MP3, AMR, PDF, ZIP.
 */
export function sniffMimeType(head: Uint8Array): string | undefined {
  const at = (offset: number, ...bytes: number[]) =>
    bytes.every((byte, index) => head[offset + index] === byte)
  const ascii = (offset: number, text: string) => at(offset, ...[...text].map((char) => char.charCodeAt(0)))
  if (at(0, 0xff, 0xd8, 0xff)) return 'image/jpeg'
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png'
  if (ascii(0, 'GIF8')) return 'image/gif'
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp'
  if (ascii(4, 'ftyp')) {
    const brand = String.fromCharCode(...head.subarray(8, 12))
    if (brand.startsWith('3gp')) return 'video/3gpp'
    if (brand === 'M4A ' || brand === 'M4B ') return 'audio/mp4'
    return 'video/mp4'
  }
  if (ascii(0, 'OggS')) return 'audio/ogg'
  if (ascii(0, 'ID3') || (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0)) return 'audio/mpeg'
  if (ascii(0, '#!AMR')) return 'audio/amr'
  if (ascii(0, '%PDF-')) return 'application/pdf'
  if (at(0, 0x50, 0x4b, 0x03, 0x04)) return 'application/zip'
  return undefined
}

/**
 * Why a file of `mimeType` cannot be sent as `type`, or undefined when it can. A voice note must be
 * Ogg Opus, the only format WhatsApp plays as one.
 */
export function mimeTypeRefusal(
  type: MediaMessageType,
  mimeType: string,
  voiceNote = false,
): string | undefined {
  if (!/^[\w.+-]+\/[\w.+-]+(;.*)?$/.test(mimeType)) return 'is not a MIME type'
  if (type === 'document') return undefined
  const base = mimeType.toLowerCase()
  if (voiceNote && !/^audio\/ogg/.test(base)) return 'must be audio/ogg (Opus) for a voice note'
  if (!ACCEPTED_MIME_TYPES[type].test(base))
    return `${mimeType} cannot be sent as ${type} (accepted: ${acceptedList(type)})`
  return undefined
}

function acceptedList(type: Exclude<MediaMessageType, 'document'>): string {
  return {
    image: 'image/jpeg, image/png',
    video: 'video/mp4, video/3gpp',
    audio: 'audio/aac, audio/mp4, audio/mpeg, audio/amr, audio/ogg',
    sticker: 'image/webp',
  }[type]
}

/** True when `type` names a media kind. */
export function isMediaMessageType(type: string): type is MediaMessageType {
  return (MEDIA_MESSAGE_TYPES as readonly string[]).includes(type)
}
