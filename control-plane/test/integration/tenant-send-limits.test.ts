import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSendableSession,
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

// The operator's send limits on one tenant: suspension, messages per minute per session, messages per
// day. No session-node runs: the sessions are marked wanted-connected and linked, so sends stay queued.

let api: TestApi
const admin = { key: TEST_ADMIN_KEY }

beforeAll(async () => {
  api = await createTestApi('cp_send_limits')
})
afterAll(async () => {
  await api?.close()
})

async function tenantWithSession(name: string) {
  const { tenantId, apiKey } = await createTenantThroughApi(api, name)
  const sessionId = await createSendableSession(api, apiKey)
  const send = (text: string) =>
    api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key: apiKey,
      body: { to: '6281234567890', text },
    })
  return { tenantId, apiKey, sessionId, send }
}

describe('tenant send limits', () => {
  it('a suspended tenant gets 403 tenant_suspended on send, broadcast and connect, and keeps its sessions', async () => {
    const { tenantId, apiKey, sessionId, send } = await tenantWithSession('Expired subscription')
    const suspended = await api.call('PATCH', `/v1/tenants/${tenantId}`, {
      ...admin,
      body: { status: 'suspended' },
    })
    expect(suspended.body.status).toBe('suspended')
    const before = await snapshotDatabase(api)
    const refusedSend = await send('hi')
    expect(refusedSend.status).toBe(403)
    expect(refusedSend.body.error.code).toBe('tenant_suspended')
    const refusedBroadcast = await api.call('POST', `/v1/sessions/${sessionId}/broadcasts`, {
      key: apiKey,
      body: { recipients: [{ to: '6281234567890', text: 'hi' }] },
    })
    expect(refusedBroadcast.status).toBe(403)
    expect(refusedBroadcast.body.error.code).toBe('tenant_suspended')
    const refusedConnect = await api.call('POST', `/v1/sessions/${sessionId}/connect`, {
      key: apiKey,
      body: {},
    })
    expect(refusedConnect.status).toBe(403)
    expect(refusedConnect.body.error.code).toBe('tenant_suspended')
    expect(await snapshotDatabase(api)).toEqual(before)
    // Reading still works; the session and its credentials are there.
    expect((await api.call('GET', `/v1/sessions/${sessionId}`, { key: apiKey })).status).toBe(200)
    await api.call('PATCH', `/v1/tenants/${tenantId}`, { ...admin, body: { status: 'active' } })
    expect((await send('hi again')).status).toBe(202)
  })

  it('messagesPerMinutePerSession answers 429 with Retry-After naming the limit', async () => {
    const { tenantId, send } = await tenantWithSession('Package of 2 per minute')
    await api.call('PATCH', `/v1/tenants/${tenantId}`, {
      ...admin,
      body: { limits: { messagesPerMinutePerSession: 2 } },
    })
    expect((await send('1')).status).toBe(202)
    expect((await send('2')).status).toBe(202)
    const refused = await send('3')
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(refused.body.error).toMatchObject({
      code: 'rate_limited',
      details: { limit: 'messagesPerMinutePerSession', value: 2, resetAt: expect.any(String) },
    })
  })

  it('messagesPerDay answers 429 naming the quota and when it resets', async () => {
    const { tenantId, send } = await tenantWithSession('Daily quota')
    const patched = await api.call('PATCH', `/v1/tenants/${tenantId}`, {
      ...admin,
      body: { limits: { messagesPerDay: 2 } },
    })
    expect(patched.body.limits).toMatchObject({ messagesPerDay: 2 })
    expect((await send('1')).status).toBe(202)
    expect((await send('2')).status).toBe(202)
    const refused = await send('3')
    expect(refused.status).toBe(429)
    expect(refused.body.error.details).toMatchObject({ limit: 'messagesPerDay', value: 2 })
    expect(Date.parse(refused.body.error.details.resetAt)).toBeGreaterThan(Date.now() + 23 * 3600_000)
    expect(refused.body.error.message).toContain('limits.messagesPerDay')
  })
})
