import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { type Readable, Transform } from 'node:stream'
import { rootCertificates } from 'node:tls'
import type { MediaSource } from '@wa-cluster/shared'
import { type Agent, request } from 'undici'
import { createOutboundAgent, type OutboundPolicy } from '../net/outbound-target.js'

// Received media, downloaded from WhatsApp's media servers on demand and decrypted as it streams:
// the file is AES-256-CBC under keys HKDF-expanded from the message's media key, followed by the first
// 10 bytes of an HMAC-SHA256 over iv + ciphertext, checked before the last bytes are released.

const DEFAULT_MEDIA_HOST = 'mmg.whatsapp.net'
const MAC_BYTES = 10

/** The HKDF info of each key type (WhatsApp's names). */
const KEY_INFO: Record<string, string> = {
  image: 'Image',
  sticker: 'Image',
  video: 'Video',
  gif: 'Video',
  ptv: 'Video',
  audio: 'Audio',
  ptt: 'Audio',
  document: 'Document',
}

/**
 * WA_MEDIA_CA as PEM: the value itself when it is one, else the file it names. Undefined when unset.
 * Throws with the reason when the file cannot be read or holds no certificate.
 */
export function mediaCaPem(value: string | undefined): string | undefined {
  if (!value) return undefined
  const pem = value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8')
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new Error('WA_MEDIA_CA: must be a PEM certificate or the path of one')
  return pem
}

/**
 * The agent that reaches WhatsApp's media servers: through the outbound guard (a received message
 * names the host, and a sender could name any), trusting Node's roots plus WA_MEDIA_CA.
 */
export function createWhatsAppMediaAgent(policy: OutboundPolicy, mediaCa: string | undefined): Agent {
  return createOutboundAgent(policy, mediaCa ? { ca: [...rootCertificates, mediaCa] } : {})
}

/** The media keys of a file: iv, cipher key and MAC key. */
function mediaKeysOf(source: MediaSource) {
  const info = KEY_INFO[source.keyType]
  if (!info) throw new Error(`unknown media key type ${source.keyType}`)
  const expanded = Buffer.from(
    hkdfSync('sha256', Buffer.from(source.mediaKey, 'base64'), Buffer.alloc(0), `WhatsApp ${info} Keys`, 112),
  )
  return {
    iv: expanded.subarray(0, 16),
    cipherKey: expanded.subarray(16, 48),
    macKey: expanded.subarray(48, 80),
  }
}

/** Where the encrypted file is: the direct path on the host of its URL (WhatsApp's default host). */
export function mediaDownloadUrl(source: MediaSource): string {
  let host = DEFAULT_MEDIA_HOST
  if (source.url) {
    const url = new URL(source.url)
    if (url.protocol !== 'https:') throw new Error('media URL is not https')
    if (!source.directPath) return url.toString()
    host = url.host
  }
  if (!source.directPath) throw new Error('the message names no media file')
  return `https://${host}${source.directPath}`
}

/** A stream that decrypts a WhatsApp media file and fails at the end when its MAC does not match. */
export function decryptingStream(source: MediaSource): Transform {
  const { iv, cipherKey, macKey } = mediaKeysOf(source)
  const decipher = createDecipheriv('aes-256-cbc', cipherKey, iv)
  const hmac = createHmac('sha256', macKey).update(iv)
  let tail = Buffer.alloc(0)
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const bytes = Buffer.concat([tail, chunk])
      const body = bytes.subarray(0, Math.max(0, bytes.length - MAC_BYTES))
      tail = Buffer.from(bytes.subarray(body.length))
      hmac.update(body)
      try {
        callback(null, decipher.update(body))
      } catch (error) {
        callback(error as Error)
      }
    },
    flush(callback) {
      const mac = hmac.digest().subarray(0, MAC_BYTES)
      if (tail.length !== MAC_BYTES || !mac.equals(tail)) {
        callback(new Error('the media file does not match its MAC'))
        return
      }
      try {
        callback(null, decipher.final())
      } catch (error) {
        callback(error as Error)
      }
    },
  })
}

/** The media file could not be fetched from WhatsApp (gone, refused, unreachable). */
export class MediaDownloadFailed extends Error {
  constructor(reason: string) {
    super(`could not download the media from WhatsApp: ${reason}`)
    this.name = 'MediaDownloadFailed'
  }
}

/** Downloads a received file from WhatsApp and returns its decrypted bytes as a stream. */
export async function downloadWhatsAppMedia(
  source: MediaSource,
  agent: Agent,
  timeoutMs = 30_000,
): Promise<Readable> {
  const url = mediaDownloadUrl(source)
  let response: Awaited<ReturnType<typeof request>>
  try {
    response = await request(url, {
      dispatcher: agent,
      headers: { origin: 'https://web.whatsapp.com' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    })
  } catch (error) {
    throw new MediaDownloadFailed((error as Error).message)
  }
  if (response.statusCode !== 200) {
    response.body.resume()
    throw new MediaDownloadFailed(`status ${response.statusCode}`)
  }
  const decrypted = decryptingStream(source)
  response.body.on('error', (error) => decrypted.destroy(error))
  return response.body.pipe(decrypted)
}
