import { createClient } from '@wa-cluster/client'
import { generateSecretBoxKey } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, startCluster } from '../../../test-support/cluster.js'

/**
 * A tenant's request budget is one budget, however many control-planes a load balancer spreads its
 * requests over: two real control-plane processes on a shared Redis count together.
 */
describe('per-tenant request rate limit across two control-plane processes', () => {
  let cluster: Cluster

  beforeAll(async () => {
    cluster = await startCluster({
      controlPlanes: 2,
      sessionNodes: 0,
      // No session runs here; the control-planes only need valid settings.
      simUrl: 'ws://127.0.0.1:9/ws/chat',
      simRootKey: generateSecretBoxKey(),
      env: { TENANT_REQUESTS_PER_MINUTE: '10' },
    })
  })
  afterAll(async () => {
    await cluster?.stop()
  })

  it('allows the limit in total, not per process, and limits on both after that', async () => {
    const [first, second] = cluster.controlPlanes.map((entry) => entry.url) as [string, string]
    const admin = createClient({ baseUrl: first, apiKey: cluster.adminKey })
    const created = await admin.POST('/v1/tenants', { body: { name: 'Spread' } })
    expect(created.response.status).toBe(201)
    const tenant = created.data!
    const viaFirst = createClient({ baseUrl: first, apiKey: tenant.apiKey })
    const viaSecond = createClient({ baseUrl: second, apiKey: tenant.apiKey })

    const statuses: number[] = []
    for (let index = 0; index < 10; index++) {
      statuses.push((await (index % 2 === 0 ? viaFirst : viaSecond).GET('/v1/sessions')).response.status)
    }
    expect(statuses).toEqual(Array(10).fill(200))

    const limitedFirst = await viaFirst.GET('/v1/sessions')
    const limitedSecond = await viaSecond.GET('/v1/sessions')
    for (const limited of [limitedFirst, limitedSecond]) {
      expect(limited.response.status).toBe(429)
      expect(Number(limited.response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(limited.error?.error.details).toMatchObject({ limit: 'requestsPerMinute', value: 10 })
    }

    // The operator raises the tenant's own limit on one process; the other applies it at once.
    const raised = await createClient({ baseUrl: second, apiKey: cluster.adminKey }).PATCH(
      '/v1/tenants/{tenantId}',
      { params: { path: { tenantId: tenant.id } }, body: { limits: { requestsPerMinute: 1000 } } },
    )
    expect(raised.response.status).toBe(200)
    expect((await viaFirst.GET('/v1/sessions')).response.status).toBe(200)
    // And the operator itself was never limited.
    for (let index = 0; index < 15; index++) expect((await admin.GET('/v1/nodes')).response.status).toBe(200)
  })

  it('a daily send quota and a suspension hold across both processes', async () => {
    const [first, second] = cluster.controlPlanes.map((entry) => entry.url) as [string, string]
    const admin = createClient({ baseUrl: first, apiKey: cluster.adminKey })
    const tenant = (await admin.POST('/v1/tenants', { body: { name: 'Quota' } })).data!
    await admin.PATCH('/v1/tenants/{tenantId}', {
      params: { path: { tenantId: tenant.id } },
      // Its request budget raised: this test counts sends, not requests.
      body: { limits: { messagesPerDay: 4, requestsPerMinute: 1000 } },
    })
    const viaFirst = createClient({ baseUrl: first, apiKey: tenant.apiKey })
    const viaSecond = createClient({ baseUrl: second, apiKey: tenant.apiKey })
    const sessionId = (await viaFirst.POST('/v1/sessions', { body: {} })).data!.id
    // No session-node runs: wanted-connected and linked, so sends are accepted and stay queued.
    await cluster.database.handle.rows(
      sql`UPDATE sessions SET desired_state = 'connected' WHERE id = ${sessionId}`,
    )
    await cluster.database.handle.rows(
      sql`INSERT INTO auth_creds (session_id, value) VALUES (${sessionId}, ${Buffer.from('sealed creds')})`,
    )
    const send = (via: typeof viaFirst, text: string) =>
      via.POST('/v1/sessions/{sessionId}/messages', {
        params: { path: { sessionId } },
        body: { to: '6281234567890', text },
      })
    const statuses: number[] = []
    for (let index = 0; index < 4; index++)
      statuses.push((await send(index % 2 === 0 ? viaFirst : viaSecond, `m${index}`)).response.status)
    expect(statuses).toEqual([202, 202, 202, 202])
    for (const via of [viaFirst, viaSecond]) {
      const refused = await send(via, 'one too many')
      expect(refused.response.status).toBe(429)
      expect(refused.error?.error.details).toMatchObject({ limit: 'messagesPerDay', value: 4 })
    }

    await createClient({ baseUrl: second, apiKey: cluster.adminKey }).PATCH('/v1/tenants/{tenantId}', {
      params: { path: { tenantId: tenant.id } },
      body: { status: 'suspended', limits: { messagesPerDay: null } },
    })
    for (const via of [viaFirst, viaSecond]) {
      const suspended = await send(via, 'while suspended')
      expect(suspended.response.status).toBe(403)
      expect(suspended.error?.error.code).toBe('tenant_suspended')
    }
  })
})
