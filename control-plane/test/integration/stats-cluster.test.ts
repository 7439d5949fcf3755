import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, linkSessionThroughApi, startCluster } from '../../../test-support/cluster.js'
import {
  type ReceivedEvent,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../../test-support/webhook-receiver.js'

/**
 * Statistics, metadata, externalId and failure codes as the cluster produces them: a control-plane and
 * a session-node as processes on real Postgres and Redis, Baileys against wa-sim, whose contacts
 * deliver and read what the session sends them.
 */
describe.sequential('message statistics through the cluster', () => {
  const sessionPhone = '6285720000101'
  const reader = '6281320000101'
  const receiver = '6281320000102'
  const nobody = '6281299990101'
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let hooks: WebhookReceiver
  let admin: WaClusterClient
  let tenant: WaClusterClient
  let other: WaClusterClient
  let tenantId: string
  let tenantKey: string
  let otherKey: string
  let sessionId: string
  const sent: Record<string, { id: string; waMessageId: string | null }> = {}

  const updateOf = (messageId: string, status: string) => (event: ReceivedEvent) =>
    event.type === 'messages.update' &&
    event.data.updates.some((update) => update.id === messageId && update.status === status)
  const stats = async (client: WaClusterClient, query: Record<string, string> = {}) =>
    (await client.GET('/v1/stats', { params: { query } })).data!

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    for (const pn of [reader, receiver]) await sim.addContact({ pn })
    hooks = await startWebhookReceiver()
    cluster = await startCluster({
      controlPlanes: 1,
      sessionNodes: 1,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: { BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn' },
    })
    admin = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: cluster.adminKey })
    const created = (await admin.POST('/v1/tenants', { body: { name: 'Billing notifier' } })).data!
    tenantId = created.id
    tenantKey = created.apiKey
    tenant = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: tenantKey })
    otherKey = (await admin.POST('/v1/tenants', { body: { name: 'Someone else' } })).data!.apiKey
    other = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: otherKey })
    const webhook = await tenant.PUT('/v1/webhook', { body: { url: hooks.url } })
    hooks.setSecret(webhook.data!.secret)
    sessionId = (
      await linkSessionThroughApi(tenant, sim, sessionPhone, tenant, {
        name: 'billing',
        externalId: 'cust-42',
        pushName: 'Billing',
      })
    ).id
  })

  afterAll(async () => {
    await cluster?.stop()
    await hooks?.close()
    await sim?.stop()
  })

  it('carries metadata, externalId and stable failure codes into the webhook', async () => {
    const send = async (to: string, invoiceId: string) =>
      (
        await tenant.POST('/v1/sessions/{sessionId}/messages', {
          params: { path: { sessionId } },
          body: { to, text: `Tagihan ${invoiceId}`, metadata: { invoiceId } },
        })
      ).data!
    sent.read = await send(`0${reader.slice(2)}`, 'INV-1')
    sent.delivered = await send(`${receiver}@c.us`, 'INV-2')
    sent.failed = await send(nobody, 'INV-3')

    const readSent = await hooks.waitFor('INV-1 sent', updateOf(sent.read.id, 'sent'))
    expect(readSent.data).toMatchObject({
      externalId: 'cust-42',
      updates: [{ id: sent.read.id, status: 'sent', metadata: { invoiceId: 'INV-1' } }],
    })
    await hooks.waitFor('INV-2 sent', updateOf(sent.delivered.id, 'sent'))
    const failed = await hooks.waitFor('INV-3 failed', updateOf(sent.failed.id, 'failed'))
    expect(failed.data).toMatchObject({
      externalId: 'cust-42',
      updates: [
        {
          id: sent.failed.id,
          status: 'failed',
          metadata: { invoiceId: 'INV-3' },
          error: { code: 'not_on_whatsapp', message: 'the recipient has no WhatsApp account' },
        },
      ],
    })

    const waIdOf = async (messageId: string) =>
      (
        await tenant.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
          params: { path: { sessionId, messageId } },
        })
      ).data!.waMessageId!
    await sim.receipt({ from: reader, to: sessionPhone, id: await waIdOf(sent.read.id) })
    await sim.receipt({ from: reader, to: sessionPhone, id: await waIdOf(sent.read.id), type: 'read' })
    await sim.receipt({ from: receiver, to: sessionPhone, id: await waIdOf(sent.delivered.id) })
    const read = await hooks.waitFor('INV-1 read', updateOf(sent.read.id, 'read'))
    expect(read.data).toMatchObject({
      externalId: 'cust-42',
      updates: [{ metadata: { invoiceId: 'INV-1' } }],
    })
    await hooks.waitFor('INV-2 delivered', updateOf(sent.delivered.id, 'delivered'))
    // Connection events carry the externalId too.
    expect(
      hooks.events.find((event) => event.type === 'connection.update' && event.sessionId === sessionId)?.data,
    ).toMatchObject({ externalId: 'cust-42' })
  })

  it('counts every outcome from the counters, per tenant and per session, and for the operator', async () => {
    const expected = {
      total: 3,
      queued: 0,
      sent: 2,
      delivered: 2,
      read: 1,
      failed: 1,
      successRate: 2 / 3,
      inbound: 0,
      lastSuccessAt: expect.any(String),
      lastFailureAt: expect.any(String),
    }
    expect(await stats(tenant)).toMatchObject({ ...expected, from: null, until: null, timeZone: 'UTC' })
    const session = await tenant.GET('/v1/sessions/{sessionId}/stats', { params: { path: { sessionId } } })
    expect(session.data).toMatchObject(expected)
    const operator = await admin.GET('/v1/tenants/{tenantId}/stats', { params: { path: { tenantId } } })
    expect(operator.data).toMatchObject(expected)
    // A range that ends before the messages were created counts none of them.
    expect(await stats(tenant, { until: '2020-01-01T00:00:00Z' })).toMatchObject({
      total: 0,
      successRate: null,
      lastSuccessAt: null,
    })
  })

  it('groups by day in the tenant time zone', async () => {
    await admin.PATCH('/v1/tenants/{tenantId}', {
      params: { path: { tenantId } },
      body: { timeZone: 'Asia/Jakarta' },
    })
    const grouped = await stats(tenant, { groupBy: 'day' })
    const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Jakarta' }).format(new Date())
    expect(grouped.timeZone).toBe('Asia/Jakarta')
    // The messages were sent moments ago: one local day (two only if the test straddled local midnight).
    expect(grouped.days!.at(-1)!.date).toBe(today)
    expect(grouped.days!.reduce((sum, day) => sum + day.total, 0)).toBe(3)
  })

  it('survives a control-plane restart, counts inbound rows and keeps counts after messages are deleted', async () => {
    const before = await stats(tenant)
    expect(before.total).toBe(3)
    await cluster.controlPlanes[0]!.process.stop('SIGKILL')
    const restarted = await cluster.startControlPlane(0)
    tenant = createClient({ baseUrl: restarted.url, apiKey: tenantKey })
    other = createClient({ baseUrl: restarted.url, apiKey: otherKey })
    expect(await stats(tenant)).toEqual(before)

    // Inbound rows as the message history stores them: counted by the same trigger.
    await cluster.database.handle.db.execute(sql`
      INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, type, text, status)
      VALUES ('msg_inbound_stats_1', ${tenantId}, ${sessionId}, 'in', ${`${reader}@s.whatsapp.net`}, 'text', 'halo', 'read')`)
    // Retention deletes message rows; the counters stay.
    await cluster.database.handle.db.execute(sql`DELETE FROM messages WHERE session_id = ${sessionId}`)
    const operator = await createClient({ baseUrl: restarted.url, apiKey: cluster.adminKey }).GET(
      '/v1/tenants/{tenantId}/stats',
      { params: { path: { tenantId } } },
    )
    expect(operator.data).toMatchObject({ ...before, inbound: 1 })
  })

  it('keeps tenants apart and refuses bad filters with 400 naming the field', async () => {
    expect(await stats(other)).toMatchObject({ total: 0, failed: 0, inbound: 0 })
    const foreign = await other.GET('/v1/sessions/{sessionId}/stats', { params: { path: { sessionId } } })
    expect(foreign.response.status).toBe(404)
    const operatorOnly = await other.GET('/v1/tenants/{tenantId}/stats', { params: { path: { tenantId } } })
    expect(operatorOnly.response.status).toBe(403)

    const cases: [Record<string, string>, string, RegExp][] = [
      [{ from: 'yesterday' }, 'query.from', /ISO 8601/],
      [{ until: '2025-01-01' }, 'query.until', /ISO 8601/],
      [{ from: '2025-02-01T00:00:00Z', until: '2025-01-01T00:00:00Z' }, 'query.until', /after from/],
      [{ groupBy: 'week' }, 'query.groupBy', /day/],
    ]
    for (const [query, field, reason] of cases) {
      const response = await other.GET('/v1/stats', { params: { query: query as never } })
      expect(response.response.status, field).toBe(400)
      expect((response.error as { error: { field: string; message: string } }).error).toMatchObject({ field })
      expect((response.error as { error: { message: string } }).error.message).toMatch(reason)
    }
  })
})
