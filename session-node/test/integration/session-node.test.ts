import { createMemoryCoordinator, placeSession } from '@wa-cluster/core'
import {
  createSecretBox,
  generateSecretBoxKey,
  newId,
  parseConfig,
  parseSecretBoxKey,
} from '@wa-cluster/shared'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { eventually } from '../../../test-support/processes.js'
import { createSessionNode, type SessionNode } from '../../src/node.js'
import { prepareSessionProcess } from '../../src/process.js'
import { liveSocketStorages } from '../../src/providers/baileys/async-context.js'

/**
 * Two session-nodes in one process on one database and an in-process coordinator, Baileys against
 * wa-sim: a session pairs on one node and is handed over to the other without a QR or a conflict.
 */
// A story: each step builds on the state the steps before it left, so they run in order, and a
// step cannot be run alone.
describe.sequential('session-node ownership and hand-over', () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let database: TestDatabase
  const coordinator = createMemoryCoordinator()
  const nodes: SessionNode[] = []
  const tenantId = newId('ten')
  const sessionId = newId('ses')
  const phone = '6285800000077'
  let jid: string

  const row = async () =>
    (
      await database.handle.rows<{
        state: string
        node_id: string | null
        epoch: number
        qr: string | null
        qr_image: string | null
      }>(sql`SELECT state, node_id, epoch, qr, qr_image FROM sessions WHERE id = ${sessionId}`)
    )[0]!

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    database = await createTestDatabase('session_node')
    const config = parseConfig(
      {
        WA_WS_URL: sim.url,
        WA_TRUSTED_ROOT_KEY: sim.rootPublicKey,
        LEASE_TTL_MS: '2000',
        HEARTBEAT_INTERVAL_MS: '200',
        RECONCILE_INTERVAL_MS: '500',
        LOG_LEVEL: 'silent',
      },
      'all-in-one',
    )
    prepareSessionProcess(config, pino({ level: 'silent' }))
    const secretBox = createSecretBox(parseSecretBoxKey(generateSecretBoxKey()))
    for (const nodeId of ['alpha', 'beta']) {
      const node = createSessionNode({
        config,
        nodeId,
        database: database.handle,
        secretBox,
        coordinator,
        logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      })
      await node.start()
      nodes.push(node)
    }
    await database.handle.rows(sql`INSERT INTO tenants (id, name) VALUES (${tenantId}, 'test')`)
    await database.handle.rows(
      sql`INSERT INTO sessions (id, tenant_id, name, desired_state, node_id) VALUES (${sessionId}, ${tenantId}, 'hand-over', 'connected', 'alpha')`,
    )
  })

  afterAll(async () => {
    for (const node of nodes) await node.stop()
    await coordinator.close()
    await sim?.stop()
    await database?.drop()
  })

  it('pairs on the assigned node', async () => {
    await nodes[0]!.reconcile()
    const waiting = await eventually('QR', async () => {
      const current = await row()
      return current.state === 'QR_READY' && current.qr ? current : undefined
    })
    // Rendered once by the owner, stored beside the QR for the API.
    expect(waiting.qr_image).toMatch(/^data:image\/png;base64,/)
    jid = (await sim.scan({ qr: waiting.qr!, phone })).jid
    await eventually('CONNECTED on alpha', async () => (await row()).state === 'CONNECTED')
    expect((await row()).qr_image).toBeNull()
    expect(nodes[0]!.sessionIds()).toEqual([sessionId])
    expect(nodes[1]!.sessionIds()).toEqual([])
  })

  const contact = '6281400000001'
  const inboundEvent = (text: string) =>
    eventually(`inbound event "${text}"`, async () => {
      const events = await database.handle.rows<{ data: { messages?: { text?: string }[] } }>(
        sql`SELECT data FROM events WHERE session_id = ${sessionId} AND type = 'messages.upsert'`,
      )
      return events.some((event) => event.data.messages?.some((message) => message.text === text))
    })

  it('exchanges messages before any move', async () => {
    await sim.addContact({ pn: contact, name: 'C' })
    await sim.send({ from: contact, to: phone, text: 'before hand-over' })
    await inboundEvent('before hand-over')
    await database.handle.rows(sql`INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, wa_message_id, text, status)
      VALUES (${newId('msg')}, ${tenantId}, ${sessionId}, 'out', ${`${contact}@s.whatsapp.net`}, ${`3EB0${Date.now()}`}, 'reply before', 'queued')`)
    await coordinator.publish(`chan:node:alpha`, JSON.stringify({ kind: 'send', sessionId }))
    await eventually('contact got the reply', async () =>
      (await sim.inbox(contact)).some((entry) => entry.text === 'reply before'),
    )
  })

  const outbound = async (id: string) =>
    (
      await database.handle.rows<{ status: string; wa_message_id: string | null; attempts: number }>(
        sql`SELECT status, wa_message_id, attempts FROM messages WHERE id = ${id}`,
      )
    )[0]!
  const interruptedId = newId('msg')
  const interruptedWaId = `3EB0${Date.now()}1`

  it('gives a queued message its WhatsApp id when it claims it, and sends it with that id', async () => {
    // As the API stores it: no WhatsApp id yet.
    const queuedId = newId('msg')
    await database.handle.rows(sql`INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, text, status)
      VALUES (${queuedId}, ${tenantId}, ${sessionId}, 'out', ${`${contact}@s.whatsapp.net`}, 'minted id', 'queued')`)
    // As a crashed owner leaves one: claimed (its id stored) but never recorded as sent.
    await database.handle.rows(sql`INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, wa_message_id, text, status, attempts)
      VALUES (${interruptedId}, ${tenantId}, ${sessionId}, 'out', ${`${contact}@s.whatsapp.net`}, ${interruptedWaId}, 'interrupted send', 'sending', 1)`)
    await coordinator.publish(`chan:node:alpha`, JSON.stringify({ kind: 'send', sessionId }))
    const received = await eventually('contact got the message', async () =>
      (await sim.inbox(contact)).find((entry) => entry.text === 'minted id'),
    )
    const row = await eventually('recorded as sent', async () => {
      const current = await outbound(queuedId)
      return current.status === 'sent' || current.status === 'delivered' ? current : undefined
    })
    expect(row.wa_message_id).toMatch(/^3EB0[0-9A-F]{18}$/)
    expect(received.id).toBe(row.wa_message_id)
    // The running owner only takes queued rows: the interrupted one waits for the next owner.
    expect(await outbound(interruptedId)).toMatchObject({ status: 'sending', wa_message_id: interruptedWaId })
  })

  it('hands the session over to another node: the old socket closes before the new one logs in', async () => {
    const before = await row()
    const stats = { ...(await sim.stats()).perDevice![jid]! }
    expect(
      await placeSession({ database: database.handle, coordinator, sessionId, targetNodeId: 'beta' }),
    ).toBe('beta')
    await eventually(
      'CONNECTED on beta',
      async () =>
        nodes[1]!.sessionIds().includes(sessionId) &&
        (await row()).state === 'CONNECTED' &&
        (await row()).epoch > before.epoch,
      20_000,
    )
    expect(nodes[0]!.sessionIds()).toEqual([])
    const after = (await sim.stats()).perDevice![jid]!
    expect(after.logins).toBe(stats.logins + 1)
    expect(after.replaced).toBe(stats.replaced)
    expect(after.maxConcurrent).toBe(1)
  })

  it('the next owner resends a send left in sending with the WhatsApp id it was first given', async () => {
    const received = await eventually('contact got the interrupted send', async () =>
      (await sim.inbox(contact)).find((entry) => entry.text === 'interrupted send'),
    )
    expect(received.id).toBe(interruptedWaId)
    const row = await eventually('recorded as sent', async () => {
      const current = await outbound(interruptedId)
      return current.status === 'sent' || current.status === 'delivered' ? current : undefined
    })
    expect(row.wa_message_id).toBe(interruptedWaId)
    expect(Number(row.attempts)).toBe(2)
  })

  it('still receives messages after the hand-over', async () => {
    await sim.send({ from: contact, to: phone, text: 'after hand-over' })
    await inboundEvent('after hand-over')
  })

  const states = async () =>
    (
      await database.handle.rows<{ data: { state: string; reason?: string; statusCode?: number } }>(
        sql`SELECT data FROM events WHERE session_id = ${sessionId} AND type = 'connection.update' ORDER BY seq`,
      )
    ).map((event) => event.data)

  it('reconnects by itself after a server-side close (428) and after refused logins (503)', async () => {
    const before = (await states()).length
    await sim.setFaults({ refuseLogins: { code: 503, forMs: 1500 } })
    expect((await sim.kick({ jid, mode: 'close' })).kicked).toBe(1)
    await eventually(
      'CONNECTED again',
      async () => (await states()).slice(before).some((update) => update.state === 'CONNECTED'),
      30_000,
    )
    const after = (await states()).slice(before)
    expect(after[0]).toMatchObject({ state: 'RECONNECTING', statusCode: 428 })
    expect(after.some((update) => update.state === 'RECONNECTING' && update.statusCode === 503)).toBe(true)
    expect((await sim.stats()).perDevice![jid]!.maxConcurrent).toBe(1)
  })

  it('steps down on 440 (replaced) and never reconnects by itself', async () => {
    const before = (await states()).length
    const logins = (await sim.stats()).perDevice![jid]!.logins
    expect((await sim.kick({ jid, mode: 'replaced' })).kicked).toBe(1)
    await eventually('DISCONNECTED', async () => (await row()).state === 'DISCONNECTED')
    expect((await states()).slice(before)).toEqual([
      expect.objectContaining({
        state: 'DISCONNECTED',
        statusCode: 440,
        reason: expect.stringMatching(/replaced/),
      }),
    ])
    const current = await database.handle.rows<{ desired_state: string; node_id: string | null }>(
      sql`SELECT desired_state, node_id FROM sessions WHERE id = ${sessionId}`,
    )
    expect(current[0]).toEqual({ desired_state: 'disconnected', node_id: null })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    for (const node of nodes) await node.reconcile()
    expect((await sim.stats()).perDevice![jid]!.logins).toBe(logins)
    expect(nodes.flatMap((node) => node.sessionIds())).toEqual([])
  })

  it('a later connect logs in from the stored credentials, and 401 from the phone logs out and wipes them', async () => {
    await database.handle.rows(
      sql`UPDATE sessions SET desired_state = 'connected', node_id = 'alpha' WHERE id = ${sessionId}`,
    )
    await nodes[0]!.reconcile()
    await eventually('CONNECTED without a QR', async () => (await row()).state === 'CONNECTED')
    expect((await row()).qr).toBeNull()
    await sim.removeDevice(jid)
    await eventually('LOGGED_OUT', async () => (await row()).state === 'LOGGED_OUT')
    const left = await database.handle.rows<{ count: number }>(
      sql`SELECT (SELECT count(*) FROM auth_creds WHERE session_id = ${sessionId}) + (SELECT count(*) FROM auth_keys WHERE session_id = ${sessionId}) AS count`,
    )
    expect(Number(left[0]!.count)).toBe(0)
  })

  it('releases the async context of every socket it opened once the sockets are closed', async () => {
    // Pairing, 515, the hand-over, 428, 503, 440, a fresh login and 401 made a dozen sockets; none is open.
    expect(nodes.every((node) => node.sessionIds().length === 0)).toBe(true)
    await eventually('no socket storage left', async () => liveSocketStorages() === 0, 20_000)
  })
})
