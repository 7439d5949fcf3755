import { describe, expect, it } from 'vitest'
import { formatBytes, MEDIA_SIZE_LIMITS, mimeTypeRefusal, sniffMimeType } from '../../src/media.js'

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))),
  )

describe('sniffMimeType', () => {
  it.each([
    ['image/jpeg', bytes([0xff, 0xd8, 0xff, 0xe0], 'JFIF')],
    ['image/png', bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
    ['image/gif', bytes('GIF89a')],
    ['image/webp', bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 ')],
    ['video/mp4', bytes([0, 0, 0, 0x18], 'ftypmp42')],
    ['video/mp4', bytes([0, 0, 0, 0x20], 'ftypisom')],
    ['video/3gpp', bytes([0, 0, 0, 0x18], 'ftyp3gp5')],
    ['audio/mp4', bytes([0, 0, 0, 0x18], 'ftypM4A ')],
    ['audio/ogg', bytes('OggS', [0, 2])],
    ['audio/mpeg', bytes('ID3', [3, 0])],
    ['audio/mpeg', bytes([0xff, 0xfb, 0x90])],
    ['audio/amr', bytes('#!AMR\n')],
    ['application/pdf', bytes('%PDF-1.7')],
    ['application/zip', bytes([0x50, 0x4b, 0x03, 0x04])],
  ])('recognises %s', (mimeType, head) => {
    expect(sniffMimeType(head)).toBe(mimeType)
  })

  it('names nothing for bytes it does not know, or too few', () => {
    expect(sniffMimeType(bytes('hello, world'))).toBeUndefined()
    expect(sniffMimeType(bytes('RIFF', [0, 0, 0, 0], 'WAVE'))).toBeUndefined()
    expect(sniffMimeType(new Uint8Array())).toBeUndefined()
    expect(sniffMimeType(bytes([0xff, 0xd8]))).toBeUndefined()
  })
})

describe('mimeTypeRefusal', () => {
  it('accepts what WhatsApp shows as each kind', () => {
    expect(mimeTypeRefusal('image', 'image/jpeg')).toBeUndefined()
    expect(mimeTypeRefusal('image', 'image/png')).toBeUndefined()
    expect(mimeTypeRefusal('video', 'video/mp4')).toBeUndefined()
    expect(mimeTypeRefusal('audio', 'audio/mpeg')).toBeUndefined()
    expect(mimeTypeRefusal('audio', 'audio/ogg; codecs=opus', true)).toBeUndefined()
    expect(mimeTypeRefusal('sticker', 'image/webp')).toBeUndefined()
    expect(mimeTypeRefusal('document', 'application/vnd.ms-excel')).toBeUndefined()
  })

  it('refuses a type the kind cannot carry, with the accepted ones', () => {
    expect(mimeTypeRefusal('image', 'application/pdf')).toBe(
      'application/pdf cannot be sent as image (accepted: image/jpeg, image/png)',
    )
    expect(mimeTypeRefusal('sticker', 'image/png')).toMatch(/accepted: image\/webp/)
    expect(mimeTypeRefusal('audio', 'audio/mpeg', true)).toBe('must be audio/ogg (Opus) for a voice note')
    expect(mimeTypeRefusal('document', 'not a type')).toBe('is not a MIME type')
  })
})

describe('media limits', () => {
  it("are WhatsApp's documented ones", () => {
    expect(MEDIA_SIZE_LIMITS).toEqual({
      image: 5 * 1024 * 1024,
      video: 16 * 1024 * 1024,
      audio: 16 * 1024 * 1024,
      document: 100 * 1024 * 1024,
      sticker: 500 * 1024,
    })
    expect(formatBytes(MEDIA_SIZE_LIMITS.image)).toBe('5 MB')
    expect(formatBytes(MEDIA_SIZE_LIMITS.sticker)).toBe('500 KB')
  })
})
