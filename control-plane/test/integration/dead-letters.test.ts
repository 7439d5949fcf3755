import { appendEvent } from '@wa-cluster/core'
import { events, webhookDeliveries } from '@wa-cluster/db'
import { and, eq } from 'drizzle-orm'
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
let clinicSession: string
let shopSession: string
let endpointId: string
/** The clinic's events: the first dead on both its webhooks, the second dead on the endpoint only. */
const clinicEvents: string[] = []
let shopEvent: string

const key = TEST_ADMIN_KEY
type Listed = { eventId: string; endpoint: string }
const pairs = (body: { data: Listed[] }) => body.data.map((item) => `${item.eventId} ${item.endpoint}`)

/** An event as a session-node appends it (no node runs here): due to every webhook of the tenant. */
const append = (sessionId: string, state: 'CONNECTING' | 'CONNECTED') =>
  appendEvent(api.ctx.database.db, {
    sessionId,
    type: 'connection.update',
    data: { state, previousState: 'DISCONNECTED' },
  })

/** What the dispatcher writes once a delivery has used up its attempts. */
async function deadOnDefault(eventId: string) {
  await api.ctx.database.db
    .update(events)
    .set({ delivery: 'dead', attempts: 3, lastError: 'HTTP 500' })
    .where(eq(events.id, eventId))
}
async function deadOnEndpoint(eventId: string) {
  await api.ctx.database.db
    .update(webhookDeliveries)
    .set({ status: 'dead', attempts: 3, lastError: 'connection refused' })
    .where(and(eq(webhookDeliveries.eventId, eventId), eq(webhookDeliveries.endpointId, endpointId)))
}

beforeAll(async () => {
  api = await createTestApi('cp_dead_letters')
  clinic = await createTenantThroughApi(api, 'Klinik')
  shop = await createTenantThroughApi(api, 'Toko')
  clinicSession = (await api.call('POST', '/v1/sessions', { key: clinic.apiKey, body: {} })).body.id
  shopSession = (await api.call('POST', '/v1/sessions', { key: shop.apiKey, body: {} })).body.id
  // Nothing listens on port 9: no dispatcher runs here anyway, the rows are set as it would set them.
  const url = 'http://127.0.0.1:9/hook'
  await api.call('PUT', '/v1/webhook', { key: clinic.apiKey, body: { url } })
  await api.call('PUT', '/v1/webhook', { key: shop.apiKey, body: { url } })
  endpointId = (await api.call('POST', '/v1/webhooks', { key: clinic.apiKey, body: { url } })).body.id
  clinicEvents.push((await append(clinicSession, 'CONNECTING')).id)
  clinicEvents.push((await append(clinicSession, 'CONNECTED')).id)
  shopEvent = (await append(shopSession, 'CONNECTING')).id
  await append(shopSession, 'CONNECTED') // still pending: no dead letter
  await deadOnDefault(clinicEvents[0]!)
  await deadOnEndpoint(clinicEvents[0]!)
  await api.ctx.database.db
    .update(events)
    .set({ delivery: 'delivered', attempts: 1 })
    .where(eq(events.id, clinicEvents[1]!))
  await deadOnEndpoint(clinicEvents[1]!)
  await deadOnDefault(shopEvent)
})
afterAll(async () => {
  await api?.close()
})

describe('dead letters (operator)', () => {
  it('lists the dead deliveries of every tenant, newest first, one per event and endpoint', async () => {
    const response = await api.call('GET', '/v1/dead-letters', { key })
    expect(response.status).toBe(200)
    expect(pairs(response.body)).toEqual([
      `${shopEvent} default`,
      `${clinicEvents[1]} ${endpointId}`,
      `${clinicEvents[0]} ${endpointId}`,
      `${clinicEvents[0]} default`,
    ])
    expect(response.body.nextCursor).toBeNull()
    expect(response.body.data[3]).toEqual({
      tenantId: clinic.tenantId,
      tenantName: 'Klinik',
      sessionId: clinicSession,
      eventId: clinicEvents[0],
      type: 'connection.update',
      endpoint: 'default',
      attempts: 3,
      lastError: 'HTTP 500',
      occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    })
    expect(response.body.data[2]).toMatchObject({ endpoint: endpointId, lastError: 'connection refused' })
  })

  it('pages with limit and after, and filters by tenant', async () => {
    const all = pairs((await api.call('GET', '/v1/dead-letters', { key })).body)
    const seen: string[] = []
    let after: string | null = null
    do {
      const query: string = after ? `?limit=1&after=${after}` : '?limit=1'
      const page = await api.call('GET', `/v1/dead-letters${query}`, { key })
      expect(page.status).toBe(200)
      seen.push(...pairs(page.body))
      after = page.body.nextCursor
    } while (after)
    expect(seen).toEqual(all)
    const clinicOnly = await api.call('GET', `/v1/dead-letters?tenantId=${clinic.tenantId}`, { key })
    expect(clinicOnly.body.data.map((item: { tenantId: string }) => item.tenantId)).toEqual([
      clinic.tenantId,
      clinic.tenantId,
      clinic.tenantId,
    ])
  })

  it("redelivers the listed events' dead deliveries only, then all of a tenant's", async () => {
    const one = await api.call('POST', '/v1/dead-letters/redeliver', {
      key,
      body: { tenantId: clinic.tenantId, eventIds: [clinicEvents[1]] },
    })
    expect(one.status).toBe(200)
    expect(one.body).toEqual({ redelivered: 1 })
    // Its default delivery had succeeded: left alone; the dead endpoint delivery is queued again.
    const [delivered] = await api.ctx.database.db.select().from(events).where(eq(events.id, clinicEvents[1]!))
    expect(delivered).toMatchObject({ delivery: 'delivered' })
    const [queued] = await api.ctx.database.db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.eventId, clinicEvents[1]!))
    expect(queued).toMatchObject({ status: 'pending', attempts: 0, lastError: null })

    // Another tenant's event named under this tenant is no dead letter of it.
    const foreign = await api.call('POST', '/v1/dead-letters/redeliver', {
      key,
      body: { tenantId: clinic.tenantId, eventIds: [shopEvent] },
    })
    expect(foreign.body).toEqual({ redelivered: 0 })

    const all = await api.call('POST', '/v1/dead-letters/redeliver', {
      key,
      body: { tenantId: clinic.tenantId },
    })
    expect(all.body).toEqual({ redelivered: 2 })
    const left = await api.call('GET', '/v1/dead-letters', { key })
    expect(pairs(left.body)).toEqual([`${shopEvent} default`])
    const [pending] = await api.ctx.database.db.select().from(events).where(eq(events.id, clinicEvents[0]!))
    expect(pending).toMatchObject({ delivery: 'pending', attempts: 0, lastError: null })
    const again = await api.call('POST', '/v1/dead-letters/redeliver', {
      key,
      body: { tenantId: clinic.tenantId },
    })
    expect(again.body).toEqual({ redelivered: 0 })
  })

  it('is for the operator only and refuses bad input naming the field, changing nothing', async () => {
    const before = await snapshotDatabase(api)
    expect((await api.call('GET', '/v1/dead-letters', { key: clinic.apiKey })).status).toBe(403)
    expect((await api.call('GET', '/v1/dead-letters')).status).toBe(401)
    const asTenant = await api.call('POST', '/v1/dead-letters/redeliver', {
      key: clinic.apiKey,
      body: { tenantId: clinic.tenantId },
    })
    expect(asTenant.status).toBe(403)
    const unknownTenant = await api.call('POST', '/v1/dead-letters/redeliver', {
      key,
      body: { tenantId: 'ten_unknown' },
    })
    expect(unknownTenant.status).toBe(404)

    const queries: [string, string][] = [
      ['limit=0', 'query.limit'],
      ['limit=201', 'query.limit'],
      ['limit=abc', 'query.limit'],
      [`after=${shopEvent}`, 'query.after'],
      ['after=evt_abc:other', 'query.after'],
      ['tenantId=abc', 'query.tenantId'],
    ]
    for (const [query, field] of queries) {
      const response = await api.call('GET', `/v1/dead-letters?${query}`, { key })
      expect(response.status, query).toBe(400)
      expect(response.body.error, query).toMatchObject({ code: 'validation_failed', field })
    }
    const bodies: [unknown, string][] = [
      [{}, 'body.tenantId'],
      [{ tenantId: 'abc' }, 'body.tenantId'],
      [{ tenantId: clinic.tenantId, eventIds: [] }, 'body.eventIds'],
      [{ tenantId: clinic.tenantId, eventIds: ['abc'] }, 'body.eventIds.0'],
      [{ tenantId: clinic.tenantId, eventIds: 'evt_abc' }, 'body.eventIds'],
    ]
    for (const [body, field] of bodies) {
      const response = await api.call('POST', '/v1/dead-letters/redeliver', { key, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(response.body.error, JSON.stringify(body)).toMatchObject({ code: 'validation_failed', field })
    }
    const extra = await api.call('POST', '/v1/dead-letters/redeliver', {
      key,
      body: { tenantId: clinic.tenantId, status: 'dead' },
    })
    expect(extra.status).toBe(400)
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})
