import { apiKeys } from '@wa-cluster/db'
import { eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
beforeAll(async () => {
  api = await createTestApi('cp_tenants')
})
afterAll(async () => {
  await api?.close()
})

const admin = { key: TEST_ADMIN_KEY }

describe('tenants and API keys', () => {
  it('creates a tenant whose key works, stores only its hash, and lists it', async () => {
    const created = await api.call('POST', '/v1/tenants', { ...admin, body: { name: 'Klinik Sehat' } })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^ten_/),
      name: 'Klinik Sehat',
      apiKey: expect.stringMatching(/^wak_/),
    })

    const stored = await api.ctx.database.db
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.tenantId, created.body.id))
    expect(stored).toHaveLength(1)
    expect(stored[0]!.keyHash).toMatch(/^[0-9a-f]{64}$/)
    expect(stored[0]!.keyHash).not.toContain(created.body.apiKey)
    expect(created.body.apiKey.startsWith(stored[0]!.prefix)).toBe(true)

    expect((await api.call('GET', '/v1/sessions', { key: created.body.apiKey })).status).toBe(200)
    const list = await api.call('GET', '/v1/tenants', admin)
    expect(list.body.data.map((tenant: { id: string }) => tenant.id)).toContain(created.body.id)
    const one = await api.call('GET', `/v1/tenants/${created.body.id}`, admin)
    expect(one.body).toEqual({
      id: created.body.id,
      name: 'Klinik Sehat',
      status: 'active',
      limits: {
        sessions: 100,
        requestsPerMinute: 1200,
        messagesPerMinutePerSession: 100,
        messagesPerDay: null,
      },
      retentionDays: 90,
      defaultCountry: 'ID',
      timeZone: 'UTC',
      usage: { sessions: 0 },
      createdAt: created.body.createdAt,
    })
    expect(one.body.apiKey).toBeUndefined()
  })

  it('issues extra keys that work, lists keys without secrets, and revoked keys answer 401', async () => {
    const { tenantId, apiKey } = await createTenantThroughApi(api, 'Billing')
    const extra = await api.call('POST', `/v1/tenants/${tenantId}/api-keys`, {
      ...admin,
      body: { name: 'ci' },
    })
    expect(extra.status).toBe(201)
    expect(extra.body).toMatchObject({
      id: expect.stringMatching(/^key_/),
      tenantId,
      name: 'ci',
      apiKey: expect.stringMatching(/^wak_/),
    })
    expect((await api.call('GET', '/v1/sessions', { key: extra.body.apiKey })).status).toBe(200)

    const keys = await api.call('GET', `/v1/tenants/${tenantId}/api-keys`, admin)
    expect(keys.status).toBe(200)
    expect(keys.body.data).toHaveLength(2)
    expect(JSON.stringify(keys.body)).not.toContain(extra.body.apiKey)
    expect(JSON.stringify(keys.body)).not.toContain(apiKey)

    const revoked = await api.call('DELETE', `/v1/tenants/${tenantId}/api-keys/${extra.body.id}`, admin)
    expect(revoked.status).toBe(200)
    expect(revoked.body.revokedAt).not.toBeNull()
    const refused = await api.call('GET', '/v1/sessions', { key: extra.body.apiKey })
    expect(refused.status).toBe(401)
    expect(refused.body.error).toMatchObject({ code: 'unauthorized', requestId: expect.any(String) })
    // The other key is untouched.
    expect((await api.call('GET', '/v1/sessions', { key: apiKey })).status).toBe(200)
  })

  it('an empty body is allowed when creating a key', async () => {
    const { tenantId } = await createTenantThroughApi(api, 'Empty body')
    const created = await api.call('POST', `/v1/tenants/${tenantId}/api-keys`, {
      ...admin,
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    })
    expect(created.status).toBe(201)
    expect(created.body.name).toBeNull()
  })

  it('deleting a tenant deletes its sessions and disables its keys', async () => {
    const { tenantId, apiKey } = await createTenantThroughApi(api, 'Short lived')
    const session = await api.call('POST', '/v1/sessions', { key: apiKey, body: { name: 'front desk' } })
    expect(session.status).toBe(201)
    const deleted = await api.call('DELETE', `/v1/tenants/${tenantId}`, admin)
    expect(deleted.status).toBe(204)
    expect((await api.call('GET', `/v1/tenants/${tenantId}`, admin)).status).toBe(404)
    expect((await api.call('GET', '/v1/sessions', { key: apiKey })).status).toBe(401)
    const rows = await api.database.handle.rows<{ count: number }>(
      sql`SELECT count(*)::int AS count FROM sessions WHERE tenant_id = ${tenantId}`,
    )
    expect(rows[0]!.count).toBe(0)
  })

  it('separates operator and tenant keys with 401/403', async () => {
    const { apiKey } = await createTenantThroughApi(api, 'Separation')
    const noKey = await api.call('GET', '/v1/tenants')
    expect(noKey.status).toBe(401)
    const wrongKey = await api.call('GET', '/v1/tenants', { key: 'wak_not-a-real-key' })
    expect(wrongKey.status).toBe(401)
    const tenantOnAdmin = await api.call('GET', '/v1/tenants', { key: apiKey })
    expect(tenantOnAdmin.status).toBe(403)
    expect(tenantOnAdmin.body.error.code).toBe('forbidden')
    for (const [method, path] of [
      ['GET', '/v1/nodes'],
      ['POST', '/v1/rebalance'],
      ['POST', '/v1/nodes/node-a/drain'],
      ['POST', '/v1/nodes/node-a/activate'],
      ['POST', '/v1/sessions/ses_abc/move'],
      ['POST', '/v1/tenants'],
    ] as const) {
      expect((await api.call(method, path, { key: apiKey, body: {} })).status, `${method} ${path}`).toBe(403)
    }
    const adminOnTenant = await api.call('GET', '/v1/sessions', admin)
    expect(adminOnTenant.status).toBe(403)
    expect(adminOnTenant.body.error.message).toMatch(/admin key cannot act as a tenant/)
    for (const [method, path] of [
      ['POST', '/v1/sessions'],
      ['GET', '/v1/webhook'],
      ['GET', '/v1/events'],
      ['POST', '/v1/sessions/ses_abc/messages'],
    ] as const) {
      expect((await api.call(method, path, { ...admin, body: {} })).status, `${method} ${path}`).toBe(403)
    }
  })

  it('rejects bad input on operator endpoints with the field, changing nothing', async () => {
    const { tenantId } = await createTenantThroughApi(api, 'Bad input')
    const before = await snapshotDatabase(api)
    const cases: {
      method: string
      path: string
      body?: unknown
      rawBody?: string
      status: number
      code: string
      field?: string
    }[] = [
      {
        method: 'POST',
        path: '/v1/tenants',
        body: {},
        status: 400,
        code: 'validation_failed',
        field: 'body.name',
      },
      {
        method: 'POST',
        path: '/v1/tenants',
        body: { name: 42 },
        status: 400,
        code: 'validation_failed',
        field: 'body.name',
      },
      {
        method: 'POST',
        path: '/v1/tenants',
        body: { name: '   ' },
        status: 400,
        code: 'validation_failed',
        field: 'body.name',
      },
      {
        method: 'POST',
        path: '/v1/tenants',
        body: { name: 'a\u0000b' },
        status: 400,
        code: 'validation_failed',
        field: 'body.name',
      },
      {
        method: 'POST',
        path: '/v1/tenants',
        body: { name: 'x'.repeat(201) },
        status: 400,
        code: 'validation_failed',
        field: 'body.name',
      },
      {
        method: 'POST',
        path: '/v1/tenants',
        body: { name: 'ok', extra: 1 },
        status: 400,
        code: 'validation_failed',
        field: 'body',
      },
      {
        method: 'POST',
        path: '/v1/tenants',
        body: ['name'],
        status: 400,
        code: 'validation_failed',
        field: 'body',
      },
      { method: 'POST', path: '/v1/tenants', rawBody: '{"name":', status: 400, code: 'invalid_json' },
      {
        method: 'POST',
        path: `/v1/tenants/${tenantId}/api-keys`,
        body: { name: 7 },
        status: 400,
        code: 'validation_failed',
        field: 'body.name',
      },
      {
        method: 'POST',
        path: `/v1/tenants/${tenantId}/api-keys`,
        rawBody: 'nope',
        status: 400,
        code: 'invalid_json',
      },
      {
        method: 'POST',
        path: '/v1/tenants/ten_doesnotexist/api-keys',
        body: {},
        status: 404,
        code: 'not_found',
      },
      { method: 'GET', path: '/v1/tenants/ten_doesnotexist', status: 404, code: 'not_found' },
      { method: 'GET', path: '/v1/tenants/not%20an%20id', status: 404, code: 'not_found' },
      { method: 'DELETE', path: '/v1/tenants/ten_doesnotexist', status: 404, code: 'not_found' },
      { method: 'GET', path: '/v1/tenants/ten_doesnotexist/api-keys', status: 404, code: 'not_found' },
      {
        method: 'DELETE',
        path: `/v1/tenants/${tenantId}/api-keys/key_doesnotexist`,
        status: 404,
        code: 'not_found',
      },
      { method: 'POST', path: '/v1/nodes/node-unknown/drain', status: 404, code: 'not_found' },
      { method: 'POST', path: '/v1/nodes/node-unknown/activate', status: 404, code: 'not_found' },
      {
        method: 'POST',
        path: '/v1/rebalance',
        body: { dryRun: 'yes' },
        status: 400,
        code: 'validation_failed',
        field: 'body.dryRun',
      },
      {
        method: 'POST',
        path: '/v1/sessions/ses_doesnotexist/move',
        body: { nodeId: 'node-a' },
        status: 404,
        code: 'not_found',
      },
      {
        method: 'POST',
        path: '/v1/sessions/ses_doesnotexist/move',
        body: {},
        status: 400,
        code: 'validation_failed',
        field: 'body.nodeId',
      },
      {
        method: 'POST',
        path: '/v1/sessions/ses_doesnotexist/move',
        body: { nodeId: 'a b' },
        status: 400,
        code: 'validation_failed',
        field: 'body.nodeId',
      },
    ]
    for (const testCase of cases) {
      const headers = testCase.rawBody !== undefined ? { 'content-type': 'application/json' } : undefined
      const response = await api.call(testCase.method, testCase.path, {
        ...admin,
        body: testCase.body,
        rawBody: testCase.rawBody,
        headers,
      })
      const label = `${testCase.method} ${testCase.path} ${JSON.stringify(testCase.body ?? testCase.rawBody)}`
      expect(response.status, label).toBe(testCase.status)
      expect(response.body.error.code, label).toBe(testCase.code)
      expect(response.body.error.requestId, label).toEqual(expect.any(String))
      if (testCase.field) expect(response.body.error.field, label).toBe(testCase.field)
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('rebalance with dryRun answers a plan (no nodes: no moves)', async () => {
    const plan = await api.call('POST', '/v1/rebalance', { ...admin, body: { dryRun: true } })
    expect(plan.status).toBe(200)
    expect(plan.body).toEqual({ dryRun: true, moves: [], before: {}, after: {} })
    const nodes = await api.call('GET', '/v1/nodes', admin)
    expect(nodes.status).toBe(200)
    expect(nodes.body).toEqual({ data: [], nextCursor: null })
  })
})
