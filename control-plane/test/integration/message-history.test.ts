import { recordChats, recordContacts } from '@wa-cluster/core'
import { newId } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let keyA: string
let keyB: string
let tenantA: string
let sessionA: string
let sessionA2: string
let sessionB: string

const BUDI = '6281234567890@s.whatsapp.net'
const BUDI_LID = '111122223333444@lid'
const SARI = '6289876543210@s.whatsapp.net'

/** A stored message row, `minutesAgo` old (its id carries the same time, as ids are time-sortable). */
async function storeMessage(input: {
  sessionId: string
  tenantId: string
  direction: 'in' | 'out'
  chatId: string
  status: string
  text: string
  type?: string
  metadata?: Record<string, string>
  minutesAgo?: number
}): Promise<string> {
  const at = Date.now() - (input.minutesAgo ?? 0) * 60_000
  const id = `msg_${at.toString(36).padStart(10, '0')}${newId('x').slice(-12)}`
  await api.ctx.database.rows(sql`
    INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, wa_message_id, type, text, status,
      metadata, sender, created_at)
    VALUES (${id}, ${input.tenantId}, ${input.sessionId}, ${input.direction}, ${input.chatId}, ${newId('wa')},
      ${input.type ?? 'text'}, ${input.text}, ${input.status},
      ${input.metadata ? JSON.stringify(input.metadata) : null}::jsonb,
      ${input.direction === 'in' ? input.chatId : null}, ${new Date(at).toISOString()}::timestamptz)`)
  return id
}

async function epochOf(sessionId: string): Promise<number> {
  const [row] = await api.ctx.database.rows<{ epoch: number }>(
    sql`SELECT epoch::int AS epoch FROM sessions WHERE id = ${sessionId}`,
  )
  return row!.epoch
}

function get(path: string, key = keyA) {
  return api.call('GET', path, { key })
}

beforeAll(async () => {
  api = await createTestApi('cp_history')
  const a = await createTenantThroughApi(api, 'History A')
  tenantA = a.tenantId
  keyA = a.apiKey
  keyB = (await createTenantThroughApi(api, 'History B')).apiKey
  sessionA = (await api.call('POST', '/v1/sessions', { key: keyA, body: {} })).body.id
  sessionA2 = (await api.call('POST', '/v1/sessions', { key: keyA, body: {} })).body.id
  sessionB = (await api.call('POST', '/v1/sessions', { key: keyB, body: {} })).body.id
  const tenantB = (
    await api.ctx.database.rows<{ tenant_id: string }>(
      sql`SELECT tenant_id FROM sessions WHERE id = ${sessionB}`,
    )
  )[0]!.tenant_id
  // A day of one chat with Budi, one with Sari, and a message on another session and tenant.
  await storeMessage({
    sessionId: sessionA,
    tenantId: tenantA,
    direction: 'out',
    chatId: BUDI,
    status: 'read',
    text: 'invoice 1',
    metadata: { customerId: '123', invoiceId: 'INV-1' },
    minutesAgo: 300,
  })
  await storeMessage({
    sessionId: sessionA,
    tenantId: tenantA,
    direction: 'in',
    chatId: BUDI,
    status: 'received',
    text: 'thanks',
    minutesAgo: 290,
  })
  await storeMessage({
    sessionId: sessionA,
    tenantId: tenantA,
    direction: 'out',
    chatId: SARI,
    status: 'failed',
    text: 'invoice 2',
    metadata: { customerId: '456' },
    minutesAgo: 200,
  })
  await storeMessage({
    sessionId: sessionA,
    tenantId: tenantA,
    direction: 'out',
    chatId: BUDI,
    status: 'sent',
    text: 'invoice 3',
    metadata: { customerId: '123', invoiceId: 'INV-3' },
    minutesAgo: 100,
  })
  // Received by LID before the mapping was known.
  await storeMessage({
    sessionId: sessionA,
    tenantId: tenantA,
    direction: 'in',
    chatId: BUDI_LID,
    status: 'received',
    text: 'paid',
    type: 'text',
    minutesAgo: 50,
  })
  await storeMessage({
    sessionId: sessionA2,
    tenantId: tenantA,
    direction: 'in',
    chatId: SARI,
    status: 'received',
    text: 'other session',
    type: 'image',
    minutesAgo: 10,
  })
  await storeMessage({
    sessionId: sessionB,
    tenantId: tenantB,
    direction: 'out',
    chatId: BUDI,
    status: 'sent',
    text: 'tenant B secret',
    metadata: { customerId: '123' },
    minutesAgo: 5,
  })
  const epoch = await epochOf(sessionA)
  await recordContacts(api.ctx.database, {
    sessionId: sessionA,
    epoch,
    contacts: [
      { phoneJid: BUDI, lid: BUDI_LID, pushName: 'Budi' },
      { phoneJid: SARI, savedName: 'Bu Sari' },
    ],
  })
  await recordChats(api.ctx.database, {
    sessionId: sessionA,
    epoch,
    chats: [
      { chatId: BUDI, unreadCount: 1, lastActivityAt: Math.floor(Date.now() / 1000) - 3000 },
      { chatId: SARI, lastActivityAt: Math.floor(Date.now() / 1000) - 12_000 },
      {
        chatId: '120363000000000001@g.us',
        name: 'Arisan',
        lastActivityAt: Math.floor(Date.now() / 1000) - 6000,
      },
    ],
  })
})
afterAll(async () => {
  await api?.close()
})

const texts = (response: { body: { data: { text: string | null }[] } }) =>
  response.body.data.map((message) => message.text)

describe('message history', () => {
  it('lists every session of the tenant, newest first, inbound and outbound, never another tenant’s', async () => {
    const response = await get('/v1/messages')
    expect(response.status).toBe(200)
    expect(texts(response)).toEqual([
      'other session',
      'paid',
      'invoice 3',
      'invoice 2',
      'thanks',
      'invoice 1',
    ])
    expect(response.body.data[1]).toMatchObject({ direction: 'in', status: 'received', chatId: BUDI_LID })
    expect(texts(await get('/v1/messages', keyB))).toEqual(['tenant B secret'])
  })

  it('pages with a stable cursor that new messages do not shift', async () => {
    const first = await get(`/v1/sessions/${sessionA}/messages?limit=2`)
    expect(texts(first)).toEqual(['paid', 'invoice 3'])
    await storeMessage({
      sessionId: sessionA,
      tenantId: tenantA,
      direction: 'in',
      chatId: SARI,
      status: 'received',
      text: 'newer',
      minutesAgo: 0,
    })
    const second = await get(`/v1/sessions/${sessionA}/messages?limit=2&after=${first.body.nextCursor}`)
    expect(texts(second)).toEqual(['invoice 2', 'thanks'])
    const last = await get(`/v1/sessions/${sessionA}/messages?limit=2&after=${second.body.nextCursor}`)
    expect(texts(last)).toEqual(['invoice 1'])
    expect(last.body.nextCursor).toBeNull()
  })

  it('filters by direction, status, type, time and metadata', async () => {
    const path = `/v1/sessions/${sessionA}/messages`
    expect(texts(await get(`${path}?direction=out`))).toEqual(['invoice 3', 'invoice 2', 'invoice 1'])
    expect(texts(await get(`${path}?status=failed`))).toEqual(['invoice 2'])
    expect(texts(await get(`/v1/messages?type=image`))).toEqual(['other session'])
    const from = encodeURIComponent(new Date(Date.now() - 250 * 60_000).toISOString())
    const until = encodeURIComponent(new Date(Date.now() - 60 * 60_000).toISOString())
    expect(texts(await get(`${path}?from=${from}&until=${until}`))).toEqual(['invoice 3', 'invoice 2'])
    expect(texts(await get('/v1/messages?metadata.customerId=123'))).toEqual(['invoice 3', 'invoice 1'])
    expect(
      texts(await get('/v1/messages?metadata.customerId=123&metadata.invoiceId=INV-1&status=read')),
    ).toEqual(['invoice 1'])
  })

  it('a chatId in any number format finds the chat, also what was received by LID before the mapping', async () => {
    for (const chatId of ['0812-3456-7890', '+62 812 3456 7890', '6281234567890', BUDI, BUDI_LID]) {
      const response = await get(`/v1/sessions/${sessionA}/messages?chatId=${encodeURIComponent(chatId)}`)
      expect(texts(response), chatId).toEqual(['paid', 'invoice 3', 'thanks', 'invoice 1'])
    }
    const chat = await get(
      `/v1/sessions/${sessionA}/chats/${encodeURIComponent('0812 3456 7890')}/messages?direction=in`,
    )
    expect(texts(chat)).toEqual(['paid', 'thanks'])
  })

  it('a bad filter is 400 naming the field and changes nothing', async () => {
    const before = await snapshotDatabase(api)
    const cases: [string, string][] = [
      ['/v1/messages?direction=sideways', 'query.direction'],
      ['/v1/messages?status=lost', 'query.status'],
      ['/v1/messages?type=te%20xt', 'query.type'],
      ['/v1/messages?from=yesterday', 'query.from'],
      ['/v1/messages?until=2025-13-01', 'query.until'],
      ['/v1/messages?from=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z', 'query.until'],
      ['/v1/messages?chatId=hello', 'query.chatId'],
      ['/v1/messages?after=evt_123', 'query.after'],
      ['/v1/messages?limit=0', 'query.limit'],
      ['/v1/messages?metadata.bad%20key=1', 'query.metadata.bad key'],
      ['/v1/messages?metadata.a=1&metadata.a=2', 'query.metadata.a'],
      [`/v1/messages?metadata.k=${'x'.repeat(513)}`, 'query.metadata.k'],
      [`/v1/sessions/${sessionA}/chats/not-a-number/messages`, 'path.chatId'],
      [`/v1/sessions/${sessionA}/chats?after=${encodeURIComponent('bm9wZQ')}`, 'query.after'],
      [`/v1/sessions/${sessionA}/contacts?after=someone`, 'query.after'],
    ]
    for (const [path, field] of cases) {
      const response = await get(path)
      expect(response.status, path).toBe(400)
      expect(response.body.error.field, path).toBe(field)
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})

describe('chats and contacts', () => {
  it('lists chats newest activity first with the last message, unread count, phone and name', async () => {
    const response = await get(`/v1/sessions/${sessionA}/chats?limit=2`)
    expect(response.status).toBe(200)
    expect(response.body.data).toEqual([
      expect.objectContaining({
        chatId: BUDI,
        phone: '6281234567890',
        name: 'Budi',
        unreadCount: 1,
        lastMessage: null,
      }),
      expect.objectContaining({
        chatId: '120363000000000001@g.us',
        phone: null,
        name: 'Arisan',
        unreadCount: 0,
      }),
    ])
    const next = await get(`/v1/sessions/${sessionA}/chats?limit=2&after=${response.body.nextCursor}`)
    expect(next.body.data.map((chat: { chatId: string; name: string }) => [chat.chatId, chat.name])).toEqual([
      [SARI, 'Bu Sari'],
    ])
    expect(next.body.nextCursor).toBeNull()
  })

  it('lists contacts with phone, JID, LID, push name and saved name', async () => {
    const response = await get(`/v1/sessions/${sessionA}/contacts`)
    expect(response.body).toEqual({
      data: [
        { jid: BUDI, phone: '6281234567890', lid: BUDI_LID, pushName: 'Budi', savedName: null },
        { jid: SARI, phone: '6289876543210', lid: null, pushName: null, savedName: 'Bu Sari' },
      ],
      nextCursor: null,
    })
  })

  it('another tenant’s session is 404 on every history endpoint', async () => {
    for (const path of [
      `/v1/sessions/${sessionA}/messages`,
      `/v1/sessions/${sessionA}/chats`,
      `/v1/sessions/${sessionA}/chats/${encodeURIComponent(BUDI)}/messages`,
      `/v1/sessions/${sessionA}/contacts`,
    ]) {
      const response = await get(path, keyB)
      expect(response.status, path).toBe(404)
      expect(response.body.error.code).toBe('not_found')
    }
  })
})
