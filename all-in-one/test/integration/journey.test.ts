import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSecretBoxKey } from '@wa-cluster/shared'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ApiClient, apiClient } from '../../../test-support/api-client.js'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { eventually, freePort, type ManagedProcess, startProcess } from '../../../test-support/processes.js'
import {
  connectionState,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../../test-support/webhook-receiver.js'

/**
 * The whole tenant journey through the HTTP API, with the real Baileys client inside a real gateway
 * process talking to wa-sim: link by QR, receive, send, receipts, restart without QR, unlink → LOGGED_OUT.
 */
describe('tenant journey (all-in-one gateway process, real Postgres + Redis, Baileys against wa-sim)', () => {
  const adminKey = `admin-${generateSecretBoxKey()}`
  const authStateKey = generateSecretBoxKey()
  const sessionPhone = '6285700000001'
  const contactPhone = '6281200000002'
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let database: TestDatabase
  let receiver: WebhookReceiver
  let gateway: ManagedProcess
  let baseUrl: string
  let admin: ApiClient
  let tenant: ApiClient
  let tenantKey: string
  let dataDir: string
  let sessionId: string
  let linkedJid: string
  let env: Record<string, string>

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
    admin = apiClient(baseUrl, adminKey)
  })

  afterAll(async () => {
    await gateway?.stop('SIGTERM')
    await receiver?.close()
    await sim?.stop()
    await database?.drop()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('creates a tenant with a webhook and a session', async () => {
    const created = await admin.post('/v1/tenants', { name: 'Klinik Sehat' })
    expect(created.status).toBe(201)
    expect(created.body.apiKey).toMatch(/^wak_/)
    tenantKey = created.body.apiKey
    tenant = apiClient(baseUrl, tenantKey)

    const webhook = await tenant.put('/v1/webhook', { url: receiver.url })
    expect(webhook.status).toBe(200)
    expect(webhook.body.secret).toMatch(/^whsec_/)
    receiver.setSecret(webhook.body.secret)

    const session = await tenant.post('/v1/sessions', { name: 'front desk' })
    expect(session.status).toBe(201)
    expect(session.body.state).toBe('DISCONNECTED')
    sessionId = session.body.id
  })

  it('connects: answers with the QR Baileys emitted, and the phone scan leads to CONNECTED', async () => {
    const connect = await tenant.post(`/v1/sessions/${sessionId}/connect`)
    expect(connect.status).toBe(200)
    expect(connect.body.state).toBe('QR_READY')
    expect(connect.body.qr).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#2@/)
    expect(connect.body.qrImage).toMatch(/^data:image\/png;base64,/)

    const qrJson = await tenant.get(`/v1/sessions/${sessionId}/qr`)
    expect(qrJson.body.qr).toBe(connect.body.qr)
    const png = await fetch(`${baseUrl}/v1/sessions/${sessionId}/qr`, {
      headers: { authorization: `Bearer ${tenantKey}`, accept: 'image/png' },
    })
    expect(png.status).toBe(200)
    expect(png.headers.get('content-type')).toBe('image/png')
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG')

    await receiver.waitFor('QR_READY webhook', connectionState(sessionId, 'QR_READY'))
    linkedJid = (await sim.scan({ qr: connect.body.qr, phone: sessionPhone, pushName: 'Klinik Sehat' })).jid
    const connected = await receiver.waitFor('CONNECTED webhook', connectionState(sessionId, 'CONNECTED'))
    expect((connected.data as any).phone).toBe(sessionPhone)
    expect(connected.verified).toBe(true)

    const session = await tenant.get(`/v1/sessions/${sessionId}`)
    expect(session.body).toMatchObject({ state: 'CONNECTED', phone: sessionPhone, nodeId: 'journey-node' })
    const again = await tenant.post(`/v1/sessions/${sessionId}/connect`)
    expect(again.body).toEqual({ state: 'CONNECTED' })
  })

  it('delivers an inbound message to the webhook', async () => {
    await sim.addContact({ pn: contactPhone, name: 'Budi' })
    await sim.send({ from: contactPhone, to: sessionPhone, text: 'halo, jadwal dokter besok?' })
    const upsert = await receiver.waitFor(
      'inbound message webhook',
      (event) =>
        event.type === 'messages.upsert' &&
        (event.data as any).messages.some((m: any) => m.text === 'halo, jadwal dokter besok?'),
    )
    const message = (upsert.data as any).messages.find((m: any) => m.text === 'halo, jadwal dokter besok?')
    expect(message).toMatchObject({
      fromMe: false,
      from: `${contactPhone}@s.whatsapp.net`,
      pushName: 'Budi',
      type: 'text',
    })
  })

  it('sends idempotently to a local-format number; delivered and read arrive as webhooks', async () => {
    const localNumber = `0${contactPhone.slice(2)}`
    const first = await tenant.post(
      `/v1/sessions/${sessionId}/messages`,
      { to: localNumber, text: 'Besok jam 9 pagi.' },
      { 'idempotency-key': 'reply-1' },
    )
    expect(first.status).toBe(202)
    const second = await tenant.post(
      `/v1/sessions/${sessionId}/messages`,
      { to: localNumber, text: 'Besok jam 9 pagi.' },
      { 'idempotency-key': 'reply-1' },
    )
    expect(second.body.id).toBe(first.body.id)

    const sent = await eventually('message sent', async () => {
      const message = await tenant.get(`/v1/sessions/${sessionId}/messages/${first.body.id}`)
      return message.body.status === 'sent' || message.body.status === 'delivered' ? message.body : undefined
    })
    expect(sent.to).toBe(`${contactPhone}@s.whatsapp.net`)
    const inbox = await eventually('contact decrypted the text', async () => {
      const texts = await sim.inbox(contactPhone)
      return texts.filter((entry: any) => entry.text === 'Besok jam 9 pagi.').length > 0 ? texts : undefined
    })
    expect(inbox.filter((entry: any) => entry.text === 'Besok jam 9 pagi.')).toHaveLength(1)

    expect(
      (await sim.receipt({ from: contactPhone, to: sessionPhone, id: sent.waMessageId })).delivered,
    ).toBe(1)
    await receiver.waitFor(
      'delivered webhook',
      (event) =>
        event.type === 'messages.update' &&
        (event.data as any).updates.some((u: any) => u.id === first.body.id && u.status === 'delivered'),
    )
    expect(
      (await sim.receipt({ from: contactPhone, to: sessionPhone, id: sent.waMessageId, type: 'read' }))
        .delivered,
    ).toBe(1)
    await receiver.waitFor(
      'read webhook',
      (event) =>
        event.type === 'messages.update' &&
        (event.data as any).updates.some((u: any) => u.id === first.body.id && u.status === 'read'),
    )
    const final = await tenant.get(`/v1/sessions/${sessionId}/messages/${first.body.id}`)
    expect(final.body.status).toBe('read')
    expect(final.body.statusHistory.map((entry: any) => entry.status)).toEqual([
      'queued',
      'sending',
      'sent',
      'delivered',
      'read',
    ])
  })

  it('links a second number with a pairing code instead of a QR', async () => {
    const second = await tenant.post('/v1/sessions', { name: 'pairing code' })
    const connect = await tenant.post(`/v1/sessions/${second.body.id}/connect`, {
      pairingPhone: '0857-0000-0003',
    })
    expect(connect.status).toBe(200)
    expect(connect.body.state).toBe('PAIRING')
    expect(connect.body.pairingCode).toMatch(/^[A-Z0-9]{8}$/)
    expect(connect.body.qr).toBeUndefined()
    const linked = await sim.enterPairingCode({ phone: '6285700000003', code: connect.body.pairingCode })
    expect(linked.jid).toMatch(/^6285700000003:\d+@s\.whatsapp\.net$/)
    const connected = await receiver.waitFor(
      'CONNECTED by pairing code',
      connectionState(second.body.id, 'CONNECTED'),
    )
    expect((connected.data as any).phone).toBe('6285700000003')
    await tenant.post(`/v1/sessions/${second.body.id}/disconnect`)
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
      await receiver.waitFor(
        `"${text}" after the outage`,
        (event) =>
          event.type === 'messages.upsert' && (event.data as any).messages.some((m: any) => m.text === text),
      )
    }
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
    expect(receiver.events.filter(connectionState(sessionId, 'QR_READY')).length).toBe(qrEventsBefore)
    expect((await sim.stats()).logins).toBeGreaterThan(loginsBefore)

    await sim.send({ from: contactPhone, to: sessionPhone, text: 'masih tersambung?' })
    await receiver.waitFor(
      'message after restart',
      (event) =>
        event.type === 'messages.upsert' &&
        (event.data as any).messages.some((m: any) => m.text === 'masih tersambung?'),
    )
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
    const session = await tenant.get(`/v1/sessions/${sessionId}`)
    expect(session.body.state).toBe('LOGGED_OUT')

    // Every event arrived once, signed, in per-session order.
    const mine = receiver.events.filter((event) => event.sessionId === sessionId)
    expect(mine.every((event) => event.verified)).toBe(true)
    const seqs = mine.map((event) => event.seq).sort((a, b) => a - b)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, index) => index + 1))

    // The next connect shows a QR again.
    const reconnect = await tenant.post(`/v1/sessions/${sessionId}/connect`)
    expect(reconnect.body.state).toBe('QR_READY')
    await tenant.post(`/v1/sessions/${sessionId}/disconnect`)
  })
})
