import { createOutboundPolicy } from '@wa-cluster/core'
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
    // The old secret keeps signing for a day unless the PUT says otherwise; 0 ends the grace.
    expect(first.body.previousSecretExpiresAt).toBeNull()
    expect(Date.parse(rotated.body.previousSecretExpiresAt)).toBeGreaterThan(
      Date.parse(rotated.body.updatedAt),
    )
    const withoutGrace = await api.call('PUT', '/v1/webhook', {
      key,
      body: { url: 'https://example.com/hook2', rotateSecret: true, gracePeriodSeconds: 0 },
    })
    expect(withoutGrace.body.previousSecretExpiresAt).toBeNull()
    const back = await api.call('PUT', '/v1/webhook', {
      key,
      body: { url: 'https://example.com/hook2' },
    })
    expect(back.body.secret).toBe(withoutGrace.body.secret)

    // At rest the secret is sealed: neither the secret nor its base64 key appears in the column.
    const [row] = await api.ctx.database.db.select().from(webhooks).where(eq(webhooks.tenantId, tenantId))
    const stored = row!.secretSealed
    const secretKeyBytes = Buffer.from(withoutGrace.body.secret.slice('whsec_'.length), 'base64')
    expect(stored.includes(Buffer.from(withoutGrace.body.secret))).toBe(false)
    expect(stored.includes(Buffer.from(withoutGrace.body.secret.slice('whsec_'.length)))).toBe(false)
    expect(stored.includes(secretKeyBytes)).toBe(false)
    expect(api.ctx.secretBox.open(stored, `webhook:${tenantId}`).toString()).toBe(withoutGrace.body.secret)
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

describe('webhook URL outbound guard (ALLOW_PRIVATE_NETWORKS empty)', () => {
  let strictApi: TestApi
  let strictKey: string
  beforeAll(async () => {
    strictApi = await createTestApi('cp_webhook_ssrf', { ALLOW_PRIVATE_NETWORKS: '' })
    // Names the test invents resolve where it says, so "a name resolving to loopback" needs no DNS.
    strictApi.ctx.outboundPolicy = createOutboundPolicy('', {
      resolveHost: async (hostname) => {
        const table: Record<string, string> = { 'rebind.example': '127.0.0.1', 'corp.example': '10.1.2.3' }
        const address = table[hostname]
        if (!address) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' })
        return [{ address, family: 4 }]
      },
    })
    ;({ apiKey: strictKey } = await createTenantThroughApi(strictApi, 'Strict'))
  })
  afterAll(async () => {
    await strictApi?.close()
  })

  it('refuses private, loopback, link-local, CGNAT, unique-local and metadata targets in every spelling', async () => {
    const before = await snapshotDatabase(strictApi)
    const refused: [string, string][] = [
      ['http://127.0.0.1/hook', 'loopback address'],
      ['http://127.1/hook', 'loopback address'],
      ['http://0x7f000001/hook', 'loopback address'],
      ['http://2130706433/hook', 'loopback address'],
      ['http://localhost:8080/hook', 'local host name'],
      ['http://[::1]/hook', 'loopback address'],
      ['http://[::ffff:127.0.0.1]/hook', 'loopback address'],
      ['http://169.254.169.254/latest/meta-data/', 'cloud metadata endpoint'],
      ['http://metadata.google.internal/computeMetadata/v1/', 'cloud metadata endpoint'],
      ['http://10.0.0.8/hook', 'private address'],
      ['http://172.16.5.4/hook', 'private address'],
      ['http://192.168.0.1/hook', 'private address'],
      ['http://100.64.0.1/hook', 'carrier-grade NAT address'],
      ['http://[fd00::1]/hook', 'unique-local address'],
      ['http://[fe80::1]/hook', 'link-local address'],
      ['http://rebind.example/hook', 'loopback address'],
      ['https://corp.example/hook', 'private address'],
    ]
    for (const [url, reason] of refused) {
      const response = await strictApi.call('PUT', '/v1/webhook', { key: strictKey, body: { url } })
      expect(response.status, url).toBe(400)
      expect(response.body.error.field, url).toBe('body.url')
      expect(response.body.error.message, url).toContain(reason)
    }
    expect(await snapshotDatabase(strictApi)).toEqual(before)
    // A public literal, and a name that does not resolve yet (judged again at connect time), are kept.
    for (const url of ['https://93.184.216.34/hook', 'https://not-yet.example/hook']) {
      expect(
        (await strictApi.call('PUT', '/v1/webhook', { key: strictKey, body: { url } })).status,
        url,
      ).toBe(200)
    }
  })
})
