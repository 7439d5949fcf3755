import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { generateSecretBoxKey, parseSecretBoxKey, secretBoxKeyId } from '@wa-cluster/shared'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebhookEventSchema } from '../../../control-plane/src/http/schemas.js'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { eventually, freePort, type ManagedProcess, startProcess } from '../../../test-support/processes.js'
import { TEST_ALLOW_PRIVATE_NETWORKS } from '../../../test-support/seed.js'
import {
  connectionState,
  inboundText,
  type ReceivedEvent,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../../test-support/webhook-receiver.js'

/**
 * The whole tenant journey through the HTTP API, with the real Baileys client inside a real gateway
 * process talking to wa-sim: link by QR, receive, send, receipts, restart without QR, unlink → LOGGED_OUT.
 */
// A story: each step builds on the state the steps before it left, so they run in order, and a
// step cannot be run alone.
describe.sequential('tenant journey (all-in-one gateway process, real Postgres + Redis, Baileys against wa-sim)', () => {
  const adminKey = `admin-${generateSecretBoxKey()}`
  const authStateKey = generateSecretBoxKey()
  const sessionPhone = '6285700000001'
  const contactPhone = '6281200000002'
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let database: TestDatabase
  let receiver: WebhookReceiver
  let gateway: ManagedProcess
  let baseUrl: string
  let admin: WaClusterClient
  let tenant: WaClusterClient
  let tenantKey: string
  let dataDir: string
  let sessionId: string
  let linkedJid: string
  let env: Record<string, string>
  /** WhatsApp id of the reply sent before the restart (a contact asks for it again after it). */
  let replyWaMessageId: string

  async function startGateway(): Promise<ManagedProcess> {
    const process = startProcess('gateway', 'all-in-one/src/main.ts', env)
    await process.waitForLine(/wa-cluster listening/)
    return process
  }

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    database = await createTestDatabase('journey')
    receiver = await startWebhookReceiver()
    dataDir = mkdtempSync(join(tmpdir(), 'wa-journey-'))
    const port = await freePort()
    baseUrl = `http://127.0.0.1:${port}`
    env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      ALLOW_PRIVATE_NETWORKS: TEST_ALLOW_PRIVATE_NETWORKS,
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `journey-${port}`,
      ADMIN_API_KEY: adminKey,
      AUTH_STATE_KEY: authStateKey,
      WA_WS_URL: sim.url,
      WA_TRUSTED_ROOT_KEY: sim.rootPublicKey,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
      NODE_ID: 'journey-node',
      BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn',
    }
    gateway = await startGateway()
    admin = createClient({ baseUrl, apiKey: adminKey })
  })

  afterAll(async () => {
    await gateway?.stop('SIGTERM')
    await receiver?.close()
    await sim?.stop()
    await database?.drop()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('creates a tenant with a webhook and a session', async () => {
    const created = await admin.POST('/v1/tenants', { body: { name: 'Klinik Sehat' } })
    expect(created.response.status).toBe(201)
    expect(created.data?.apiKey).toMatch(/^wak_/)
    tenantKey = created.data!.apiKey
    tenant = createClient({ baseUrl, apiKey: tenantKey })

    const webhook = await tenant.PUT('/v1/webhook', { body: { url: receiver.url } })
    expect(webhook.response.status).toBe(200)
    expect(webhook.data?.secret).toMatch(/^whsec_/)
    receiver.setSecret(webhook.data!.secret)

    const session = await tenant.POST('/v1/sessions', { body: { name: 'front desk' } })
    expect(session.response.status).toBe(201)
    expect(session.data?.state).toBe('DISCONNECTED')
    sessionId = session.data!.id
  })

  it('drains the node while it holds no session, and activate undoes the drain', async () => {
    const path = { path: { nodeId: 'journey-node' } }
    const drained = await admin.POST('/v1/nodes/{nodeId}/drain', { params: path })
    expect(drained.response.status).toBe(200)
    expect(drained.data).toMatchObject({ status: 'draining', sessionsToMove: 0 })
    const activated = await admin.POST('/v1/nodes/{nodeId}/activate', { params: path })
    expect(activated.response.status).toBe(200)
    expect(activated.data).toMatchObject({ id: 'journey-node', status: 'active' })
    const unknown = await admin.POST('/v1/nodes/{nodeId}/activate', { params: { path: { nodeId: 'nope' } } })
    expect(unknown.response.status).toBe(404)
  })

  it('connects: answers with the QR Baileys emitted, and the phone scan leads to CONNECTED', async () => {
    const connect = await tenant.POST('/v1/sessions/{sessionId}/connect', {
      params: { path: { sessionId } },
    })
    expect(connect.response.status).toBe(200)
    expect(connect.data?.state).toBe('QR_READY')
    expect(connect.data?.qr).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#2@/)
    expect(connect.data?.qrImage).toMatch(/^data:image\/png;base64,/)
    const qr = connect.data!.qr!

    const qrJson = await tenant.GET('/v1/sessions/{sessionId}/qr', { params: { path: { sessionId } } })
    // JSON unless Accept asks for PNG; the document lists both bodies.
    expect(typeof qrJson.data === 'object' && qrJson.data.qr).toBe(qr)
    const png = await tenant.GET('/v1/sessions/{sessionId}/qr', {
      params: { path: { sessionId } },
      headers: { accept: 'image/png' },
      parseAs: 'arrayBuffer',
    })
    expect(png.response.status).toBe(200)
    expect(png.response.headers.get('content-type')).toBe('image/png')
    expect(Buffer.from(png.data!).subarray(1, 4).toString()).toBe('PNG')

    await receiver.waitFor('QR_READY webhook', connectionState(sessionId, 'QR_READY'))
    linkedJid = (await sim.scan({ qr, phone: sessionPhone, pushName: 'Klinik Sehat' })).jid
    const connected = await receiver.waitFor('CONNECTED webhook', connectionState(sessionId, 'CONNECTED'))
    expect(connected.type === 'connection.update' && connected.data.phone).toBe(sessionPhone)
    expect(connected.verified).toBe(true)

    const session = await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })
    expect(session.data).toMatchObject({ state: 'CONNECTED', phone: sessionPhone, nodeId: 'journey-node' })
    const again = await tenant.POST('/v1/sessions/{sessionId}/connect', { params: { path: { sessionId } } })
    expect(again.data).toEqual({ state: 'CONNECTED' })
  })

  it('delivers an inbound message to the webhook', async () => {
    await sim.addContact({ pn: contactPhone, name: 'Budi' })
    await sim.send({ from: contactPhone, to: sessionPhone, text: 'halo, jadwal dokter besok?' })
    const upsert = await receiver.waitFor(
      'inbound message webhook',
      inboundText('halo, jadwal dokter besok?'),
    )
    const message =
      upsert.type === 'messages.upsert' &&
      upsert.data.messages.find((inbound) => inbound.text === 'halo, jadwal dokter besok?')
    expect(message).toMatchObject({
      fromMe: false,
      from: `${contactPhone}@s.whatsapp.net`,
      pushName: 'Budi',
      type: 'text',
    })
  })

  it('sends idempotently to a local-format number; delivered and read arrive as webhooks', async () => {
    const localNumber = `0${contactPhone.slice(2)}`
    const send = () =>
      tenant.POST('/v1/sessions/{sessionId}/messages', {
        params: { path: { sessionId }, header: { 'idempotency-key': 'reply-1' } },
        body: { to: localNumber, text: 'Besok jam 9 pagi.' },
      })
    const first = await send()
    expect(first.response.status).toBe(202)
    const messageId = first.data!.id
    const second = await send()
    expect(second.data?.id).toBe(messageId)
    const getMessage = () =>
      tenant.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
        params: { path: { sessionId, messageId } },
      })

    const sent = await eventually('message sent', async () => {
      const { data } = await getMessage()
      return data?.status === 'sent' || data?.status === 'delivered' ? data : undefined
    })
    expect(sent.to).toBe(`${contactPhone}@s.whatsapp.net`)
    replyWaMessageId = sent.waMessageId!
    const inbox = await eventually('contact decrypted the text', async () => {
      const texts = await sim.inbox(contactPhone)
      return texts.filter((entry: any) => entry.text === 'Besok jam 9 pagi.').length > 0 ? texts : undefined
    })
    expect(inbox.filter((entry: any) => entry.text === 'Besok jam 9 pagi.')).toHaveLength(1)

    expect(
      (await sim.receipt({ from: contactPhone, to: sessionPhone, id: sent.waMessageId! })).delivered,
    ).toBe(1)
    const statusUpdate = (status: string) => (event: ReceivedEvent) =>
      event.type === 'messages.update' &&
      event.data.updates.some((update) => update.id === messageId && update.status === status)
    const delivered = await receiver.waitFor('delivered webhook', statusUpdate('delivered'))
    expect(
      delivered.type === 'messages.update' &&
        delivered.data.updates.find((update) => update.id === messageId),
    ).toMatchObject({
      waMessageId: sent.waMessageId,
      chatId: `${contactPhone}@s.whatsapp.net`,
    })
    expect(
      (await sim.receipt({ from: contactPhone, to: sessionPhone, id: sent.waMessageId!, type: 'read' }))
        .delivered,
    ).toBe(1)
    await receiver.waitFor('read webhook', statusUpdate('read'))
    const final = await getMessage()
    expect(final.data?.status).toBe('read')
    expect(final.data?.statusHistory.map((entry) => entry.status)).toEqual([
      'queued',
      'sending',
      'sent',
      'delivered',
      'read',
    ])
  })

  it('a send to a number without WhatsApp ends failed with not_on_whatsapp, and nothing goes out', async () => {
    const nobody = '6281299990000'
    const queued = await tenant.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId } },
      body: { to: nobody, text: 'Tagihan Anda' },
    })
    expect(queued.response.status).toBe(202)
    const messageId = queued.data!.id
    const failed = await receiver.waitFor(
      'failed webhook',
      (event) =>
        event.type === 'messages.update' &&
        event.data.updates.some((update) => update.id === messageId && update.status === 'failed'),
    )
    expect(
      failed.type === 'messages.update' && failed.data.updates.find((update) => update.id === messageId),
    ).toMatchObject({
      status: 'failed',
      error: { code: 'not_on_whatsapp', message: 'the recipient has no WhatsApp account' },
      chatId: `${nobody}@s.whatsapp.net`,
    })
    const { data } = await tenant.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId, messageId } },
    })
    expect(data).toMatchObject({ status: 'failed', error: { code: 'not_on_whatsapp' } })
    expect(data?.statusHistory.map((entry) => entry.status)).toEqual(['queued', 'sending', 'failed'])
  })

  it('links a second number with a pairing code instead of a QR', async () => {
    const secondId = (await tenant.POST('/v1/sessions', { body: { name: 'pairing code' } })).data!.id
    const path = { sessionId: secondId }
    const connect = await tenant.POST('/v1/sessions/{sessionId}/connect', {
      params: { path },
      body: { pairingPhone: '0857-0000-0003' },
    })
    expect(connect.response.status).toBe(200)
    expect(connect.data?.state).toBe('PAIRING')
    expect(connect.data?.pairingCode).toMatch(/^[A-Z0-9]{8}$/)
    expect(connect.data?.qr).toBeUndefined()
    const linked = await sim.enterPairingCode({ phone: '6285700000003', code: connect.data!.pairingCode! })
    expect(linked.jid).toMatch(/^6285700000003:\d+@s\.whatsapp\.net$/)
    const connected = await receiver.waitFor(
      'CONNECTED by pairing code',
      connectionState(secondId, 'CONNECTED'),
    )
    expect(connected.type === 'connection.update' && connected.data.phone).toBe('6285700000003')
    await tenant.POST('/v1/sessions/{sessionId}/disconnect', { params: { path } })
  })

  it('a webhook receiver that fails for a while gets every event afterwards, none lost', async () => {
    receiver.fail(503)
    const texts = ['outage 1', 'outage 2', 'outage 3']
    for (const text of texts) await sim.send({ from: contactPhone, to: sessionPhone, text })
    await eventually('deliveries refused', () => receiver.deliveries >= 1)
    const delivered = receiver.events.length
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(receiver.events.length).toBe(delivered)
    receiver.recover()
    for (const text of texts) {
      await receiver.waitFor(`"${text}" after the outage`, inboundText(text))
    }
  })

  it('refuses to drain the only node: its sessions would have nowhere to go', async () => {
    const drained = await admin.POST('/v1/nodes/{nodeId}/drain', {
      params: { path: { nodeId: 'journey-node' } },
    })
    expect(drained.response.status).toBe(409)
    expect(drained.error).toMatchObject({ error: { code: 'no_capacity_elsewhere' } })
    const nodes = (await admin.GET('/v1/nodes')).data!.data
    expect(nodes.find((node) => node.id === 'journey-node')).toMatchObject({ status: 'active', sessions: 1 })
    const session = await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })
    expect(session.data?.state).toBe('CONNECTED')
  })

  it('restarts the process and reconnects from Postgres credentials without a QR', async () => {
    const loginsBefore = (await sim.stats()).logins
    const qrEventsBefore = receiver.events.filter(connectionState(sessionId, 'QR_READY')).length
    const eventsBefore = receiver.events.length
    expect(await gateway.stop('SIGTERM')).toBe(0)
    gateway = await startGateway()
    await eventually('CONNECTED again after restart', () =>
      receiver.events.slice(eventsBefore).find(connectionState(sessionId, 'CONNECTED')),
    )
    // The only process went away: it says so, not "moving to another node" (there is none).
    const states = receiver.events
      .slice(eventsBefore)
      .filter((event) => event.type === 'connection.update' && event.sessionId === sessionId)
      .map((event) => (event.type === 'connection.update' ? [event.data.state, event.data.reason] : []))
    expect(states[0]).toEqual(['RECONNECTING', 'gateway shutting down'])
    expect(states.map(([state]) => state)).toEqual(['RECONNECTING', 'CONNECTED'])
    expect(receiver.events.filter(connectionState(sessionId, 'QR_READY')).length).toBe(qrEventsBefore)
    expect((await sim.stats()).logins).toBeGreaterThan(loginsBefore)

    await sim.send({ from: contactPhone, to: sessionPhone, text: 'masih tersambung?' })
    await receiver.waitFor('message after restart', inboundText('masih tersambung?'))
  })

  it('a contact whose phone lost the session gets a message sent before the restart again, from Postgres', async () => {
    // The new process has no copy of the reply in memory: only the stored message can answer.
    const copies = async () =>
      (await sim.inbox(contactPhone)).filter((entry) => entry.id === replyWaMessageId)
    expect(await copies()).toHaveLength(1)
    expect((await sim.requestRetry({ from: contactPhone, id: replyWaMessageId })).requested).toBe(1)
    const again = await eventually('the reply encrypted afresh', async () => {
      const found = await copies()
      return found.length === 2 ? found : undefined
    })
    expect(again[1]).toMatchObject({ text: 'Besok jam 9 pagi.', fromDevice: linkedJid })
    expect((await sim.stats()).decryptFailures).toBe(0)
  })

  it('a restart with a new AUTH_STATE_KEY re-seals every secret online and still needs no QR', async () => {
    const qrEventsBefore = receiver.events.filter(connectionState(sessionId, 'QR_READY')).length
    const eventsBefore = receiver.events.length
    expect(await gateway.stop('SIGTERM')).toBe(0)
    const rotatedKey = generateSecretBoxKey()
    env = { ...env, AUTH_STATE_KEY: rotatedKey }
    gateway = await startGateway()
    await gateway.waitForLine(/key rotation finished/)
    await eventually('CONNECTED again with the rotated key', () =>
      receiver.events.slice(eventsBefore).find(connectionState(sessionId, 'CONNECTED')),
    )
    expect(receiver.events.filter(connectionState(sessionId, 'QR_READY')).length).toBe(qrEventsBefore)
    // Every sealed value now names the new key (bytes 2..9), and the old key left secrets.json.
    const newKeyId = secretBoxKeyId(parseSecretBoxKey(rotatedKey))
    const [sealed] = await database.handle.rows<{ total: number; other: number }>(sql`
      SELECT count(*)::int AS total,
             count(*) FILTER (WHERE encode(substring(value FROM 2 FOR 8), 'hex') <> ${newKeyId})::int AS other
      FROM (SELECT value FROM auth_keys UNION ALL SELECT value FROM auth_creds
            UNION ALL SELECT secret_sealed FROM webhooks) AS sealed_values`)
    expect(sealed!.total).toBeGreaterThan(0)
    expect(sealed!.other).toBe(0)
    const stored = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8'))
    expect(stored).toEqual({ adminApiKey: adminKey, authStateKey: rotatedKey })

    await sim.send({ from: contactPhone, to: sessionPhone, text: 'kunci baru' })
    await receiver.waitFor('message after the key rotation', inboundText('kunci baru'))
  })

  it('the phone unlinks the device: LOGGED_OUT and credentials wiped', async () => {
    const creds = async () =>
      (
        await database.handle.rows<{ count: number }>(sql`SELECT
        (SELECT count(*) FROM auth_creds WHERE session_id = ${sessionId}) + (SELECT count(*) FROM auth_keys WHERE session_id = ${sessionId}) AS count`)
      )[0]!.count
    expect(Number(await creds())).toBeGreaterThan(0)
    expect(linkedJid).toMatch(new RegExp(`^${sessionPhone}:\\d+@s\\.whatsapp\\.net$`))
    await sim.removeDevice(linkedJid)
    await receiver.waitFor('LOGGED_OUT webhook', connectionState(sessionId, 'LOGGED_OUT'))
    await eventually('credentials wiped', async () => Number(await creds()) === 0)
    const session = await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })
    expect(session.data?.state).toBe('LOGGED_OUT')

    // Every event arrived once, signed, in per-session order.
    const mine = receiver.events.filter((event) => event.sessionId === sessionId)
    expect(mine.every((event) => event.verified)).toBe(true)
    const seqs = mine.map((event) => event.seq).sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => index + 1))
    // ...and each is exactly what the OpenAPI document promises: parsing keeps every field.
    for (const event of receiver.events) {
      const { receivedAt: _receivedAt, verified: _verified, ...body } = event
      expect(WebhookEventSchema.parse(body), `${event.type} ${event.id}`).toEqual(body)
    }

    // The next connect shows a QR again.
    const path = { path: { sessionId } }
    const reconnect = await tenant.POST('/v1/sessions/{sessionId}/connect', { params: path })
    expect(reconnect.data?.state).toBe('QR_READY')
    await tenant.POST('/v1/sessions/{sessionId}/disconnect', { params: path })
  })
})
