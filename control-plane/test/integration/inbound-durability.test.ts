import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { startSimulator } from '@wa-cluster/wa-sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, linkSessionThroughApi, startCluster } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/wait.js'
import { startWebhookReceiver, type WebhookReceiver } from '../../../test-support/webhook-receiver.js'

/**
 * Nothing received is lost when the owning node dies at any instant: contacts send 200 messages a
 * second while the only session-node is SIGKILLed three times. A message is stored before WhatsApp
 * gets its receipt (patches/@whiskeysockets+baileys+*.patch), and wa-sim, like WhatsApp, delivers
 * whatever a device did not acknowledge again at its next login. Counted by wa-sim's ids: every message
 * reaches the webhook, and a message seen twice is the same event (the same event id) seen twice.
 */
describe.sequential('inbound messages survive SIGKILLs of the owning node (real processes, wa-sim)', () => {
  const RATE_PER_SECOND = 200
  const KILLS = 3
  const contacts = ['6281300000201', '6281300000202', '6281300000203', '6281300000204']
  const phones = ['6285700000201', '6285700000202']
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let receiver: WebhookReceiver
  let tenant: WaClusterClient

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    for (const pn of contacts) await sim.addContact({ pn, name: `Contact ${pn.slice(-3)}` })
    receiver = await startWebhookReceiver()
    cluster = await startCluster({
      controlPlanes: 1,
      sessionNodes: 1,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: {
        BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn',
        LEASE_TTL_MS: '3000',
        HEARTBEAT_INTERVAL_MS: '500',
        NODE_TTL_MS: '3000',
        RECONCILE_INTERVAL_MS: '1000',
        // A killed node's claimed webhook events go to the restarted one after 3 × this.
        WEBHOOK_TIMEOUT_MS: '1500',
      },
    })
    const admin = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: cluster.adminKey })
    const apiKey = (await admin.POST('/v1/tenants', { body: { name: 'Durability' } })).data!.apiKey
    tenant = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey })
    const webhook = await tenant.PUT('/v1/webhook', { body: { url: receiver.url } })
    receiver.setSecret(webhook.data!.secret)
    for (const phone of phones) await linkSessionThroughApi(tenant, sim, phone)
  })

  afterAll(async () => {
    await cluster?.stop()
    await receiver?.close()
    await sim?.stop()
  })

  it('every message reaches the webhook, and a repeat is the same event', async () => {
    const sent: string[] = []
    let sending = true
    const started = performance.now()
    // Open loop at RATE_PER_SECOND, round robin over contact → session pairs, whatever the node does.
    const sender = (async () => {
      for (let n = 0; sending; n++) {
        const due = started + (n * 1000) / RATE_PER_SECOND
        const wait = due - performance.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        const { id } = await sim.send({
          from: contacts[n % contacts.length]!,
          to: phones[n % phones.length]!,
          text: `durable ${n}`,
        })
        sent.push(id)
      }
    })()

    const received = () =>
      receiver.events.flatMap((event) =>
        event.type === 'messages.upsert'
          ? event.data.messages.map((message) => ({ eventId: event.id, waMessageId: message.waMessageId }))
          : [],
      )
    for (let kill = 1; kill <= KILLS; kill++) {
      // Let traffic flow through a live node first, then kill it mid-stream and start it again.
      const before = received().length
      await eventually(`messages flowing before kill ${kill}`, () => received().length >= before + 50, 60_000)
      console.log(
        `kill ${kill}: sent ${sent.length}, received ${received().length}, ${Math.round(performance.now() - started)} ms`,
      )
      cluster.node('node-1').signal('SIGKILL')
      await cluster.node('node-1').exited
      await cluster.startNode('node-1')
    }
    const afterLast = received().length
    await eventually(
      'messages flowing after the last restart',
      () => received().length >= afterLast + 50,
      60_000,
    )
    sending = false
    await sender
    console.log(
      `stopped: sent ${sent.length}, received ${received().length}, ${Math.round(performance.now() - started)} ms`,
    )

    await eventually(
      `all ${sent.length} messages at the webhook`,
      () => {
        const seen = new Set(received().map((entry) => entry.waMessageId))
        return sent.every((id) => seen.has(id))
      },
      240_000,
    )
    const eventIdsByMessage = new Map<string, Set<string>>()
    for (const { eventId, waMessageId } of received()) {
      const ids = eventIdsByMessage.get(waMessageId) ?? new Set<string>()
      ids.add(eventId)
      eventIdsByMessage.set(waMessageId, ids)
    }
    const storedTwice = [...eventIdsByMessage].filter(([, ids]) => ids.size > 1).map(([id]) => id)
    expect(storedTwice).toEqual([])
    expect(sent.length).toBeGreaterThan(RATE_PER_SECOND)
    const stats = await sim.stats()
    // Messages sent while the node was down (or not acknowledged when it died) were delivered again.
    expect(stats.redelivered).toBeGreaterThan(0)
    await eventually(
      'every message acknowledged by the sessions',
      async () => (await sim.stats()).unacknowledged === 0,
    )
  }, 420_000)
})
