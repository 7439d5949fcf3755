import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { generateSecretBoxKey, type InboundMessage } from '@wa-cluster/shared'
import { startSimulator } from '@wa-cluster/wa-sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { linkSessionThroughApi, startCluster } from '../../../test-support/cluster.js'
import { createTestDatabase } from '../../../test-support/postgres.js'
import { eventually, freePort, startProcess } from '../../../test-support/processes.js'
import { TEST_ALLOW_PRIVATE_NETWORKS } from '../../../test-support/seed.js'
import {
  type ReceivedEvent,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../../test-support/webhook-receiver.js'

type Sim = Awaited<ReturnType<typeof startSimulator>>
/** A running gateway: its API's address and admin key, and how to stop it. */
type Gateway = { baseUrl: string; adminKey: string; stop(): Promise<void> }

/** One process: API and session-node together, with the in-process coordinator (no Redis). */
async function startAllInOne(sim: Sim, prefix: string): Promise<Gateway> {
  const database = await createTestDatabase(prefix)
  const dataDir = mkdtempSync(join(tmpdir(), `wa-${prefix}-`))
  const port = await freePort()
  const adminKey = `admin-${generateSecretBoxKey()}`
  const gateway = startProcess(prefix, 'all-in-one/src/main.ts', {
    PORT: String(port),
    HOST: '127.0.0.1',
    ALLOW_PRIVATE_NETWORKS: TEST_ALLOW_PRIVATE_NETWORKS,
    DATA_DIR: dataDir,
    DATABASE_URL: database.url,
    ADMIN_API_KEY: adminKey,
    AUTH_STATE_KEY: generateSecretBoxKey(),
    WA_WS_URL: sim.url,
    WA_TRUSTED_ROOT_KEY: sim.rootPublicKey,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    NODE_ID: `${prefix}-node`,
    BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn',
  })
  await gateway.waitForLine(/wa-cluster listening/)
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    adminKey,
    async stop() {
      await gateway.stop('SIGTERM')
      await database.drop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** A control-plane and a session-node as separate processes, over Redis. */
async function startSplit(sim: Sim): Promise<Gateway> {
  const cluster = await startCluster({
    controlPlanes: 1,
    sessionNodes: 1,
    simUrl: sim.url,
    simRootKey: sim.rootPublicKey,
    env: { BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn' },
  })
  return { baseUrl: cluster.controlPlanes[0]!.url, adminKey: cluster.adminKey, stop: () => cluster.stop() }
}

/**
 * Chat reads, presence, number checks and groups on a session's live connection, through the API
 * with the real Baileys client against wa-sim: the API asks the owning node and waits for its answer.
 */
describe.each([
  {
    mode: 'one process (in-process coordinator)',
    start: (sim: Sim) => startAllInOne(sim, 'live-aio'),
    digit: '1',
  },
  { mode: 'control-plane and session-node as processes (Redis)', start: startSplit, digit: '2' },
])('live session operations: $mode', ({ start, digit }) => {
  const contact = `628132000${digit}001`
  const nobody = `628129999${digit}001`
  const firstPhone = `628572000${digit}001`
  const secondPhone = `628572000${digit}002`
  let sim: Sim
  let gateway: Gateway
  let hooks: WebhookReceiver
  let tenant: WaClusterClient
  let tenantKey: string
  let first: { id: string; jid: string }
  let second: { id: string; jid: string }
  let groupJid: string

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${gateway.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tenantKey}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: response.status, body: (await response.json()) as any }
  }
  const messagesOf = (event: ReceivedEvent): InboundMessage[] =>
    event.type === 'messages.upsert' ? (event.data as { messages: InboundMessage[] }).messages : []
  const upsertOf =
    (sessionId: string, match: (message: InboundMessage) => boolean) => (event: ReceivedEvent) =>
      event.sessionId === sessionId && messagesOf(event).some(match)

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    await sim.addContact({ pn: contact, name: 'Dina' })
    hooks = await startWebhookReceiver()
    gateway = await start(sim)
    const admin = createClient({ baseUrl: gateway.baseUrl, apiKey: gateway.adminKey })
    tenantKey = (await admin.POST('/v1/tenants', { body: { name: `Live ${digit}` } })).data!.apiKey
    tenant = createClient({ baseUrl: gateway.baseUrl, apiKey: tenantKey })
    hooks.setSecret((await tenant.PUT('/v1/webhook', { body: { url: hooks.url } })).data!.secret)
    first = await linkSessionThroughApi(tenant, sim, firstPhone)
    second = await linkSessionThroughApi(tenant, sim, secondPhone)
  })

  afterAll(async () => {
    await gateway?.stop()
    await hooks?.close()
    await sim?.stop()
  })

  it('checks which numbers are on WhatsApp', async () => {
    const checked = await tenant.POST('/v1/sessions/{sessionId}/contacts/check', {
      params: { path: { sessionId: first.id } },
      body: { phones: [`+${contact}`, nobody] },
    })
    expect(checked.response.status).toBe(200)
    expect(checked.data).toEqual([
      { phone: `+${contact}`, jid: `${contact}@s.whatsapp.net`, exists: true },
      { phone: `+${nobody}`, jid: `${nobody}@s.whatsapp.net`, exists: false },
    ])
  })

  it("marks a chat read: the contact's phone gets the read receipt", async () => {
    const { id } = await sim.send({ from: contact, to: firstPhone, text: `read me ${digit}` })
    await hooks.waitFor(
      'the contact’s text',
      upsertOf(first.id, (message) => message.waMessageId === id),
    )
    const read = await call(
      'POST',
      `/v1/sessions/${first.id}/chats/${encodeURIComponent(`+${contact}`)}/read`,
    )
    expect(read).toEqual({ status: 200, body: { chatId: `${contact}@s.whatsapp.net`, read: 1 } })
    const receipts = await eventually('the read receipt', async () =>
      (await sim.receipts(id)).find((receipt) => receipt.type === 'read'),
    )
    expect(receipts).toMatchObject({ from: firstPhone, to: `${contact}@s.whatsapp.net` })
    // Nothing is unread any more.
    const again = await call('POST', `/v1/sessions/${first.id}/chats/${contact}@s.whatsapp.net/read`)
    expect(again.body).toEqual({ chatId: `${contact}@s.whatsapp.net`, read: 0 })
  })

  it('sends typing and paused to a chat', async () => {
    for (const state of ['typing', 'paused'] as const) {
      const sent = await tenant.POST('/v1/sessions/{sessionId}/presence', {
        params: { path: { sessionId: first.id } },
        body: { chatId: contact, state },
      })
      expect(sent.response.status).toBe(200)
      expect(sent.data).toEqual({ chatId: `${contact}@s.whatsapp.net`, state })
    }
    const seen = await eventually('both chat states', async () => {
      const states = await sim.presences(contact)
      return states.length >= 2 ? states : undefined
    })
    expect(seen.map((entry) => [entry.from, entry.state])).toEqual([
      [firstPhone, 'typing'],
      [firstPhone, 'paused'],
    ])
  })

  it('lists a group with its participant count', async () => {
    groupJid = (
      await sim.createGroup({ subject: `Klinik ${digit}`, participants: [contact, firstPhone, secondPhone] })
    ).jid
    const groups = await tenant.GET('/v1/sessions/{sessionId}/groups', {
      params: { path: { sessionId: second.id } },
    })
    expect(groups.response.status).toBe(200)
    expect(groups.data).toEqual([{ id: groupJid, subject: `Klinik ${digit}`, participants: 3 }])
  })

  it("a session's group message reaches the other session and the contact's phone", async () => {
    const text = `rapat jam 9 (${digit})`
    const sent = await tenant.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId: first.id } },
      body: { to: groupJid, text },
    })
    expect(sent.response.status).toBe(202)
    const event = await hooks.waitFor(
      'the group text at the second session',
      upsertOf(second.id, (m) => m.text === text),
    )
    expect(messagesOf(event).find((m) => m.text === text)).toMatchObject({
      chatId: groupJid,
      from: `${firstPhone}@s.whatsapp.net`,
      fromMe: false,
    })
    const inbox = await eventually('the contact’s phone decrypts it', async () =>
      (await sim.inbox(contact)).find((message) => message.text === text),
    )
    expect(inbox).toMatchObject({ from: firstPhone, group: groupJid })
  })

  it("a contact's group message reaches both sessions; a group read and a reply name the sender", async () => {
    const text = `siap (${digit})`
    const { id } = await sim.sendToGroup({ from: contact, group: groupJid, text })
    for (const session of [first, second]) {
      const event = await hooks.waitFor(
        `the contact’s group text at ${session.id}`,
        upsertOf(session.id, (m) => m.text === text),
      )
      expect(messagesOf(event).find((m) => m.text === text)).toMatchObject({
        chatId: groupJid,
        from: `${contact}@s.whatsapp.net`,
      })
    }
    // The second session has two unread group messages: the first session's and the contact's.
    const read = await call('POST', `/v1/sessions/${second.id}/chats/${encodeURIComponent(groupJid)}/read`)
    expect(read).toEqual({ status: 200, body: { chatId: groupJid, read: 2 } })
    const receipt = await eventually('the read receipt for the contact’s group text', async () =>
      (await sim.receipts(id)).find((entry) => entry.type === 'read'),
    )
    expect(receipt).toMatchObject({ from: secondPhone, to: groupJid })

    // A reply in the group names the member it quotes, as every member's phone shows it.
    const history = await tenant.GET('/v1/sessions/{sessionId}/chats/{chatId}/messages', {
      params: { path: { sessionId: second.id, chatId: groupJid } },
    })
    const quoted = history.data!.data.find((message) => message.text === text)!
    const reply = `oke (${digit})`
    const sent = await tenant.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId: second.id } },
      body: { to: groupJid, text: reply, replyTo: quoted.id },
    })
    expect(sent.response.status).toBe(202)
    const seen = await eventually('the reply at the contact’s phone', async () =>
      (await sim.inbox(contact)).find((message) => message.text === reply),
    )
    expect(seen).toMatchObject({ group: groupJid, quoted: { id, participant: `${contact}@s.whatsapp.net` } })
    // The first session gets the reply too: it names the quoted message by the first session's own id
    // for it (it stored the contact's text), and by its WhatsApp id.
    const atFirst = await hooks.waitFor(
      'the reply at the first session',
      upsertOf(first.id, (m) => m.text === reply),
    )
    const firstHistory = await tenant.GET('/v1/sessions/{sessionId}/chats/{chatId}/messages', {
      params: { path: { sessionId: first.id, chatId: groupJid } },
    })
    const quotedAtFirst = firstHistory.data!.data.find((message) => message.text === text)!
    expect(quotedAtFirst.id).not.toBe(quoted.id)
    expect(messagesOf(atFirst).find((m) => m.text === reply)).toMatchObject({
      replyTo: quotedAtFirst.id,
      replyToWaMessageId: id,
    })
    // The row, written with the event, keeps both.
    const stored = firstHistory.data!.data.find((message) => message.text === reply)
    expect(stored).toMatchObject({ replyTo: quotedAtFirst.id, replyToWaMessageId: id })
  })

  it('refuses bad input naming the field, and a session that is not connected', async () => {
    const badChat = await call('POST', `/v1/sessions/${first.id}/chats/not-a-chat/read`)
    expect(badChat.status).toBe(400)
    expect(badChat.body.error.details.field).toBe('path.chatId')
    const badState = await call('POST', `/v1/sessions/${first.id}/presence`, {
      chatId: contact,
      state: 'dancing',
    })
    expect(badState.status).toBe(400)
    expect(badState.body.error.details.field).toBe('body.state')
    const tooMany = await call('POST', `/v1/sessions/${first.id}/contacts/check`, {
      phones: Array.from({ length: 51 }, (_, index) => `62812000${String(index).padStart(5, '0')}`),
    })
    expect(tooMany.status).toBe(400)
    expect(tooMany.body.error.details.field).toBe('body.phones')
    const badPhone = await call('POST', `/v1/sessions/${first.id}/contacts/check`, {
      phones: [contact, 'call me'],
    })
    expect(badPhone.status).toBe(400)
    expect(badPhone.body.error.details.field).toBe('body.phones.1')
    const idle = (await tenant.POST('/v1/sessions', { body: { name: 'idle' } })).data!
    for (const [method, path, body] of [
      ['POST', `/v1/sessions/${idle.id}/contacts/check`, { phones: [contact] }],
      ['POST', `/v1/sessions/${idle.id}/presence`, { chatId: contact, state: 'typing' }],
      ['POST', `/v1/sessions/${idle.id}/chats/${contact}/read`, undefined],
      ['GET', `/v1/sessions/${idle.id}/groups`, undefined],
    ] as const) {
      const refused = await call(method, path, body)
      expect(refused.status, `${method} ${path}`).toBe(409)
      expect(refused.body.error.code).toBe('session_not_connected')
    }
  })
})
