import { webhooks } from '@wa-cluster/db'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let key: string
let tenantId: string
beforeAll(async () => {
  api = await createTestApi('cp_webhook')
  ;({ apiKey: key, tenantId } = await createTenantThroughApi(api, 'Webhook'))
})
afterAll(async () => {
  await api?.close()
})

describe('webhook endpoint', () => {
  it('PUT creates it with a whsec_ secret that later PUTs keep and rotateSecret replaces', async () => {
    expect((await api.call('GET', '/v1/webhook', { key })).status).toBe(404)

    const first = await api.call('PUT', '/v1/webhook', { key, body: { url: 'https://example.com/hook' } })
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({
      url: 'https://example.com/hook',
      events: null,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/=]{32,}$/),
    })

    const updated = await api.call('PUT', '/v1/webhook', {
      key,
      body: {
        url: 'https://example.com/hook2',
        events: ['connection.update', 'connection.update', 'messages.upsert'],
      },
    })
    expect(updated.status).toBe(200)
    expect(updated.body).toMatchObject({
      url: 'https://example.com/hook2',
      events: ['connection.update', 'messages.upsert'],
    })
    expect(updated.body.secret).toBe(first.body.secret)
    expect((await api.call('GET', '/v1/webhook', { key })).body).toEqual(updated.body)

    const rotated = await api.call('PUT', '/v1/webhook', {
      key,
      body: { url: 'https://example.com/hook2', rotateSecret: true },
    })
    expect(rotated.status).toBe(200)
    expect(rotated.body.secret).toMatch(/^whsec_/)
    expect(rotated.body.secret).not.toBe(first.body.secret)
    expect(rotated.body.events).toBeNull()

    // At rest the secret is sealed: neither the secret nor its base64 key appears in the column.
    const [row] = await api.ctx.database.db.select().from(webhooks).where(eq(webhooks.tenantId, tenantId))
    const stored = row!.secretSealed
    const secretKeyBytes = Buffer.from(rotated.body.secret.slice('whsec_'.length), 'base64')
    expect(stored.includes(Buffer.from(rotated.body.secret))).toBe(false)
    expect(stored.includes(Buffer.from(rotated.body.secret.slice('whsec_'.length)))).toBe(false)
    expect(stored.includes(secretKeyBytes)).toBe(false)
    expect(api.ctx.secretBox.open(stored, `webhook:${tenantId}`).toString()).toBe(rotated.body.secret)
  })

  it('DELETE removes it; a second DELETE is 404', async () => {
    await api.call('PUT', '/v1/webhook', { key, body: { url: 'http://localhost:9999/hook' } })
    expect((await api.call('DELETE', '/v1/webhook', { key })).status).toBe(204)
    expect((await api.call('GET', '/v1/webhook', { key })).status).toBe(404)
    expect((await api.call('DELETE', '/v1/webhook', { key })).status).toBe(404)
  })

  it('rejects bad URLs and event lists with the field, changing nothing', async () => {
    await api.call('PUT', '/v1/webhook', { key, body: { url: 'https://example.com/kept' } })
    const before = await snapshotDatabase(api)
    const cases: { body?: unknown; rawBody?: string; code: string; field?: string }[] = [
      { body: {}, code: 'validation_failed', field: 'body.url' },
      { body: { url: 'not a url' }, code: 'validation_failed', field: 'body.url' },
      { body: { url: 'ftp://example.com/hook' }, code: 'validation_failed', field: 'body.url' },
      { body: { url: 'javascript:alert(1)' }, code: 'validation_failed', field: 'body.url' },
      { body: { url: '/relative/path' }, code: 'validation_failed', field: 'body.url' },
      {
        body: { url: `https://example.com/${'a'.repeat(2100)}` },
        code: 'validation_failed',
        field: 'body.url',
      },
      { body: { url: 42 }, code: 'validation_failed', field: 'body.url' },
      {
        body: { url: 'https://example.com', events: ['message.sent'] },
        code: 'validation_failed',
        field: 'body.events.0',
      },
      {
        body: { url: 'https://example.com', events: 'connection.update' },
        code: 'validation_failed',
        field: 'body.events',
      },
      { body: { url: 'https://example.com', events: [] }, code: 'validation_failed', field: 'body.events' },
      {
        body: { url: 'https://example.com', rotateSecret: 'yes' },
        code: 'validation_failed',
        field: 'body.rotateSecret',
      },
      {
        body: { url: 'https://example.com', secret: 'whsec_mine' },
        code: 'validation_failed',
        field: 'body',
      },
      { rawBody: '{"url": "https://example.com",}', code: 'invalid_json' },
    ]
    for (const testCase of cases) {
      const response = await api.call('PUT', '/v1/webhook', {
        key,
        body: testCase.body,
        rawBody: testCase.rawBody,
        headers: testCase.rawBody !== undefined ? { 'content-type': 'application/json' } : undefined,
      })
      const label = JSON.stringify(testCase.body ?? testCase.rawBody).slice(0, 100)
      expect(response.status, label).toBe(400)
      expect(response.body.error.code, label).toBe(testCase.code)
      if (testCase.field) expect(response.body.error.field, label).toBe(testCase.field)
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})
