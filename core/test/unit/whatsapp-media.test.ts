import { createCipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import type { MediaSource } from '@wa-cluster/shared'
import { describe, expect, it } from 'vitest'
import { decryptingStream, mediaDownloadUrl } from '../../src/media/whatsapp-media.js'

/** A file encrypted the way WhatsApp clients do it, written here from the published scheme. */
function encrypt(plaintext: Buffer, info: string) {
  const mediaKey = randomBytes(32)
  const keys = Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(0), `WhatsApp ${info} Keys`, 112))
  const iv = keys.subarray(0, 16)
  const cipher = createCipheriv('aes-256-cbc', keys.subarray(16, 48), iv)
  const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final()])
  const mac = createHmac('sha256', keys.subarray(48, 80))
    .update(iv)
    .update(encrypted)
    .digest()
    .subarray(0, 10)
  return { mediaKey, file: Buffer.concat([encrypted, mac]) }
}

const sourceOf = (mediaKey: Buffer, keyType: string): MediaSource => ({
  keyType,
  directPath: '/v/t62.7118-24/x.enc',
  url: null,
  mediaKey: mediaKey.toString('base64'),
  mimeType: 'image/jpeg',
})

/** The file cut into small, uneven pieces, as a network delivers it. */
const pieces = (file: Buffer) => {
  const parts: Buffer[] = []
  for (let at = 0; at < file.length; at += 7 + (at % 13)) parts.push(file.subarray(at, at + 7 + (at % 13)))
  return Readable.from(parts)
}

describe('decrypting a WhatsApp media file as it streams', () => {
  it('gives back the plaintext whatever the piece sizes', async () => {
    const plaintext = randomBytes(10_000)
    const { mediaKey, file } = encrypt(plaintext, 'Image')
    const decrypted = await buffer(pieces(file).pipe(decryptingStream(sourceOf(mediaKey, 'image'))))
    expect(createHash('sha256').update(decrypted).digest('hex')).toBe(
      createHash('sha256').update(plaintext).digest('hex'),
    )
    // A voice note's key type shares the audio keys.
    const audio = encrypt(plaintext, 'Audio')
    expect(
      (await buffer(pieces(audio.file).pipe(decryptingStream(sourceOf(audio.mediaKey, 'ptt'))))).equals(
        plaintext,
      ),
    ).toBe(true)
  })

  it('fails when the file was altered or the key is another', async () => {
    const { mediaKey, file } = encrypt(randomBytes(4_000), 'Image')
    const altered = Buffer.from(file)
    altered[100] = altered[100]! ^ 1
    await expect(buffer(pieces(altered).pipe(decryptingStream(sourceOf(mediaKey, 'image'))))).rejects.toThrow(
      'the media file does not match its MAC',
    )
    await expect(
      buffer(pieces(file).pipe(decryptingStream(sourceOf(randomBytes(32), 'image')))),
    ).rejects.toThrow()
  })

  it("downloads from the URL's host, WhatsApp's by default, https only", () => {
    const source = sourceOf(randomBytes(32), 'image')
    expect(mediaDownloadUrl(source)).toBe('https://mmg.whatsapp.net/v/t62.7118-24/x.enc')
    expect(mediaDownloadUrl({ ...source, url: 'https://127.0.0.1:4433/v/t62.7118-24/x.enc' })).toBe(
      'https://127.0.0.1:4433/v/t62.7118-24/x.enc',
    )
    expect(() => mediaDownloadUrl({ ...source, url: 'http://example.com/x' })).toThrow(
      'media URL is not https',
    )
  })
})
