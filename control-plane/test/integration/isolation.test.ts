import { appendEvent } from '@wa-cluster/core'
import { sessions } from '@wa-cluster/db'
import { eq } from 'drizzle-orm'
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
let sessionA: string
let messageA: string
let eventA: string
let webhookSecretA: string

beforeAll(async () => {
  api = await createTestApi('cp_isolation')
  keyA = (await createTenantThroughApi(api, 'Tenant A')).apiKey
  keyB = (await createTenantThroughApi(api, 'Tenant B')).apiKey
  sessionA = (await api.call('POST', '/v1/sessions', { key: keyA, body: { name: 'A only' } })).body.id
  await api.ctx.database.db
    .update(sessions)
    .set({ desiredState: 'connected', state: 'QR_READY', qr: '2@secret-qr' })
    .where(eq(sessions.id, sessionA))
  messageA = (
    await api.call('POST', `/v1/sessions/${sessionA}/messages`, {
      key: keyA,
      body: { to: '6281234567890', text: 'private' },
      headers: { 'idempotency-key': 'shared-key' },
    })
  ).body.id
  eventA = (
    await appendEvent(api.ctx.database.db, {
      sessionId: sessionA,
      type: 'connection.update',
      data: { state: 'QR_READY', previousState: 'CONNECTING' },
    })
  ).id
  webhookSecretA = (
    await api.call('PUT', '/v1/webhook', { key: keyA, body: { url: 'https://a.example.com/hook' } })
  ).body.secret
})
afterAll(async () => {
  await api?.close()
})

describe('tenant isolation', () => {
  it("tenant B gets 404 for every one of tenant A's ids and changes nothing", async () => {
    const before = await snapshotDatabase(api)
    const calls: [string, string, unknown?][] = [
      ['GET', `/v1/sessions/${sessionA}`],
      ['DELETE', `/v1/sessions/${sessionA}`],
      ['POST', `/v1/sessions/${sessionA}/connect`, {}],
      ['GET', `/v1/sessions/${sessionA}/qr`],
      ['POST', `/v1/sessions/${sessionA}/disconnect`],
      ['POST', `/v1/sessions/${sessionA}/logout`],
      ['POST', `/v1/sessions/${sessionA}/messages`, { to: '6281234567890', text: 'hijack' }],
      ['GET', `/v1/sessions/${sessionA}/messages/${messageA}`],
      ['POST', `/v1/events/${eventA}/redeliver`],
    ]
    for (const [method, path, body] of calls) {
      const response = await api.call(method, path, { key: keyB, body })
      expect(response.status, `${method} ${path}`).toBe(404)
      expect(response.body.error.code).toBe('not_found')
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it("a message id of tenant A is 404 even under tenant B's own session", async () => {
    const sessionB = (await api.call('POST', '/v1/sessions', { key: keyB, body: {} })).body.id
    const response = await api.call('GET', `/v1/sessions/${sessionB}/messages/${messageA}`, { key: keyB })
    expect(response.status).toBe(404)
  })

  it("lists and the webhook never show tenant A's data to tenant B", async () => {
    const sessionsB = await api.call('GET', '/v1/sessions', { key: keyB })
    expect(sessionsB.status).toBe(200)
    expect(JSON.stringify(sessionsB.body)).not.toContain(sessionA)
    const eventsB = await api.call('GET', '/v1/events', { key: keyB })
    expect(eventsB.body.data).toEqual([])
    const eventsBySessionA = await api.call('GET', `/v1/events?sessionId=${sessionA}`, { key: keyB })
    expect(eventsBySessionA.body.data).toEqual([])
    const redeliverB = await api.call('POST', '/v1/events/redeliver', { key: keyB, body: { status: 'dead' } })
    expect(redeliverB.body).toEqual({ redelivered: 0 })

    expect((await api.call('GET', '/v1/webhook', { key: keyB })).status).toBe(404)
    expect((await api.call('DELETE', '/v1/webhook', { key: keyB })).status).toBe(404)
    const webhookB = await api.call('PUT', '/v1/webhook', {
      key: keyB,
      body: { url: 'https://b.example.com/hook' },
    })
    expect(webhookB.body.secret).not.toBe(webhookSecretA)
    const webhookA = await api.call('GET', '/v1/webhook', { key: keyA })
    expect(webhookA.body).toMatchObject({ url: 'https://a.example.com/hook', secret: webhookSecretA })

    // The same Idempotency-Key in another tenant's session is a different message.
    const sessionB = (await api.call('POST', '/v1/sessions', { key: keyB, body: {} })).body.id
    await api.ctx.database.db
      .update(sessions)
      .set({ desiredState: 'connected' })
      .where(eq(sessions.id, sessionB))
    const sendB = await api.call('POST', `/v1/sessions/${sessionB}/messages`, {
      key: keyB,
      body: { to: '6281234567890', text: 'private' },
      headers: { 'idempotency-key': 'shared-key' },
    })
    expect(sendB.status).toBe(202)
    expect(sendB.body.id).not.toBe(messageA)

    // Tenant A still sees its own.
    expect(
      (await api.call('GET', `/v1/sessions/${sessionA}/messages/${messageA}`, { key: keyA })).status,
    ).toBe(200)
    expect(
      (await api.call('GET', '/v1/events', { key: keyA })).body.data.map((event: { id: string }) => event.id),
    ).toEqual([eventA])
  })
})
