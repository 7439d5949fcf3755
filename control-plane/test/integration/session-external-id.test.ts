import { failStaleQueuedSends } from '@wa-cluster/core'
import { messages } from '@wa-cluster/db'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSendableSession,
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let key: string
let otherKey: string
beforeAll(async () => {
  api = await createTestApi('cp_session_external_id')
  key = (await createTenantThroughApi(api, 'External ids')).apiKey
  otherKey = (await createTenantThroughApi(api, 'Other tenant')).apiKey
})
afterAll(async () => {
  await api?.close()
})

describe('session externalId', () => {
  it('is stored, unique per tenant (409 naming the field), and listed by ?externalId=', async () => {
    const created = await api.call('POST', '/v1/sessions', {
      key,
      body: { name: 'Budi', externalId: 'customer-123' },
    })
    expect(created.status).toBe(201)
    expect(created.body.externalId).toBe('customer-123')
    expect((await api.call('POST', '/v1/sessions', { key, body: {} })).body.externalId).toBeNull()

    const before = await snapshotDatabase(api)
    const duplicate = await api.call('POST', '/v1/sessions', { key, body: { externalId: 'customer-123' } })
    expect(duplicate.status).toBe(409)
    expect(duplicate.body.error.code).toBe('external_id_taken')
    expect(duplicate.body.error.message).toMatch(/body\.externalId/)
    expect(await snapshotDatabase(api)).toEqual(before)

    // Another tenant's keys are its own.
    const other = await api.call('POST', '/v1/sessions', {
      key: otherKey,
      body: { externalId: 'customer-123' },
    })
    expect(other.status).toBe(201)

    const listed = await api.call('GET', '/v1/sessions?externalId=customer-123', { key })
    expect(listed.status).toBe(200)
    expect(listed.body.data.map((session: { id: string }) => session.id)).toEqual([created.body.id])
    const none = await api.call('GET', '/v1/sessions?externalId=nobody', { key })
    expect(none.body.data).toEqual([])
  })

  it('refuses a bad externalId with 400 naming the field', async () => {
    for (const externalId of ['', ' padded', 'x'.repeat(129), 'tab\there']) {
      const response = await api.call('POST', '/v1/sessions', { key, body: { externalId } })
      expect(response.status, JSON.stringify(externalId)).toBe(400)
      expect(response.body.error.field).toBe('body.externalId')
    }
    const query = await api.call('GET', `/v1/sessions?externalId=${'x'.repeat(200)}`, { key })
    expect(query.status).toBe(400)
    expect(query.body.error.field).toBe('query.externalId')
  })

  it('rides on every event of the session, with the message metadata and error on messages.update', async () => {
    const sessionId = await createSendableSession(api, key, { externalId: 'customer-777' })
    const sent = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key,
      body: { to: '081234567890', text: 'Tagihan', metadata: { invoiceId: 'INV-7' } },
    })
    expect(sent.status).toBe(202)
    // The session never connects: the message waited too long (backdated, not slept) and fails.
    await api.ctx.database.db
      .update(messages)
      .set({ createdAt: new Date(Date.now() - 120_000) })
      .where(eq(messages.id, sent.body.id))
    expect(await failStaleQueuedSends(api.ctx.database, { olderThanMs: 60_000, limit: 100 })).toBe(1)

    const events = (await api.call('GET', `/v1/events?sessionId=${sessionId}&limit=100`, { key })).body.data
    const update = events.find((event: { type: string }) => event.type === 'messages.update')
    expect(update.data).toEqual({
      externalId: 'customer-777',
      updates: [
        {
          id: sent.body.id,
          chatId: '6281234567890@s.whatsapp.net',
          status: 'failed',
          metadata: { invoiceId: 'INV-7' },
          error: { code: 'session_not_connected', message: 'the session did not connect in time to send it' },
        },
      ],
    })
    const message = await api.call('GET', `/v1/sessions/${sessionId}/messages/${sent.body.id}`, { key })
    expect(message.body).toMatchObject({
      status: 'failed',
      metadata: { invoiceId: 'INV-7' },
      error: { code: 'session_not_connected' },
    })
  })
})
