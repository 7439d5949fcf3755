import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, startCluster } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/processes.js'
import { startWebhookReceiver, type WebhookReceiver } from '../../../test-support/webhook-receiver.js'

/**
 * Broadcasts and scheduled sends as the cluster runs them: a control-plane and two session-nodes as
 * separate processes on real Postgres and Redis, Baileys against wa-sim. The simulated phones'
 * inboxes are the oracle: what each recipient received, and when.
 */
// A story: the steps share one linked session and run in order.
describe.sequential('broadcasts: pacing, pause/resume/cancel, windows, failover, scheduled sends', () => {
  const timings = {
    BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn',
    LEASE_TTL_MS: '6000',
    HEARTBEAT_INTERVAL_MS: '500',
    NODE_TTL_MS: '3000',
    RECONCILE_INTERVAL_MS: '1000',
    // The 200-recipient run below paces at 250 ms, under the production floor of one a second.
    BROADCAST_MIN_DELAY_MS: '250',
  }
  const sessionPhone = '6285720000001'
  const contacts = Array.from({ length: 12 }, (_, index) => `62813200000${String(index).padStart(2, '0')}`)
  const bulkContacts = Array.from(
    { length: 200 },
    (_, index) => `6281330000${String(index).padStart(3, '0')}`,
  )
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let receiver: WebhookReceiver
  let tenant: WaClusterClient
  let admin: WaClusterClient
  let tenantId: string
  let sessionId: string
  let runCounter = 0

  type Received = { id: string; to: string; text: string; timestamp: number }
  /** What the simulated phones received of texts tagged `tag`, first receipt of each WhatsApp id. */
  async function receivedWith(tag: string): Promise<Received[]> {
    const seen = new Set<string>()
    const inbox = (await sim.inbox()) as Received[]
    return inbox.filter((entry) => {
      if (!entry.text.includes(tag) || seen.has(entry.id)) return false
      seen.add(entry.id)
      return true
    })
  }
  /** Every receipt (duplicates of one WhatsApp id included) of texts tagged `tag`. */
  async function allReceiptsWith(tag: string): Promise<Received[]> {
    return ((await sim.inbox()) as Received[]).filter((entry) => entry.text.includes(tag))
  }
  const gapsOf = (received: Received[]) =>
    received.slice(1).map((entry, index) => entry.timestamp - received[index]!.timestamp)

  async function createBroadcast(body: Record<string, unknown>, idempotencyKey?: string) {
    const response = await tenant.POST('/v1/sessions/{sessionId}/broadcasts', {
      params: {
        path: { sessionId },
        ...(idempotencyKey ? { header: { 'idempotency-key': idempotencyKey } } : {}),
      },
      body: body as never,
    })
    if (!response.data) throw new Error(`broadcast refused: ${JSON.stringify(response.error)}`)
    return response.data
  }
  const getBroadcast = async (broadcastId: string) =>
    (await tenant.GET('/v1/broadcasts/{broadcastId}', { params: { path: { broadcastId } } })).data!
  const act = (broadcastId: string, action: 'pause' | 'resume' | 'cancel') => {
    const params = { params: { path: { broadcastId } } }
    if (action === 'pause') return tenant.POST('/v1/broadcasts/{broadcastId}/pause', params)
    if (action === 'resume') return tenant.POST('/v1/broadcasts/{broadcastId}/resume', params)
    return tenant.POST('/v1/broadcasts/{broadcastId}/cancel', params)
  }
  /** `sending` times of a broadcast's rows by Postgres' clock, in recipient order. */
  async function claimTimes(broadcastId: string): Promise<number[]> {
    const rows = await cluster.database.handle.rows<{ at: string }>(sql`
      SELECT (SELECT min(entry->>'at') FROM jsonb_array_elements(status_history) entry
        WHERE entry->>'status' = 'sending') AS at
      FROM messages WHERE broadcast_id = ${broadcastId} ORDER BY broadcast_index`)
    return rows.map((row) => Date.parse(row.at))
  }
  const ownerOf = async () =>
    (await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })).data!.nodeId!

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    for (const pn of [...contacts, ...bulkContacts])
      await sim.addContact({ pn, name: `Contact ${pn.slice(-3)}` })
    receiver = await startWebhookReceiver()
    cluster = await startCluster({
      controlPlanes: 1,
      sessionNodes: 2,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: timings,
    })
    admin = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: cluster.adminKey })
    const created = (await admin.POST('/v1/tenants', { body: { name: 'Billing notifier' } })).data!
    tenantId = created.id
    const apiKey = created.apiKey
    tenant = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey })
    const webhook = await tenant.PUT('/v1/webhook', { body: { url: receiver.url } })
    receiver.setSecret(webhook.data!.secret)
    sessionId = (await tenant.POST('/v1/sessions', { body: { name: 'billing' } })).data!.id
    const connect = await tenant.POST('/v1/sessions/{sessionId}/connect', { params: { path: { sessionId } } })
    await sim.scan({ qr: connect.data!.qr!, phone: sessionPhone, pushName: 'Billing' })
    await eventually(
      'session CONNECTED',
      async () =>
        (await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })).data?.state ===
        'CONNECTED',
      60_000,
    )
  })

  afterAll(async () => {
    await cluster?.stop()
    await receiver?.close()
    await sim?.stop()
  })

  it('sends every recipient exactly once, in order, never closer than delayMs; reports progress and completion', async () => {
    const tag = `[run ${++runCounter}]`
    await tenant.PUT('/v1/templates/{name}', {
      params: { path: { name: 'invoice' } },
      body: { body: `${tag} Halo {{name}}, tagihan {{invoice}} sebesar {{amount}}.` },
    })
    const recipients = contacts.slice(0, 8).map((to, index) => ({
      to: `0${to.slice(2)}`,
      variables: { name: `C${index}`, invoice: `INV-${index}`, amount: `${index}000` },
      metadata: { customerId: `c${index}` },
    }))
    const created = await createBroadcast({ recipients, template: 'invoice', delayMs: 1000 }, 'month-end')
    expect(created).toMatchObject({ status: 'running', total: 8 })
    // A retry of the request (same key, same body) is the same broadcast, not a second one.
    expect(await createBroadcast({ recipients, template: 'invoice', delayMs: 1000 }, 'month-end')).toEqual(
      created,
    )

    const done = await eventually(
      'broadcast completed',
      async () => {
        const view = await getBroadcast(created.id)
        return view.status === 'completed' ? view : undefined
      },
      60_000,
    )
    expect(done).toMatchObject({ total: 8, queued: 0, sent: 8, failed: 0, nextSendAt: null })
    expect(done.startedAt).toEqual(expect.any(String))
    expect(done.finishedAt).toEqual(expect.any(String))

    const received = await receivedWith(tag)
    expect(received.map((entry) => entry.to)).toEqual(contacts.slice(0, 8))
    expect(received.map((entry) => entry.text)).toEqual(
      recipients.map((_, index) => `${tag} Halo C${index}, tagihan INV-${index} sebesar ${index}000.`),
    )
    // Lower bounds on the pace, not performance: the phones never got two closer than the delay.
    for (const gap of gapsOf(received)) expect(gap).toBeGreaterThanOrEqual(1000)
    const claims = await claimTimes(created.id)
    for (let index = 1; index < claims.length; index++)
      expect(claims[index]! - claims[index - 1]!).toBeGreaterThanOrEqual(1000)

    const recipientsPage = await tenant.GET('/v1/broadcasts/{broadcastId}/recipients', {
      params: { path: { broadcastId: created.id }, query: { limit: 50 } },
    })
    expect(recipientsPage.data!.data).toHaveLength(8)
    expect(recipientsPage.data!.data[2]).toMatchObject({ index: 2, metadata: { customerId: 'c2' } })
    expect(recipientsPage.data!.data.every((row) => row.sentAt !== null)).toBe(true)

    const completed = await receiver.waitFor(
      'broadcast.completed webhook',
      (event) => event.type === 'broadcast.completed' && event.data.broadcastId === created.id,
    )
    expect(completed.type === 'broadcast.completed' && completed.data).toMatchObject({
      status: 'completed',
      total: 8,
      sent: 8,
    })
    expect(
      receiver.events.some(
        (event) => event.type === 'broadcast.progress' && event.data.broadcastId === created.id,
      ),
    ).toBe(true)
  })

  it('two broadcasts on one session share its pace, and a single send meanwhile is not starved', async () => {
    const tag = `[run ${++runCounter}]`
    const first = await createBroadcast({
      recipients: contacts.slice(0, 3).map((to, index) => ({ to, text: `${tag} first ${index}` })),
      delayMs: 1000,
    })
    const second = await createBroadcast({
      recipients: contacts.slice(3, 6).map((to, index) => ({ to, text: `${tag} second ${index}` })),
      delayMs: 1000,
    })
    const single = await tenant.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId } },
      body: { to: contacts[11]!, text: `${tag} single` },
    })
    expect(single.response.status).toBe(202)
    await eventually(
      'both broadcasts completed',
      async () =>
        (await getBroadcast(first.id)).status === 'completed' &&
        (await getBroadcast(second.id)).status === 'completed',
      60_000,
    )
    const paced = (await receivedWith(tag)).filter((entry) => !entry.text.endsWith('single'))
    expect(paced).toHaveLength(6)
    for (const gap of gapsOf(paced)) expect(gap).toBeGreaterThanOrEqual(1000)
    // The single send went out before the broadcasts were done.
    const all = await receivedWith(tag)
    const singleAt = all.findIndex((entry) => entry.text.endsWith('single'))
    expect(singleAt).toBeGreaterThanOrEqual(0)
    expect(singleAt).toBeLessThan(all.length - 1)
  })

  it('pause stops sending, resume continues where it stopped, cancel leaves the rest unsent', async () => {
    const tag = `[run ${++runCounter}]`
    const created = await createBroadcast({
      recipients: contacts.slice(0, 6).map((to, index) => ({ to, text: `${tag} ${index}` })),
      delayMs: 1000,
    })
    await eventually('two sent', async () => (await receivedWith(tag)).length >= 2, 30_000)
    expect((await act(created.id, 'pause')).data?.status).toBe('paused')
    // A send under way when paused may still complete; after that nothing more goes.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const atPause = (await receivedWith(tag)).length
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect((await receivedWith(tag)).length).toBe(atPause)
    expect((await getBroadcast(created.id)).status).toBe('paused')

    expect((await act(created.id, 'resume')).data?.status).toBe('running')
    await eventually(
      'resumed broadcast completed',
      async () => (await getBroadcast(created.id)).status === 'completed',
      30_000,
    )
    const received = await receivedWith(tag)
    expect(received.map((entry) => entry.to)).toEqual(contacts.slice(0, 6))
    for (const gap of gapsOf(received)) expect(gap).toBeGreaterThanOrEqual(1000)

    const cancelTag = `[run ${++runCounter}]`
    const doomed = await createBroadcast({
      recipients: contacts.slice(0, 6).map((to, index) => ({ to, text: `${cancelTag} ${index}` })),
      delayMs: 1000,
    })
    await eventually('one sent', async () => (await receivedWith(cancelTag)).length >= 1, 30_000)
    const cancelled = await act(doomed.id, 'cancel')
    expect(cancelled.data?.status).toBe('cancelled')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const atCancel = (await receivedWith(cancelTag)).length
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect((await receivedWith(cancelTag)).length).toBe(atCancel)
    const view = await getBroadcast(doomed.id)
    expect(view.sent + view.cancelled).toBe(6)
    expect(view.cancelled).toBeGreaterThanOrEqual(6 - atCancel)
    expect(view.sent).toBe(atCancel)
  })

  it('a broadcast whose window is closed waits: scheduled, nothing sent', async () => {
    const tag = `[run ${++runCounter}]`
    const today = new Date().getUTCDay() || 7
    const created = await createBroadcast({
      recipients: contacts.slice(0, 2).map((to, index) => ({ to, text: `${tag} ${index}` })),
      delayMs: 1000,
      window: { days: [(today % 7) + 1], from: '00:00', until: '23:59', timeZone: 'UTC' },
    })
    expect(created.status).toBe('scheduled')
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const view = await getBroadcast(created.id)
    const tomorrow = new Date()
    tomorrow.setUTCHours(24, 0, 0, 0)
    expect(view).toMatchObject({
      status: 'scheduled',
      queued: 2,
      sent: 0,
      nextSendAt: tomorrow.toISOString(),
    })
    expect(await receivedWith(tag)).toEqual([])
    await act(created.id, 'cancel')
  })

  it('a scheduled single message goes out when due, not before', async () => {
    const tag = `[run ${++runCounter}]`
    const sendAt = new Date(Date.now() + 4000)
    const response = await tenant.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId } },
      body: { to: contacts[0]!, text: `${tag} reminder`, sendAt: sendAt.toISOString() },
    })
    expect(response.data).toMatchObject({ status: 'queued', sendAt: sendAt.toISOString() })
    const [received] = await eventually(
      'scheduled message received',
      async () => {
        const got = await receivedWith(tag)
        return got.length > 0 ? got : undefined
      },
      30_000,
    )
    expect(received!.timestamp).toBeGreaterThanOrEqual(sendAt.getTime())
  })

  it('200 recipients: each exactly once and never closer than delayMs, though the owner is SIGKILLed mid-run', async () => {
    const tag = `[run ${++runCounter}]`
    const delayMs = 250
    // 240 a minute: past the default per-session send limit, which a broadcast would wait for.
    const limits = (messagesPerMinutePerSession: number | null) =>
      admin.PATCH('/v1/tenants/{tenantId}', {
        params: { path: { tenantId } },
        body: { limits: { messagesPerMinutePerSession } },
      })
    await limits(1000)
    const created = await createBroadcast({
      recipients: bulkContacts.map((to, index) => ({ to, text: `${tag} ${index}` })),
      delayMs,
    })
    await eventually('60 sent', async () => (await receivedWith(tag)).length >= 60, 60_000)
    const victim = await ownerOf()
    cluster.node(victim).signal('SIGKILL')
    const done = await eventually(
      'broadcast completed on the other node',
      async () => {
        const view = await getBroadcast(created.id)
        return view.status === 'completed' ? view : undefined
      },
      180_000,
    )
    await limits(null)
    expect(await ownerOf()).not.toBe(victim)
    expect(done).toMatchObject({ total: 200, sent: 200, failed: 0 })
    // Each recipient got one message, in order: a send cut short by the kill is resent with its
    // WhatsApp id, which the phone de-duplicates, so no recipient has two different messages.
    const received = await receivedWith(tag)
    expect(received.map((entry) => entry.to)).toEqual(bulkContacts)
    const receipts = await allReceiptsWith(tag)
    expect(new Set(receipts.map((entry) => entry.id)).size).toBe(200)
    // Judged by when wa-sim received each message, across the kill and the failover.
    const tooClose = gapsOf(received).filter((gap) => gap < delayMs)
    expect(tooClose).toEqual([])
    console.log(
      `broadcast of 200 at ${delayMs} ms through a SIGKILL of ${victim}: smallest gap ${Math.min(...gapsOf(received))} ms, ` +
        `largest ${Math.max(...gapsOf(received))} ms, ${receipts.length - 200} repeated deliveries of one id`,
    )
  })

  it('continues on the next node when its node is drained mid-broadcast: each recipient once, pace kept', async () => {
    // The node killed above comes back, so the drained node's session has somewhere to go.
    const owner = await ownerOf()
    const other = owner === 'node-1' ? 'node-2' : 'node-1'
    if (
      !(await admin.GET('/v1/nodes')).data!.data.some((node) => node.id === other && node.status === 'active')
    )
      await cluster.startNode(other)
    await eventually(
      `${other} active`,
      async () =>
        (await admin.GET('/v1/nodes')).data!.data.some(
          (node) => node.id === other && node.status === 'active',
        ),
      30_000,
    )
    const tag = `[run ${++runCounter}]`
    const created = await createBroadcast({
      recipients: contacts.slice(0, 8).map((to, index) => ({ to, text: `${tag} ${index}` })),
      delayMs: 1000,
    })
    await eventually('two sent', async () => (await receivedWith(tag)).length >= 2, 30_000)
    const drained = await admin.POST('/v1/nodes/{nodeId}/drain', { params: { path: { nodeId: owner } } })
    expect(drained.response.status).toBe(200)
    const done = await eventually(
      'broadcast completed after the drain',
      async () => {
        const view = await getBroadcast(created.id)
        return view.status === 'completed' ? view : undefined
      },
      90_000,
    )
    expect(await ownerOf()).toBe(other)
    expect(done).toMatchObject({ total: 8, sent: 8, failed: 0 })
    const received = await receivedWith(tag)
    expect(received.map((entry) => entry.to)).toEqual(contacts.slice(0, 8))
    expect(new Set((await allReceiptsWith(tag)).map((entry) => entry.id)).size).toBe(8)
    for (const gap of gapsOf(received)) expect(gap).toBeGreaterThanOrEqual(1000)
    await admin.POST('/v1/nodes/{nodeId}/activate', { params: { path: { nodeId: owner } } })
  })

  it('waits for the tenant daily quota instead of failing, and single sends meet the same budget', async () => {
    const tag = `[run ${++runCounter}]`
    await admin.PATCH('/v1/tenants/{tenantId}', {
      params: { path: { tenantId } },
      body: { limits: { messagesPerDay: 2 } },
    })
    const created = await createBroadcast({
      recipients: contacts.slice(0, 4).map((to, index) => ({ to, text: `${tag} ${index}` })),
      delayMs: 1000,
    })
    await eventually('two sent', async () => (await receivedWith(tag)).length >= 2, 30_000)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect(await receivedWith(tag)).toHaveLength(2)
    const view = await getBroadcast(created.id)
    expect(view).toMatchObject({ status: 'running', sent: 2, queued: 2, failed: 0 })
    expect(Date.parse(view.nextSendAt!)).toBeGreaterThan(Date.now() + 23 * 3600_000)
    const single = await tenant.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId } },
      body: { to: contacts[0]!, text: `${tag} single` },
    })
    expect(single.response.status).toBe(429)
    expect(single.error?.error.details).toMatchObject({ limit: 'messagesPerDay', value: 2 })
    await act(created.id, 'cancel')
  })
})
