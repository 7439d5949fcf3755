import { recordChats, recordContacts } from '@wa-cluster/core'
import type { InboundMessage } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { seedSession, seedTenant } from '../../../test-support/seed.js'
import {
  recordInboundMessages,
  recordReceivedMessageOnce,
  recordStatusUpdates,
} from '../../src/messages/message-events.js'

let test: TestDatabase
beforeAll(async () => {
  test = await createTestDatabase('message_history')
})
afterAll(async () => {
  await test?.drop()
})

const received = (waMessageId: string, overrides: Partial<InboundMessage> = {}): InboundMessage => ({
  id: waMessageId,
  waMessageId,
  chatId: '6281111111111@s.whatsapp.net',
  from: '6281111111111@s.whatsapp.net',
  fromMe: false,
  timestamp: 1_700_000_000,
  pushName: 'Budi',
  type: 'text',
  text: `text of ${waMessageId}`,
  ...overrides,
})

async function historyOf(sessionId: string) {
  return test.handle.rows<{
    direction: string
    chat_id: string
    wa_message_id: string
    status: string
    text: string | null
    sender: string | null
    sender_name: string | null
  }>(sql`SELECT direction, chat_id, wa_message_id, status, text, sender, sender_name FROM messages
    WHERE session_id = ${sessionId} ORDER BY id`)
}

async function chatOf(sessionId: string, chatId: string) {
  const [chat] = await test.handle.rows<{ unread_count: number; last_message_id: string | null }>(
    sql`SELECT unread_count, last_message_id FROM chats WHERE session_id = ${sessionId} AND chat_id = ${chatId}`,
  )
  return chat
}

describe('received messages in the history', () => {
  it('a received message is one messages row beside its event, and a redelivery adds neither', async () => {
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    const first = await recordReceivedMessageOnce(test.handle, {
      sessionId,
      epoch: 1,
      message: received('A1'),
    })
    expect(first?.envelopes).toHaveLength(1)
    const again = await recordReceivedMessageOnce(test.handle, {
      sessionId,
      epoch: 1,
      message: received('A1'),
    })
    expect(again).toBeUndefined()
    expect(await historyOf(sessionId)).toEqual([
      {
        direction: 'in',
        chat_id: '6281111111111@s.whatsapp.net',
        wa_message_id: 'A1',
        status: 'received',
        text: 'text of A1',
        sender: '6281111111111@s.whatsapp.net',
        sender_name: 'Budi',
      },
    ])
    const [stored] = await test.handle.rows<{ id: string }>(
      sql`SELECT id FROM messages WHERE session_id = ${sessionId}`,
    )
    expect(await chatOf(sessionId, '6281111111111@s.whatsapp.net')).toEqual({
      unread_count: 1,
      last_message_id: stored!.id,
    })
  })

  it('files a LID-addressed one-to-one message under the sender phone, skips our own echoes, and a stale owner stores nothing', async () => {
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId, 2)
    await recordInboundMessages(test.handle, {
      sessionId,
      epoch: 2,
      messages: [
        received('L1', { chatId: '123456789012345@lid', from: '6282222222222@s.whatsapp.net' }),
        received('L2', { chatId: '123456789012345@lid', from: '6282222222222@s.whatsapp.net' }),
        received('ME', { fromMe: true, from: '6280000000000@s.whatsapp.net' }),
      ],
    })
    const history = await historyOf(sessionId)
    expect(history.map((row) => [row.chat_id, row.wa_message_id])).toEqual([
      ['6282222222222@s.whatsapp.net', 'L1'],
      ['6282222222222@s.whatsapp.net', 'L2'],
    ])
    expect((await chatOf(sessionId, '6282222222222@s.whatsapp.net'))?.unread_count).toBe(2)
    await expect(
      recordInboundMessages(test.handle, { sessionId, epoch: 1, messages: [received('STALE')] }),
    ).rejects.toThrow()
    expect(await historyOf(sessionId)).toHaveLength(2)
  })

  it('a sent message becomes its chat’s last message and clears the unread count; a later receipt does not move it again', async () => {
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    const chatId = '6283333333333@s.whatsapp.net'
    await recordReceivedMessageOnce(test.handle, {
      sessionId,
      epoch: 1,
      message: received('IN1', { chatId, from: chatId }),
    })
    await test.handle.rows(sql`
      INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, wa_message_id, status)
      VALUES ('msg_zzzzzzzzzzout1', ${tenantId}, ${sessionId}, 'out', ${chatId}, 'OUT1', 'sending')`)
    await recordStatusUpdates(test.handle, {
      sessionId,
      epoch: 1,
      updates: [{ waMessageId: 'OUT1', chatId, status: 'sent' }],
    })
    expect(await chatOf(sessionId, chatId)).toEqual({
      unread_count: 0,
      last_message_id: 'msg_zzzzzzzzzzout1',
    })
    await recordReceivedMessageOnce(test.handle, {
      sessionId,
      epoch: 1,
      message: received('IN2', { chatId, from: chatId, timestamp: Math.floor(Date.now() / 1000) + 5 }),
    })
    await recordStatusUpdates(test.handle, {
      sessionId,
      epoch: 1,
      updates: [{ waMessageId: 'OUT1', chatId, status: 'read' }],
    })
    const chat = await chatOf(sessionId, chatId)
    expect(chat?.unread_count).toBe(1)
    expect(chat?.last_message_id).not.toBe('msg_zzzzzzzzzzout1')
  })
})

describe('contacts and chats from WhatsApp', () => {
  it('a contact known by LID alone folds into its phone number once the mapping comes, and a LID chat is filed under it', async () => {
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    await recordContacts(test.handle, {
      sessionId,
      epoch: 1,
      contacts: [{ lid: '99887766554433@lid', pushName: 'Sari' }],
    })
    await recordContacts(test.handle, {
      sessionId,
      epoch: 1,
      contacts: [
        { phoneJid: '6284444444444@s.whatsapp.net', lid: '99887766554433@lid' },
        { phoneJid: '6285555555555@s.whatsapp.net', savedName: 'Pak Joko' },
      ],
    })
    const contacts = await test.handle.rows(
      sql`SELECT jid, lid, push_name, saved_name FROM contacts WHERE session_id = ${sessionId} ORDER BY jid`,
    )
    expect(contacts).toEqual([
      { jid: '6284444444444@s.whatsapp.net', lid: '99887766554433@lid', push_name: 'Sari', saved_name: null },
      { jid: '6285555555555@s.whatsapp.net', lid: null, push_name: null, saved_name: 'Pak Joko' },
    ])
    await recordChats(test.handle, {
      sessionId,
      epoch: 1,
      chats: [{ chatId: '99887766554433@lid', name: 'Sari', unreadCount: 3, lastActivityAt: 1_700_000_100 }],
    })
    await recordChats(test.handle, {
      sessionId,
      epoch: 1,
      chats: [{ chatId: '99887766554433@lid', lastActivityAt: 1_600_000_000 }],
    })
    const chats = await test.handle.rows(sql`
      SELECT chat_id, name, unread_count, extract(epoch FROM last_activity_at)::int AS at
      FROM chats WHERE session_id = ${sessionId}`)
    expect(chats).toEqual([
      { chat_id: '6284444444444@s.whatsapp.net', name: 'Sari', unread_count: 3, at: 1_700_000_100 },
    ])
    expect(await recordChats(test.handle, { sessionId, epoch: 7, chats: [{ chatId: '1@g.us' }] })).toBe(0)
  })
})
