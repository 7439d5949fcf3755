import type { WAMessage } from '@whiskeysockets/baileys'
import { describe, expect, it } from 'vitest'
import {
  mediaSourceOf,
  toInboundMessage,
  toReceivedMessage,
} from '../../src/providers/baileys/event-mapping.js'

const contact = '6281400000001@s.whatsapp.net'
const mediaKey = Buffer.alloc(32, 7)
const fileSha256 = Buffer.alloc(32, 0xab)

const received = (message: WAMessage['message']): WAMessage => ({
  key: { remoteJid: contact, fromMe: false, id: 'MEDIA1' },
  message,
  messageTimestamp: 1_700_000_000,
})

describe('received media → the public item and the stored source', () => {
  it('gives a document its file fields and caption, never its key', () => {
    const message = received({
      documentMessage: {
        url: 'https://mmg.whatsapp.net/v/t62.7119-24/1.enc?ccb=11-4',
        directPath: '/v/t62.7119-24/1.enc?ccb=11-4',
        mediaKey,
        mimetype: 'application/pdf',
        fileLength: 120_000,
        fileSha256,
        fileName: 'invoice.pdf',
        caption: 'Invoice Mei',
      },
    })
    const item = toInboundMessage(message, undefined)
    expect(item).toMatchObject({
      type: 'document',
      text: 'Invoice Mei',
      caption: 'Invoice Mei',
      media: { mimeType: 'application/pdf', size: 120_000, sha256: 'ab'.repeat(32), fileName: 'invoice.pdf' },
    })
    expect(JSON.stringify(item)).not.toContain(mediaKey.toString('base64'))
    expect(toReceivedMessage(message, undefined)?.mediaSource).toEqual({
      keyType: 'document',
      directPath: '/v/t62.7119-24/1.enc?ccb=11-4',
      url: 'https://mmg.whatsapp.net/v/t62.7119-24/1.enc?ccb=11-4',
      mediaKey: mediaKey.toString('base64'),
      mimeType: 'application/pdf',
    })
  })

  it('marks a voice note, and has no source for a message without media or without a key', () => {
    const voice = received({
      audioMessage: {
        directPath: '/v/a.enc',
        mediaKey,
        mimetype: 'audio/ogg; codecs=opus',
        fileLength: 9,
        ptt: true,
      },
    })
    expect(toInboundMessage(voice, undefined)).toMatchObject({
      type: 'audio',
      voiceNote: true,
      media: { mimeType: 'audio/ogg; codecs=opus', size: 9 },
    })
    expect(mediaSourceOf(voice)?.keyType).toBe('audio')
    expect(mediaSourceOf(received({ conversation: 'halo' }))).toBeUndefined()
    expect(
      mediaSourceOf(received({ imageMessage: { directPath: '/v/i.enc', mimetype: 'image/jpeg' } })),
    ).toBeUndefined()
  })
})
