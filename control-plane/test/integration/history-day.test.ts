import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { startSimulator } from '@wa-cluster/wa-sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, linkSessionThroughApi, startCluster } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/wait.js'

/**
 * A day of one session's traffic through wa-sim and the real processes: contacts write in (one
 * addressed by LID), the tenant sends, receipts come back, a send fails, and the session-node restarts
 * in the middle. The history, the chats and the contacts read back through the API tell that day.
 */
describe.sequential('a day of traffic in the history (real processes, wa-sim)', () => {
  const phone = '6285700000301'
  const budi = '6281300000301'
  const sari = '6281300000302'
  const nobody = '6289900000399'
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let tenant: WaClusterClient
  let other: WaClusterClient
  let sessionId: string
  let budiLid: string
  let sariLid: string

  type Message = {
    id: string
    text: string | null
    direction: string
    status: string
    waMessageId: string | null
  }

  async function history(query: Record<string, string | number> = {}): Promise<Message[]> {
    const response = await tenant.GET('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId }, query: query as never },
    })
    return (response.data?.data ?? []) as Message[]
  }

  async function send(to: string, text: string): Promise<string> {
    const response = await tenant.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId } },
      body: { to, text },
    })
    return response.data!.id
  }

  async function statusOf(messageId: string, status: string): Promise<Message> {
    return eventually(`${messageId} ${status}`, async () => {
      const response = await tenant.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
        params: { path: { sessionId, messageId } },
      })
      return response.data?.status === status ? (response.data as Message) : undefined
    })
  }

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    budiLid = (await sim.addContact({ pn: budi, name: 'Budi' })).lid
    sariLid = (await sim.addContact({ pn: sari, name: 'Sari' })).lid
    cluster = await startCluster({
      controlPlanes: 1,
      sessionNodes: 1,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      // Default lease and heartbeat timings: the restart below is a graceful one, nothing waits for a TTL.
      env: { BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn', RECONCILE_INTERVAL_MS: '1000' },
    })
    const baseUrl = cluster.controlPlanes[0]!.url
    const admin = createClient({ baseUrl, apiKey: cluster.adminKey })
    tenant = createClient({
      baseUrl,
      apiKey: (await admin.POST('/v1/tenants', { body: { name: 'Day' } })).data!.apiKey,
    })
    other = createClient({
      baseUrl,
      apiKey: (await admin.POST('/v1/tenants', { body: { name: 'Other' } })).data!.apiKey,
    })
    sessionId = (await linkSessionThroughApi(tenant, sim, phone)).id
  })

  afterAll(async () => {
    await cluster?.stop()
    await sim?.stop()
  })

  it('stores inbound and outbound messages, their statuses, chats, contacts and statistics across a restart', async () => {
    // Morning: Budi writes (addressed by LID, as WhatsApp does more and more), the tenant answers, he reads it.
    const morning = await sim.send({ from: budi, to: phone, text: 'pagi, tagihan saya?', addressing: 'lid' })
    await eventually('Budi’s message stored', async () => (await history({ direction: 'in' })).length === 1)
    const invoice = await send(`0${budi.slice(2)}`, 'Tagihan Anda Rp150.000')
    const sentInvoice = await statusOf(invoice, 'sent')
    await sim.receipt({ from: budi, to: phone, id: sentInvoice.waMessageId!, type: 'delivery' })
    await statusOf(invoice, 'delivered')
    await sim.receipt({ from: budi, to: phone, id: sentInvoice.waMessageId!, type: 'read' })
    await statusOf(invoice, 'read')
    // A reminder to Sari, and a number that has no WhatsApp.
    const reminder = await send(`+62 ${sari.slice(2, 5)}-${sari.slice(5)}`, 'Jangan lupa kontrol besok')
    await statusOf(reminder, 'sent')
    const failed = await send(nobody, 'tidak sampai')
    await statusOf(failed, 'failed')

    // Midday: the session-node restarts.
    await cluster.node('node-1').stop('SIGTERM')
    await cluster.startNode('node-1')
    await eventually(
      'CONNECTED after the restart',
      async () =>
        (await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })).data?.state ===
        'CONNECTED',
      60_000,
    )

    // Afternoon: Sari answers, twice; the first one is delivered again (as after a lost receipt).
    await sim.send({ from: sari, to: phone, text: 'baik, terima kasih', id: 'SARI-AFTERNOON-1' })
    await sim.send({ from: sari, to: phone, text: 'baik, terima kasih', id: 'SARI-AFTERNOON-1' })
    await sim.send({ from: sari, to: phone, text: 'sampai besok' })
    await eventually('Sari’s messages stored', async () => (await history({ direction: 'in' })).length === 3)

    const day = await history()
    expect(day.map((message) => [message.direction, message.text, message.status])).toEqual([
      ['in', 'sampai besok', 'received'],
      ['in', 'baik, terima kasih', 'received'],
      ['out', 'tidak sampai', 'failed'],
      ['out', 'Jangan lupa kontrol besok', 'sent'],
      ['out', 'Tagihan Anda Rp150.000', 'read'],
      ['in', 'pagi, tagihan saya?', 'received'],
    ])
    expect(day.at(-1)?.waMessageId).toBe(morning.id)
    expect((await history({ status: 'failed' })).map((message) => message.id)).toEqual([failed])
    // Budi's chat, whatever way the number is written: what he sent by LID is in it.
    for (const chatId of [budi, `+${budi}`, `0${budi.slice(2)}`, `${budi}@s.whatsapp.net`, budiLid]) {
      expect(
        (await history({ chatId })).map((message) => message.text),
        chatId,
      ).toEqual(['Tagihan Anda Rp150.000', 'pagi, tagihan saya?'])
    }
    const chatMessages = await tenant.GET('/v1/sessions/{sessionId}/chats/{chatId}/messages', {
      params: { path: { sessionId, chatId: `${sari}@s.whatsapp.net` }, query: { direction: 'in' } },
    })
    expect(chatMessages.data?.data.map((message) => message.text)).toEqual([
      'sampai besok',
      'baik, terima kasih',
    ])

    const chats = (await tenant.GET('/v1/sessions/{sessionId}/chats', { params: { path: { sessionId } } }))
      .data!.data
    const chatOf = (jid: string) => chats.find((chat) => chat.chatId === jid)
    expect(chats[0]?.chatId).toBe(`${sari}@s.whatsapp.net`)
    expect(chatOf(`${sari}@s.whatsapp.net`)).toMatchObject({
      phone: sari,
      name: 'Sari',
      unreadCount: 2,
      lastMessage: { direction: 'in', text: 'sampai besok', status: 'received' },
    })
    expect(chatOf(`${budi}@s.whatsapp.net`)).toMatchObject({
      phone: budi,
      name: 'Budi',
      unreadCount: 0,
      lastMessage: { direction: 'out', text: 'Tagihan Anda Rp150.000', status: 'read' },
    })

    // The senders' push names and LID↔phone mappings, learnt from their messages.
    const contacts = await eventually('contacts from the traffic', async () => {
      const response = await tenant.GET('/v1/sessions/{sessionId}/contacts', {
        params: { path: { sessionId } },
      })
      const data = response.data?.data ?? []
      return data.some((contact) => contact.phone === sari) && data.some((contact) => contact.phone === budi)
        ? data
        : undefined
    })
    expect(contacts).toEqual(
      expect.arrayContaining([
        { jid: `${budi}@s.whatsapp.net`, phone: budi, lid: budiLid, pushName: 'Budi', savedName: null },
        { jid: `${sari}@s.whatsapp.net`, phone: sari, lid: sariLid, pushName: 'Sari', savedName: null },
      ]),
    )

    // The day's statistics, counted by the trigger across the restart: 3 sends, of which 2 went out
    // (one delivered and read) and 1 failed; 3 received (Sari's repeated message counted once).
    const stats = (await tenant.GET('/v1/sessions/{sessionId}/stats', { params: { path: { sessionId } } }))
      .data
    expect(stats).toMatchObject({
      total: 3,
      queued: 0,
      sent: 2,
      delivered: 1,
      read: 1,
      failed: 1,
      inbound: 3,
    })
    expect(stats?.successRate).toBeCloseTo(2 / 3)
    expect((await tenant.GET('/v1/stats')).data).toMatchObject({ total: 3, failed: 1, inbound: 3 })

    // Another tenant sees none of it.
    expect((await other.GET('/v1/messages')).data?.data).toEqual([])
    for (const path of ['messages', 'chats', 'contacts'] as const) {
      const response = await other.GET(`/v1/sessions/{sessionId}/${path}`, {
        params: { path: { sessionId } },
      })
      expect(response.response.status, path).toBe(404)
    }
  }, 240_000)
})
