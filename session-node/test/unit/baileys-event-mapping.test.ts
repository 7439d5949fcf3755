import { proto, type WAMessage } from '@whiskeysockets/baileys'
import { describe, expect, it } from 'vitest'
import {
  contactFromVcard,
  toChatInfos,
  toContactInfos,
  toInboundMessage,
  toProviderEvents,
} from '../../src/providers/baileys/event-mapping.js'

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
    expect(events.map((event) => event.type)).toEqual([
      'credentials',
      'open',
      'messages',
      'statuses',
      'contacts',
    ])
    expect(events[1]).toEqual({ type: 'open', phone: '6285800000001' })
    expect(events[2]).toEqual({
      type: 'messages',
      messages: [
        {
          message: {
            id: 'IN1',
            waMessageId: 'IN1',
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
              waMessageId: 'OUT2',
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

  it("keeps where a media message's file is and its key beside the message, never in it", () => {
    const mediaKey = Buffer.alloc(32, 7)
    const image: WAMessage = {
      key: { remoteJid: contact, fromMe: false, id: 'IMG1' },
      message: {
        imageMessage: { caption: 'x-ray', mimetype: 'image/jpeg', mediaKey, directPath: '/v/t62/abc' },
      },
      messageTimestamp: 1_700_000_000,
    }
    const [event] = toProviderEvents({ 'messages.upsert': { type: 'notify', messages: [image] } }, ownJid)
    if (event?.type !== 'messages') throw new Error(`expected messages, got ${event?.type}`)
    const [received] = event.messages
    expect(received?.message).toMatchObject({ id: 'IMG1', type: 'image', text: 'x-ray' })
    expect(received?.mediaSource).toEqual({
      keyType: 'image',
      directPath: '/v/t62/abc',
      url: null,
      mediaKey: mediaKey.toString('base64'),
      mimeType: 'image/jpeg',
    })
    expect(JSON.stringify(received?.message)).not.toContain(mediaKey.toString('base64'))
    // Without a key there is nothing to download it with.
    const keyless = { ...image, message: { imageMessage: { mimetype: 'image/jpeg' } } }
    const [again] = toProviderEvents({ 'messages.upsert': { type: 'notify', messages: [keyless] } }, ownJid)
    if (again?.type !== 'messages') throw new Error(`expected messages, got ${again?.type}`)
    expect(again.messages[0]).not.toHaveProperty('mediaSource')
  })

  it('maps a location, a shared contact, a reaction, a quote and mentions to their fields', () => {
    const received = (id: string, message: WAMessage['message']) =>
      toInboundMessage(
        { key: { remoteJid: contact, fromMe: false, id }, message, messageTimestamp: 1 },
        ownJid,
      )
    expect(
      received('L1', {
        locationMessage: {
          degreesLatitude: -6.175,
          degreesLongitude: 106.827,
          name: 'Monas',
          address: 'Gambir',
        },
      }),
    ).toMatchObject({
      id: 'L1',
      waMessageId: 'L1',
      type: 'location',
      location: { latitude: -6.175, longitude: 106.827, name: 'Monas', address: 'Gambir' },
    })
    const vcard =
      'BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nTEL;type=CELL;waid=6281234567890:+62 812-3456-7890\nEND:VCARD'
    expect(received('C1', { contactMessage: { displayName: 'Budi', vcard } })).toMatchObject({
      type: 'contact',
      contacts: [{ name: 'Budi', phone: '6281234567890' }],
    })
    expect(
      received('C2', {
        contactsArrayMessage: {
          displayName: '2 contacts',
          contacts: [
            { displayName: 'Budi', vcard },
            { vcard: 'BEGIN:VCARD\r\nFN:Sari\r\nTEL:+62 813 0000 0001\r\nEND:VCARD' },
          ],
        },
      }),
    ).toMatchObject({
      type: 'contact',
      contacts: [
        { name: 'Budi', phone: '6281234567890' },
        { name: 'Sari', phone: '6281300000001' },
      ],
    })
    expect(
      received('R1', {
        reactionMessage: { key: { remoteJid: contact, fromMe: true, id: 'OUT9' }, text: '👍' },
      }),
    ).toMatchObject({ type: 'reaction', reaction: { messageId: 'OUT9', emoji: '👍' } })
    expect(
      received('R2', {
        reactionMessage: { key: { remoteJid: contact, fromMe: true, id: 'OUT9' }, text: '' },
      }),
    ).toMatchObject({ type: 'reaction', reaction: { messageId: 'OUT9', emoji: '' } })
    const reply = received('Q1', {
      extendedTextMessage: {
        text: 'ya @6285800000001',
        contextInfo: {
          stanzaId: 'OUT9',
          participant: ownJid,
          quotedMessage: { conversation: 'jadi?' },
          mentionedJid: ['6285800000001@s.whatsapp.net'],
        },
      },
    })
    expect(reply).toMatchObject({
      type: 'text',
      text: 'ya @6285800000001',
      replyToWaMessageId: 'OUT9',
      mentions: ['6285800000001'],
    })
    const quotedLocation = received('Q2', {
      locationMessage: { degreesLatitude: 1, degreesLongitude: 2, contextInfo: { stanzaId: 'IN7' } },
    })
    expect(quotedLocation).toMatchObject({
      type: 'location',
      location: { latitude: 1, longitude: 2 },
      replyToWaMessageId: 'IN7',
    })
    expect(received('T1', { conversation: 'plain' })).toEqual({
      id: 'T1',
      waMessageId: 'T1',
      chatId: contact,
      from: contact,
      fromMe: false,
      timestamp: 1,
      type: 'text',
      text: 'plain',
    })
  })

  it('reads a vCard without a waid or a display name', () => {
    expect(
      contactFromVcard(undefined, 'BEGIN:VCARD\nFN:Ana\nitem1.TEL:+1 (555) 010-0000\nEND:VCARD'),
    ).toEqual({
      name: 'Ana',
      phone: '15550100000',
    })
    expect(contactFromVcard('Nobody', undefined)).toEqual({ name: 'Nobody', phone: '' })
  })

  it("leaves out a chat whose only news is a received message's time: that message's append moves it", () => {
    const other = '6281400000009@s.whatsapp.net'
    const echoOnly = toProviderEvents(
      {
        'messages.upsert': { type: 'notify', messages: [text('IN1', 'halo')] },
        'chats.update': [{ id: contact, conversationTimestamp: 1_700_000_000, unreadCount: 1 }],
      },
      ownJid,
    )
    expect(echoOnly.map((event) => event.type)).toEqual(['messages', 'contacts'])

    const events = toProviderEvents(
      {
        'messages.upsert': { type: 'notify', messages: [text('IN2', 'lagi'), text('OUT2', 'mine', true)] },
        'chats.update': [
          // The same time, but a name too; a later time (the account wrote on its phone); another chat.
          { id: contact, conversationTimestamp: 1_700_000_000, name: 'Budi' },
          { id: contact, conversationTimestamp: 1_700_000_050 },
          { id: other, conversationTimestamp: 1_700_000_000 },
        ],
      },
      ownJid,
    )
    expect(events.find((event) => event.type === 'chats')).toEqual({
      type: 'chats',
      chats: [
        { chatId: contact, name: 'Budi', lastActivityAt: 1_700_000_000 },
        { chatId: contact, lastActivityAt: 1_700_000_050 },
        { chatId: other, lastActivityAt: 1_700_000_000 },
      ],
    })
  })

  it('maps the history sync, chat and contact events, LID mappings and message senders to chats and contacts', () => {
    const lid = '123456789012345@lid'
    const batch = {
      'messaging-history.set': {
        chats: [
          { id: lid, pnJid: contact, name: 'Budi', unreadCount: 3, conversationTimestamp: 1_700_000_000 },
          { id: '120363000000000001@g.us', name: 'Arisan', unreadCount: 0 },
        ],
        contacts: [{ id: contact, notify: 'Budi' }],
        messages: [],
        lidPnMappings: [{ lid: '99887766554433@lid', pn: '6281400000002@s.whatsapp.net' }],
      },
      'chats.update': [
        { id: '6281400000003@s.whatsapp.net', unreadCount: 1 },
        { id: '6281400000004@s.whatsapp.net', unreadCount: 0 },
      ],
      'contacts.upsert': [{ id: '6281400000005:2@s.whatsapp.net', name: 'Pak Joko' }],
      'lid-mapping.update': { lid: '55554444333322@lid', pn: '6281400000006@s.whatsapp.net' },
      'messages.upsert': {
        type: 'notify' as const,
        messages: [
          {
            key: { remoteJid: '11112222333344@lid', remoteJidAlt: '6281400000007@s.whatsapp.net', id: 'L1' },
            message: { conversation: 'hi' },
            pushName: 'Sari',
          },
          text('OWN', 'mine', true),
        ],
      },
    }
    expect(toChatInfos(batch)).toEqual([
      { chatId: contact, name: 'Budi', unreadCount: 3, lastActivityAt: 1_700_000_000 },
      { chatId: '120363000000000001@g.us', name: 'Arisan', unreadCount: 0 },
      // A live count only follows the traffic; "read on the phone" (0) is news.
      { chatId: '6281400000003@s.whatsapp.net' },
      { chatId: '6281400000004@s.whatsapp.net', unreadCount: 0 },
    ])
    expect(toContactInfos(batch)).toEqual([
      { phoneJid: '6281400000007@s.whatsapp.net', lid: '11112222333344@lid', pushName: 'Sari' },
      { phoneJid: contact, pushName: 'Budi' },
      { phoneJid: '6281400000005@s.whatsapp.net', savedName: 'Pak Joko' },
      { phoneJid: '6281400000002@s.whatsapp.net', lid: '99887766554433@lid' },
      { phoneJid: '6281400000006@s.whatsapp.net', lid: '55554444333322@lid' },
    ])
  })
})
