import { recordChats, recordContacts } from '@wa-cluster/core'
import { newId } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHistoryRetention } from '../../src/cluster/history-retention.js'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
const DAY = 24 * 3600_000

/** An id minted `daysAgo` days ago (ids are time-sortable). */
function idFrom(prefix: string, daysAgo: number): string {
  const at = Date.now() - daysAgo * DAY
  return `${prefix}_${at.toString(36).padStart(10, '0')}${newId('x').slice(-12)}`
}

async function storeMessage(tenantId: string, sessionId: string, daysAgo: number, status = 'received') {
  const at = new Date(Date.now() - daysAgo * DAY).toISOString()
  await api.ctx.database.rows(sql`
    INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, type, text, status, created_at)
    VALUES (${idFrom('msg', daysAgo)}, ${tenantId}, ${sessionId}, ${status === 'received' ? 'in' : 'out'},
      '6281234567890@s.whatsapp.net', 'text', ${`${daysAgo} days old`}, ${status}, ${at}::timestamptz)`)
}

async function storeReceivedEvent(tenantId: string, sessionId: string, daysAgo: number, delivery: string) {
  const at = new Date(Date.now() - daysAgo * DAY).toISOString()
  await api.ctx.database.rows(sql`
    WITH session AS (UPDATE sessions SET last_seq = last_seq + 1 WHERE id = ${sessionId} RETURNING last_seq)
    INSERT INTO events (id, tenant_id, session_id, seq, type, data, delivery, occurred_at)
    SELECT ${idFrom('evt', daysAgo)}, ${tenantId}, ${sessionId}, last_seq, 'messages.upsert',
      ${JSON.stringify({ messages: [{ text: `${daysAgo} days old` }] })}::jsonb, ${delivery}, ${at}::timestamptz
    FROM session`)
}

async function textsOf(sessionId: string, table: 'messages' | 'events'): Promise<string[]> {
  const rows = await api.ctx.database.rows<{ text: string }>(
    table === 'messages'
      ? sql`SELECT text FROM messages WHERE session_id = ${sessionId} ORDER BY id`
      : sql`SELECT data -> 'messages' -> 0 ->> 'text' AS text FROM events WHERE session_id = ${sessionId} ORDER BY id`,
  )
  return rows.map((row) => row.text)
}

async function newSession(key: string): Promise<{ sessionId: string; tenantId: string }> {
  const sessionId = (await api.call('POST', '/v1/sessions', { key, body: {} })).body.id
  const [row] = await api.ctx.database.rows<{ tenant_id: string }>(
    sql`SELECT tenant_id FROM sessions WHERE id = ${sessionId}`,
  )
  return { sessionId, tenantId: row!.tenant_id }
}

beforeAll(async () => {
  api = await createTestApi('cp_retention')
})
afterAll(async () => {
  await api?.close()
})

describe('history retention', () => {
  it('deletes messages and received-message events past each tenant’s retention, in batches, and keeps the rest', async () => {
    const short = await createTenantThroughApi(api, 'Short retention')
    const patched = await api.call('PATCH', `/v1/tenants/${short.tenantId}`, {
      key: TEST_ADMIN_KEY,
      body: { retentionDays: 30 },
    })
    expect(patched.status).toBe(200)
    expect(patched.body.retentionDays).toBe(30)
    const standard = await createTenantThroughApi(api, 'Default retention')
    expect(
      (await api.call('GET', `/v1/tenants/${standard.tenantId}`, { key: TEST_ADMIN_KEY })).body.retentionDays,
    ).toBe(90)
    const a = await newSession(short.apiKey)
    const b = await newSession(standard.apiKey)
    for (const session of [a, b]) {
      for (const daysAgo of [120, 100, 95, 60, 40, 10, 0])
        await storeMessage(session.tenantId, session.sessionId, daysAgo)
      // A send scheduled long ago and still waiting keeps its row whatever its age.
      await storeMessage(session.tenantId, session.sessionId, 200, 'queued')
      await storeReceivedEvent(session.tenantId, session.sessionId, 100, 'delivered')
      await storeReceivedEvent(session.tenantId, session.sessionId, 99, 'pending')
      await storeReceivedEvent(session.tenantId, session.sessionId, 5, 'delivered')
    }
    const retention = createHistoryRetention({
      database: api.ctx.database,
      logger: api.ctx.logger,
      isLeader: () => true,
      config: { RETENTION_INTERVAL_MS: 60_000, RETENTION_BATCH_SIZE: 2, RETENTION_PAUSE_MS: 0 },
    })
    const deleted = await retention.runOnce()
    expect(await textsOf(a.sessionId, 'messages')).toEqual(['200 days old', '10 days old', '0 days old'])
    expect(await textsOf(b.sessionId, 'messages')).toEqual([
      '200 days old',
      '60 days old',
      '40 days old',
      '10 days old',
      '0 days old',
    ])
    expect(await textsOf(a.sessionId, 'events')).toEqual(['99 days old', '5 days old'])
    expect(await textsOf(b.sessionId, 'events')).toEqual(['99 days old', '5 days old'])
    expect(deleted).toEqual({ messages: 5 + 3, events: 2 })
    // A second pass finds nothing more.
    expect(await retention.runOnce()).toEqual({ messages: 0, events: 0 })
  })

  it('a bad retentionDays is 400 naming the field and changes nothing', async () => {
    const tenant = await createTenantThroughApi(api, 'Bad retention')
    const before = await snapshotDatabase(api)
    for (const retentionDays of [0, 3651, 1.5, '30']) {
      const response = await api.call('PATCH', `/v1/tenants/${tenant.tenantId}`, {
        key: TEST_ADMIN_KEY,
        body: { retentionDays },
      })
      expect(response.status, String(retentionDays)).toBe(400)
      expect(response.body.error.field).toBe('body.retentionDays')
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('deleting a session deletes its history: messages, chats, contacts and received-message events', async () => {
    const tenant = await createTenantThroughApi(api, 'Deletes')
    const kept = await newSession(tenant.apiKey)
    const doomed = await newSession(tenant.apiKey)
    for (const session of [kept, doomed]) {
      await storeMessage(session.tenantId, session.sessionId, 1)
      await storeReceivedEvent(session.tenantId, session.sessionId, 1, 'delivered')
      await recordContacts(api.ctx.database, {
        sessionId: session.sessionId,
        epoch: 0,
        contacts: [{ phoneJid: '6281234567890@s.whatsapp.net', pushName: 'Budi' }],
      })
      await recordChats(api.ctx.database, {
        sessionId: session.sessionId,
        epoch: 0,
        chats: [{ chatId: '6281234567890@s.whatsapp.net', unreadCount: 1 }],
      })
    }
    const response = await api.call('DELETE', `/v1/sessions/${doomed.sessionId}`, { key: tenant.apiKey })
    expect(response.status).toBe(204)
    const countsOf = async (sessionId: string) =>
      (
        await api.ctx.database.rows<Record<string, number>>(sql`
          SELECT (SELECT count(*)::int FROM messages WHERE session_id = ${sessionId}) AS messages,
            (SELECT count(*)::int FROM chats WHERE session_id = ${sessionId}) AS chats,
            (SELECT count(*)::int FROM contacts WHERE session_id = ${sessionId}) AS contacts,
            (SELECT count(*)::int FROM events WHERE session_id = ${sessionId} AND type = 'messages.upsert') AS received`)
      )[0]
    expect(await countsOf(doomed.sessionId)).toEqual({ messages: 0, chats: 0, contacts: 0, received: 0 })
    expect(await countsOf(kept.sessionId)).toEqual({ messages: 1, chats: 1, contacts: 1, received: 1 })
  })
})
