import { bumpEpoch, placeSession, recordSessionState, registerNode, setDesiredState } from '@wa-cluster/core'
import type { SessionState } from '@wa-cluster/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

/** One tenant cannot take the platform's capacity, its request budget, or everyone's bandwidth. */

const admin = { key: TEST_ADMIN_KEY }

describe('per-tenant session limit', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi('cp_session_limit', { TENANT_MAX_SESSIONS: 3 })
  })
  afterAll(async () => {
    await api?.close()
  })

  it('refuses the session past the default limit with 409 session_limit_reached naming the limit', async () => {
    const { apiKey, tenantId } = await createTenantThroughApi(api, 'Greedy')
    for (let index = 0; index < 3; index++) {
      expect((await api.call('POST', '/v1/sessions', { key: apiKey, body: {} })).status).toBe(201)
    }
    const before = await snapshotDatabase(api)
    const refused = await api.call('POST', '/v1/sessions', { key: apiKey, body: { name: 'one too many' } })
    expect(refused.status).toBe(409)
    expect(refused.body.error).toMatchObject({
      code: 'session_limit_reached',
      details: { limit: 'sessions', value: 3 },
    })
    expect(refused.body.error.message).toContain('limits.sessions')
    expect(await snapshotDatabase(api)).toEqual(before)

    const tenant = await api.call('GET', `/v1/tenants/${tenantId}`, admin)
    expect(tenant.body).toMatchObject({
      limits: { sessions: 3, requestsPerMinute: 1200 },
      usage: { sessions: 3 },
    })

    // Deleting one frees its place.
    const [oldest] = (await api.call('GET', '/v1/sessions', { key: apiKey })).body.data.slice(-1)
    expect((await api.call('DELETE', `/v1/sessions/${oldest.id}`, { key: apiKey })).status).toBe(204)
    expect((await api.call('POST', '/v1/sessions', { key: apiKey, body: {} })).status).toBe(201)
  })

  it('the operator sets a tenant its own limit, and null goes back to the default', async () => {
    const { apiKey, tenantId } = await createTenantThroughApi(api, 'Big clinic')
    const raised = await api.call('PATCH', `/v1/tenants/${tenantId}`, {
      ...admin,
      body: { limits: { sessions: 5, requestsPerMinute: 600 } },
    })
    expect(raised.status).toBe(200)
    expect(raised.body).toMatchObject({
      id: tenantId,
      limits: { sessions: 5, requestsPerMinute: 600 },
      usage: { sessions: 0 },
    })
    // Concurrent creations cannot overshoot it.
    const attempts = await Promise.all(
      Array.from({ length: 12 }, () => api.call('POST', '/v1/sessions', { key: apiKey, body: {} })),
    )
    expect(attempts.filter((response) => response.status === 201)).toHaveLength(5)
    expect(attempts.filter((response) => response.status === 409)).toHaveLength(7)

    // Changing one limit leaves the other; null is the default again.
    const partly = await api.call('PATCH', `/v1/tenants/${tenantId}`, {
      ...admin,
      body: { limits: { sessions: null } },
    })
    expect(partly.body).toMatchObject({
      limits: { sessions: 3, requestsPerMinute: 600 },
      usage: { sessions: 5 },
    })
    // Lowered below the count: nothing is deleted, only new sessions are refused.
    expect((await api.call('GET', '/v1/sessions', { key: apiKey })).body.data).toHaveLength(5)
    expect((await api.call('POST', '/v1/sessions', { key: apiKey, body: {} })).status).toBe(409)
    const listed = await api.call('GET', '/v1/tenants', admin)
    expect(listed.body.data.find((tenant: { id: string }) => tenant.id === tenantId).limits).toEqual({
      sessions: 3,
      requestsPerMinute: 600,
      messagesPerMinutePerSession: 100,
      messagesPerDay: null,
    })
  })

  it('refuses bad limits and non-operators, changing nothing', async () => {
    const { apiKey, tenantId } = await createTenantThroughApi(api, 'Validated')
    const before = await snapshotDatabase(api)
    const cases: { body: unknown; field: string }[] = [
      { body: { limits: { sessions: 0 } }, field: 'body.limits.sessions' },
      { body: { limits: { sessions: 2.5 } }, field: 'body.limits.sessions' },
      { body: { limits: { requestsPerMinute: '600' } }, field: 'body.limits.requestsPerMinute' },
      { body: { limits: { messagesPerDay: 0 } }, field: 'body.limits.messagesPerDay' },
      { body: { limits: { messagesPerMinute: 10 } }, field: 'body.limits' },
      { body: { status: 'banned' }, field: 'body.status' },
      { body: { name: 'renamed' }, field: 'body' },
    ]
    for (const testCase of cases) {
      const response = await api.call('PATCH', `/v1/tenants/${tenantId}`, { ...admin, body: testCase.body })
      expect(response.status, JSON.stringify(testCase.body)).toBe(400)
      expect(response.body.error.field, JSON.stringify(testCase.body)).toBe(testCase.field)
    }
    const asTenant = await api.call('PATCH', `/v1/tenants/${tenantId}`, {
      key: apiKey,
      body: { limits: { sessions: 1000 } },
    })
    expect(asTenant.status).toBe(403)
    const unknown = await api.call('PATCH', '/v1/tenants/ten_unknown0000', {
      ...admin,
      body: { limits: { sessions: 10 } },
    })
    expect(unknown.status).toBe(404)
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})

describe('per-tenant request rate limit', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi('cp_request_rate', { TENANT_REQUESTS_PER_MINUTE: 8 })
  })
  afterAll(async () => {
    await api?.close()
  })

  it('answers 429 with Retry-After and a body naming the limit and its reset, for that tenant only', async () => {
    const noisy = await createTenantThroughApi(api, 'Noisy')
    const quiet = await createTenantThroughApi(api, 'Quiet')
    for (let index = 0; index < 8; index++) {
      expect((await api.call('GET', '/v1/sessions', { key: noisy.apiKey })).status).toBe(200)
    }
    const limited = await api.call('GET', '/v1/sessions', { key: noisy.apiKey })
    expect(limited.status).toBe(429)
    const retryAfter = Number(limited.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(limited.body.error).toMatchObject({
      code: 'rate_limited',
      details: { limit: 'requestsPerMinute', value: 8, retryAfterSeconds: retryAfter },
    })
    const resetAt = Date.parse(limited.body.error.details.resetAt)
    expect(resetAt).toBeGreaterThan(Date.now())
    expect(resetAt).toBeLessThanOrEqual(Date.now() + 60_000)
    // Writes are limited as well, before they change anything.
    expect((await api.call('POST', '/v1/sessions', { key: noisy.apiKey, body: {} })).status).toBe(429)

    expect((await api.call('GET', '/v1/sessions', { key: quiet.apiKey })).status).toBe(200)
    // The operator is never limited.
    for (let index = 0; index < 20; index++) {
      expect((await api.call('GET', `/v1/tenants/${noisy.tenantId}`, admin)).status).toBe(200)
    }
  })

  it("follows the tenant's own requestsPerMinute", async () => {
    const { apiKey, tenantId } = await createTenantThroughApi(api, 'Integrator')
    await api.call('PATCH', `/v1/tenants/${tenantId}`, {
      ...admin,
      body: { limits: { requestsPerMinute: 20 } },
    })
    const statuses: number[] = []
    for (let index = 0; index < 21; index++) {
      statuses.push((await api.call('GET', '/v1/events', { key: apiKey })).status)
    }
    expect(statuses.slice(0, 20).every((status) => status === 200)).toBe(true)
    expect(statuses[20]).toBe(429)
  })
})

describe('a session that ends its run leaves its node', () => {
  const nodeId = 'node-capacity'
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi('cp_release_capacity')
    await registerNode(api.ctx.database, nodeId, 10)
    await api.ctx.coordinator.heartbeat(
      { nodeId, capacity: 10, sessions: 0, status: 'active', startedAt: new Date().toISOString() },
      10 * 60_000,
    )
  })
  afterAll(async () => {
    await api?.close()
  })

  const endOfRun: SessionState[] = ['EXPIRED', 'LOGGED_OUT', 'FAILED']
  it.each(endOfRun)('%s: unassigned, no longer wanted, not counted against capacity', async (state) => {
    const { apiKey } = await createTenantThroughApi(api, `Resting ${state}`)
    const sessionId = (await api.call('POST', '/v1/sessions', { key: apiKey, body: {} })).body.id
    await setDesiredState(api.ctx.database, sessionId, { desiredState: 'connected' })
    expect(
      await placeSession({ database: api.ctx.database, coordinator: api.ctx.coordinator, sessionId }),
    ).toBe(nodeId)
    const load = async () =>
      (await api.call('GET', `/v1/nodes?limit=200`, admin)).body.data.find(
        (node: { id: string }) => node.id === nodeId,
      ).sessions
    expect(await load()).toBe(1)

    // The owner records the end of the run the way any writer may: a state, nothing else said.
    const epoch = (await bumpEpoch(api.ctx.database, sessionId, { assignedTo: nodeId }))!
    await recordSessionState(api.ctx.database, {
      sessionId,
      epoch,
      change: { state, reason: `${state} for the test` },
    })
    const session = await api.call('GET', `/v1/sessions/${sessionId}`, { key: apiKey })
    expect(session.body).toMatchObject({ state, nodeId: null, desiredState: 'disconnected' })
    expect(await load()).toBe(0)
  })
})

describe('cursor pagination on every list', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await createTestApi('cp_pagination')
  })
  afterAll(async () => {
    await api?.close()
  })

  /** Reads every page of `path` with `limit`, returning the pages' ids. */
  async function pages(path: string, key: string, limit: number): Promise<string[][]> {
    const result: string[][] = []
    let after: string | null = null
    do {
      const separator = path.includes('?') ? '&' : '?'
      const response = await api.call(
        'GET',
        `${path}${separator}limit=${limit}${after ? `&after=${after}` : ''}`,
        { key },
      )
      expect(response.status).toBe(200)
      result.push(response.body.data.map((item: { id: string }) => item.id))
      after = response.body.nextCursor
      expect(result.length).toBeLessThan(20)
    } while (after)
    return result
  }

  it('sessions: newest first, `limit` per page, nextCursor until the last page', async () => {
    const { apiKey } = await createTenantThroughApi(api, 'Pages')
    const created: string[] = []
    for (let index = 0; index < 5; index++) {
      created.push((await api.call('POST', '/v1/sessions', { key: apiKey, body: {} })).body.id)
    }
    const read = await pages('/v1/sessions', apiKey, 2)
    expect(read.map((page) => page.length)).toEqual([2, 2, 1])
    expect(read.flat()).toEqual([...created].reverse())
    // The default page is 50 and carries nextCursor null when it holds everything.
    const all = await api.call('GET', '/v1/sessions', { key: apiKey })
    expect(all.body.nextCursor).toBeNull()
    expect(all.body.data).toHaveLength(5)
  })

  it('tenants, API keys and nodes page the same way', async () => {
    const { tenantId } = await createTenantThroughApi(api, 'Keys')
    for (let index = 0; index < 3; index++) {
      await api.call('POST', `/v1/tenants/${tenantId}/api-keys`, { ...admin, body: { name: `k${index}` } })
    }
    const keys = await pages(`/v1/tenants/${tenantId}/api-keys`, TEST_ADMIN_KEY, 3)
    expect(keys.map((page) => page.length)).toEqual([3, 1])
    expect(new Set(keys.flat()).size).toBe(4)

    for (let index = 0; index < 3; index++) await createTenantThroughApi(api, `More ${index}`)
    const tenants = await pages('/v1/tenants', TEST_ADMIN_KEY, 2)
    const tenantIds = tenants.flat()
    expect(new Set(tenantIds).size).toBe(tenantIds.length)
    expect(tenantIds).toEqual([...tenantIds].sort().reverse())
    expect(tenantIds).toContain(tenantId)

    for (const nodeId of ['node-p1', 'node-p2', 'node-p3']) await registerNode(api.ctx.database, nodeId, 5)
    const nodes = await pages('/v1/nodes', TEST_ADMIN_KEY, 2)
    expect(nodes).toEqual([['node-p1', 'node-p2'], ['node-p3']])
  })

  it('refuses a cursor that is not an id of the list, and a limit out of range', async () => {
    const { apiKey } = await createTenantThroughApi(api, 'Bad cursors')
    const cases: [string, string][] = [
      ['/v1/sessions?after=evt_0000', 'query.after'],
      ['/v1/sessions?after=ses_%27%20OR%201%3D1', 'query.after'],
      ['/v1/sessions?limit=0', 'query.limit'],
      ['/v1/sessions?limit=201', 'query.limit'],
    ]
    for (const [path, field] of cases) {
      const response = await api.call('GET', path, { key: apiKey })
      expect(response.status, path).toBe(400)
      expect(response.body.error.field, path).toBe(field)
    }
    const adminCases: [string, string][] = [
      ['/v1/tenants?after=ses_000', 'query.after'],
      ['/v1/nodes?after=a%20b', 'query.after'],
      ['/v1/nodes?limit=0x2', 'query.limit'],
    ]
    for (const [path, field] of adminCases) {
      const response = await api.call('GET', path, admin)
      expect(response.status, path).toBe(400)
      expect(response.body.error.field, path).toBe(field)
    }
  })
})
