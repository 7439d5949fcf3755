import { proto, type WAMessage } from '@whiskeysockets/baileys'
import { describe, expect, it } from 'vitest'
import { sourceOf, toProviderEvents } from '../../src/providers/baileys/event-mapping.js'

const ownJid = '6285800000001:7@s.whatsapp.net'
const contact = '6281400000001@s.whatsapp.net'

const text = (id: string, body: string, fromMe = false): WAMessage => ({
  key: { remoteJid: contact, fromMe, id },
  message: { conversation: body },
  messageTimestamp: 1_700_000_000,
  pushName: fromMe ? undefined : 'Budi',
})

describe('Baileys events → provider events', () => {
  it('orders a batch: credentials, connection state, messages, statuses', () => {
    const events = toProviderEvents(
      {
        'messages.update': [
          {
            key: { remoteJid: contact, fromMe: true, id: 'OUT1' },
            update: { status: proto.WebMessageInfo.Status.READ },
          },
        ],
        'messages.upsert': { type: 'notify', messages: [text('IN1', 'halo')] },
        'connection.update': { connection: 'open' },
        'creds.update': {},
      },
      ownJid,
    )
    expect(events.map((event) => event.type)).toEqual(['credentials', 'open', 'messages', 'statuses'])
    expect(events[1]).toEqual({ type: 'open', phone: '6285800000001' })
    expect(events[2]).toEqual({
      type: 'messages',
      messages: [
        {
          message: {
            id: 'IN1',
            chatId: contact,
            from: contact,
            fromMe: false,
            timestamp: 1_700_000_000,
            type: 'text',
            pushName: 'Budi',
            text: 'halo',
          },
        },
      ],
    })
    expect(events[3]).toEqual({
      type: 'statuses',
      updates: [{ waMessageId: 'OUT1', chatId: contact, status: 'read' }],
    })
  })

  it('maps a QR, a new login and a close with its code and message', () => {
    const closed = Object.assign(new Error('Stream Errored (conflict)'), { output: { statusCode: 440 } })
    expect(toProviderEvents({ 'connection.update': { qr: '2@ref', isNewLogin: true } }, undefined)).toEqual([
      { type: 'qr', qr: '2@ref' },
      { type: 'paired' },
    ])
    expect(
      toProviderEvents(
        { 'connection.update': { connection: 'close', lastDisconnect: { error: closed, date: new Date() } } },
        ownJid,
      ),
    ).toEqual([{ type: 'close', statusCode: 440, message: 'Stream Errored (conflict)' }])
    expect(toProviderEvents({ 'connection.update': { connection: 'close' } }, ownJid)).toEqual([
      { type: 'close', statusCode: undefined, message: 'connection closed' },
    ])
  })

  it('drops protocol plumbing and reads a receipt folded into our own upserted message', () => {
    const plumbing: WAMessage = {
      key: { remoteJid: contact, fromMe: false, id: 'P1' },
      message: { protocolMessage: { type: proto.Message.ProtocolMessage.Type.REVOKE } },
    }
    const ownWithReceipt: WAMessage = { ...text('OUT2', 'sent from here', true), status: 3 }
    const events = toProviderEvents(
      { 'messages.upsert': { type: 'append', messages: [plumbing, ownWithReceipt] } },
      ownJid,
    )
    expect(events).toEqual([
      {
        type: 'messages',
        messages: [
          {
            message: {
              id: 'OUT2',
              chatId: contact,
              from: ownJid,
              fromMe: true,
              timestamp: 1_700_000_000,
              type: 'text',
              text: 'sent from here',
            },
          },
        ],
      },
      { type: 'statuses', updates: [{ waMessageId: 'OUT2', chatId: contact, status: 'delivered' }] },
    ])
  })

  it('gives a media message a reference to download it by, never serialised with the message', () => {
    const image: WAMessage = {
      key: { remoteJid: contact, fromMe: false, id: 'IMG1' },
      message: { imageMessage: { caption: 'x-ray', mimetype: 'image/jpeg' } },
      messageTimestamp: 1_700_000_000,
    }
    const [event] = toProviderEvents({ 'messages.upsert': { type: 'notify', messages: [image] } }, ownJid)
    if (event?.type !== 'messages') throw new Error(`expected messages, got ${event?.type}`)
    const [received] = event.messages
    expect(received?.message).toMatchObject({ id: 'IMG1', type: 'image', text: 'x-ray' })
    expect(received?.media?.mimetype).toBe('image/jpeg')
    expect(sourceOf(received!.media!)).toBe(image)
    expect(JSON.parse(JSON.stringify(received!.media))).toEqual({ mimetype: 'image/jpeg' })
    expect(sourceOf({ mimetype: 'image/jpeg' })).toBeUndefined()
  })
})
