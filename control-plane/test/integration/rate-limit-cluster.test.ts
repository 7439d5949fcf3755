import { createClient } from '@wa-cluster/client'
import { generateSecretBoxKey } from '@wa-cluster/shared'
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
})
