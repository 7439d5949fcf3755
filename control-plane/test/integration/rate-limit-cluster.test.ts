import { generateSecretBoxKey } from '@wa-cluster/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiClient } from '../../../test-support/api-client.js'
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
    const admin = apiClient(first, cluster.adminKey)
    const created = await admin.post('/v1/tenants', { name: 'Spread' })
    expect(created.status).toBe(201)
    const viaFirst = apiClient(first, created.body.apiKey)
    const viaSecond = apiClient(second, created.body.apiKey)

    const statuses: number[] = []
    for (let index = 0; index < 10; index++) {
      statuses.push((await (index % 2 === 0 ? viaFirst : viaSecond).get('/v1/sessions')).status)
    }
    expect(statuses).toEqual(Array(10).fill(200))

    const limitedFirst = await viaFirst.get('/v1/sessions')
    const limitedSecond = await viaSecond.get('/v1/sessions')
    for (const limited of [limitedFirst, limitedSecond]) {
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(limited.body.error.details).toMatchObject({ limit: 'requestsPerMinute', value: 10 })
    }

    // The operator raises the tenant's own limit on one process; the other applies it at once.
    const raised = await apiClient(second, cluster.adminKey).patch(`/v1/tenants/${created.body.id}`, {
      limits: { requestsPerMinute: 1000 },
    })
    expect(raised.status).toBe(200)
    expect((await viaFirst.get('/v1/sessions')).status).toBe(200)
    // And the operator itself was never limited.
    for (let index = 0; index < 15; index++) expect((await admin.get('/v1/nodes')).status).toBe(200)
  })
})
