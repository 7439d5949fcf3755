import { assignSession, registerNode } from '@wa-cluster/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let clinic: { tenantId: string; apiKey: string }
let shop: { tenantId: string; apiKey: string }
/** Sessions assigned to node-x, in creation order. */
const onNode: string[] = []
let elsewhere: string

beforeAll(async () => {
  api = await createTestApi('cp_node_sessions')
  clinic = await createTenantThroughApi(api, 'Klinik <Sehat>')
  shop = await createTenantThroughApi(api, 'Toko')
  // Nodes register and take sessions themselves; no node runs here, so both are written as they would.
  await registerNode(api.ctx.database, 'node-x', 10)
  await registerNode(api.ctx.database, 'node-y', 10)
  for (const key of [clinic.apiKey, shop.apiKey, clinic.apiKey]) {
    const { body } = await api.call('POST', '/v1/sessions', {
      key,
      body: { name: `front desk ${onNode.length}` },
    })
    await assignSession(api.ctx.database, body.id, 'node-x')
    onNode.push(body.id)
  }
  elsewhere = (await api.call('POST', '/v1/sessions', { key: shop.apiKey, body: {} })).body.id
  await assignSession(api.ctx.database, elsewhere, 'node-y')
})
afterAll(async () => {
  await api?.close()
})

describe('GET /v1/nodes/{nodeId}/sessions', () => {
  it("lists the node's sessions of every tenant, newest first, with their tenant", async () => {
    const response = await api.call('GET', '/v1/nodes/node-x/sessions', { key: TEST_ADMIN_KEY })
    expect(response.status).toBe(200)
    expect(response.body.nextCursor).toBeNull()
    expect(response.body.data.map((session: { id: string }) => session.id)).toEqual([...onNode].reverse())
    expect(response.body.data[2]).toMatchObject({
      id: onNode[0],
      name: 'front desk 0',
      tenantId: clinic.tenantId,
      tenantName: 'Klinik <Sehat>',
      state: 'DISCONNECTED',
      phone: null,
      nodeId: 'node-x',
      updatedAt: expect.any(String),
    })
    expect(response.body.data[1]).toMatchObject({ tenantId: shop.tenantId, tenantName: 'Toko' })
    const other = await api.call('GET', '/v1/nodes/node-y/sessions', { key: TEST_ADMIN_KEY })
    expect(other.body.data.map((session: { id: string }) => session.id)).toEqual([elsewhere])
  })

  it('pages with limit and after', async () => {
    const first = await api.call('GET', '/v1/nodes/node-x/sessions?limit=2', { key: TEST_ADMIN_KEY })
    expect(first.body.data.map((session: { id: string }) => session.id)).toEqual([onNode[2], onNode[1]])
    expect(first.body.nextCursor).toBe(onNode[1])
    const second = await api.call('GET', `/v1/nodes/node-x/sessions?limit=2&after=${first.body.nextCursor}`, {
      key: TEST_ADMIN_KEY,
    })
    expect(second.body).toMatchObject({ data: [{ id: onNode[0] }], nextCursor: null })
  })

  it('is for the operator only, answers 404 for an unknown node and 400 naming a bad field', async () => {
    const before = await snapshotDatabase(api)
    const asTenant = await api.call('GET', '/v1/nodes/node-x/sessions', { key: clinic.apiKey })
    expect(asTenant.status).toBe(403)
    expect((await api.call('GET', '/v1/nodes/node-x/sessions')).status).toBe(401)
    const unknown = await api.call('GET', '/v1/nodes/node-z/sessions', { key: TEST_ADMIN_KEY })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error.code).toBe('not_found')
    // A malformed node id names nothing: 404 like an unknown one.
    expect((await api.call('GET', '/v1/nodes/node%20x/sessions', { key: TEST_ADMIN_KEY })).status).toBe(404)
    const bad: [string, string][] = [
      ['/v1/nodes/node-x/sessions?limit=0', 'query.limit'],
      ['/v1/nodes/node-x/sessions?limit=201', 'query.limit'],
      ['/v1/nodes/node-x/sessions?after=not-a-cursor', 'query.after'],
    ]
    for (const [path, field] of bad) {
      const response = await api.call('GET', path, { key: TEST_ADMIN_KEY })
      expect(response.status, path).toBe(400)
      expect(response.body.error, path).toMatchObject({ code: 'validation_failed', field })
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})
