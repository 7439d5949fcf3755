import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, linkSessionThroughApi, startCluster } from '../../../test-support/cluster.js'
import { eventually, sleep } from '../../../test-support/wait.js'
import { startWebhookReceiver, type WebhookReceiver } from '../../../test-support/webhook-receiver.js'

/**
 * Chaos, bounded: 2 control-planes and 3 session-nodes as real processes under inbound and outbound
 * traffic (clients retrying with the same Idempotency-Key), while Redis restarts, Postgres goes away,
 * one node is SIGKILLed and another SIGSTOPped past its lease. wa-sim is the oracle: every inbound
 * message at the webhook, every outbound message decrypted by its contact exactly once, never two live
 * sockets for a device (but the frozen node's, which cannot close while stopped), and every event of
 * every session delivered in a contiguous seq.
 */
describe.sequential('chaos: faults of every part under traffic (real processes, wa-sim)', () => {
  const contacts = ['6281300000301', '6281300000302', '6281300000303']
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let receiver: WebhookReceiver
  let tenants: WaClusterClient[]
  const linked: { id: string; phone: string; jid: string }[] = []

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    for (const pn of contacts) await sim.addContact({ pn, name: `Contact ${pn.slice(-3)}` })
    receiver = await startWebhookReceiver()
    cluster = await startCluster({
      controlPlanes: 2,
      sessionNodes: 3,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: {
        BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn',
        LEASE_TTL_MS: '6000',
        HEARTBEAT_INTERVAL_MS: '500',
        NODE_TTL_MS: '3000',
        RECONCILE_INTERVAL_MS: '1000',
        WEBHOOK_TIMEOUT_MS: '1500',
      },
    })
    const admin = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: cluster.adminKey })
    const created = (await admin.POST('/v1/tenants', { body: { name: 'Chaos' } })).data!
    // The clients below poll every 100 ms and retry every send through the outages: far past the
    // default 1,200 requests a minute, whose 429s would read as an outage of the cluster.
    await admin.PATCH('/v1/tenants/{tenantId}', {
      params: { path: { tenantId: created.id } },
      body: { limits: { requestsPerMinute: 100_000 } },
    })
    const apiKey = created.apiKey
    tenants = cluster.controlPlanes.map((entry) => createClient({ baseUrl: entry.url, apiKey }))
    const webhook = await tenants[0]!.PUT('/v1/webhook', { body: { url: receiver.url } })
    receiver.setSecret(webhook.data!.secret)
    for (let index = 0; index < 6; index++)
      linked.push(await linkSessionThroughApi(tenants[index % 2]!, sim, `62857200003${10 + index}`))
  })

  afterAll(async () => {
    await cluster?.stop()
    await receiver?.close()
    await sim?.stop()
  })

  it('loses nothing, doubles nothing, and never runs a device twice', async () => {
    const inbound: string[] = []
    const outbound: { key: string; text: string; contact: string }[] = []
    const failedSends: string[] = []
    let running = true

    // Contacts write 10 messages a second to the sessions, whatever happens to the cluster.
    const contactsWrite = (async () => {
      for (let n = 0; running; n++) {
        const { id } = await sim.send({
          from: contacts[n % contacts.length]!,
          to: linked[n % linked.length]!.phone,
          text: `chaos in ${n}`,
        })
        inbound.push(id)
        await sleep(100)
      }
    })()
    // A tenant's client sends 4 a second through either control-plane and retries each with the same
    // Idempotency-Key until it is accepted, as a careful client does through outages.
    const tenantSends = (async () => {
      for (let n = 0; running; n++) {
        const session = linked[n % linked.length]!
        const contact = contacts[n % contacts.length]!
        const item = { key: `chaos-${n}`, text: `chaos out ${n}`, contact }
        outbound.push(item)
        void (async () => {
          for (let attempt = 0; attempt < 60; attempt++) {
            const response = await tenants[(n + attempt) % 2]!.POST('/v1/sessions/{sessionId}/messages', {
              params: { path: { sessionId: session.id }, header: { 'idempotency-key': item.key } },
              body: { to: contact, text: item.text },
            })
              .then((result) => result.response.status)
              .catch(() => 0)
            if (response === 202) return
            await sleep(500)
          }
          failedSends.push(item.key)
        })()
        await sleep(250)
      }
    })()

    const nodeOf = async (sessionId: string) =>
      (await tenants[0]!.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })).data?.nodeId
    const allConnected = (what: string) =>
      eventually(
        what,
        async () => {
          const reads = await Promise.all(
            linked.map(async (session) => {
              const { data, response } = await tenants[1]!.GET('/v1/sessions/{sessionId}', {
                params: { path: { sessionId: session.id } },
              })
              return { id: session.id, status: response.status, session: data }
            }),
          )
          const waiting = reads.filter((read) => read.session?.state !== 'CONNECTED')
          if (waiting.length > 0)
            throw new Error(
              `not CONNECTED: ${waiting.map(({ id, status, session }) => (session ? `${id} ${session.state} on ${session.nodeId} (${session.reason ?? ''})` : `${id} HTTP ${status}`)).join(', ')}`,
            )
          return true
        },
        90_000,
      )

    await sleep(2000)
    await cluster.redis.restart(1000)
    await sleep(2000)
    await cluster.postgresOutage(2000)
    await allConnected('every session CONNECTED after the Redis restart and the Postgres outage')

    const killed = (await nodeOf(linked[0]!.id))!
    cluster.node(killed).signal('SIGKILL')
    await sleep(1000)
    await allConnected(`every session CONNECTED after ${killed} was killed`)

    const frozen = (await nodeOf(linked[1]!.id))!
    const frozenDevices = new Set<string>()
    for (const session of linked) if ((await nodeOf(session.id)) === frozen) frozenDevices.add(session.jid)
    cluster.node(frozen).signal('SIGSTOP')
    await sleep(8000) // past LEASE_TTL_MS: the frozen node's sessions move
    await allConnected(`every session CONNECTED after ${frozen} was stopped`)
    cluster.node(frozen).signal('SIGCONT')
    await sleep(3000)

    running = false
    await Promise.all([contactsWrite, tenantSends])

    // Inbound: every message at the webhook; a repeat is the same event.
    const received = () =>
      receiver.events.flatMap((event) =>
        event.type === 'messages.upsert'
          ? event.data.messages.map((message) => ({ eventId: event.id, waMessageId: message.waMessageId }))
          : [],
      )
    await eventually(
      `all ${inbound.length} inbound messages at the webhook`,
      () => {
        const seen = new Set(received().map((entry) => entry.waMessageId))
        return inbound.every((id) => seen.has(id))
      },
      120_000,
    )
    const eventIds = new Map<string, Set<string>>()
    for (const { eventId, waMessageId } of received())
      eventIds.set(waMessageId, (eventIds.get(waMessageId) ?? new Set()).add(eventId))
    expect([...eventIds].filter(([, ids]) => ids.size > 1)).toEqual([])

    // Outbound: every accepted send decrypted by its contact, under one WhatsApp id.
    expect(failedSends).toEqual([])
    await eventually(
      `all ${outbound.length} outbound messages decrypted by their contacts`,
      async () => {
        const texts = new Set((await sim.inbox()).map((entry) => entry.text))
        return outbound.every((item) => texts.has(item.text))
      },
      120_000,
    )
    const inbox = await sim.inbox()
    const doubled = outbound.filter(
      (item) =>
        new Set(inbox.filter((entry) => entry.text === item.text).map((entry) => entry.id)).size !== 1,
    )
    expect(doubled).toEqual([])

    // Sockets: never two at once for a device, except the frozen node's, which could not close.
    const stats = await sim.stats()
    const overlaps = linked.filter(
      (session) => stats.perDevice![session.jid]!.maxConcurrent > (frozenDevices.has(session.jid) ? 2 : 1),
    )
    expect(overlaps).toEqual([])

    // Webhooks: every event of every session delivered, seq 1..last with no hole.
    for (const session of linked) {
      const [row] = await cluster.database.handle.rows<{ last_seq: string | number }>(
        sql`SELECT last_seq FROM sessions WHERE id = ${session.id}`,
      )
      const last = Number(row!.last_seq)
      await eventually(
        `all ${last} events of ${session.id} at the webhook`,
        () => {
          const seqs = new Set(
            receiver.events.filter((event) => event.sessionId === session.id).map((e) => e.seq),
          )
          return seqs.size === last && [...seqs].every((seq) => seq >= 1 && seq <= last)
        },
        120_000,
      )
    }
    console.log(
      `chaos: ${inbound.length} inbound and ${outbound.length} outbound messages through a Redis restart, a 2 s Postgres outage, ` +
        `a SIGKILL (${killed}) and a SIGSTOP past the lease (${frozen}): 0 lost, 0 doubled, ` +
        `max sockets per device ${stats.maxConcurrentPerDevice} (frozen devices ${frozenDevices.size}), redelivered ${stats.redelivered}`,
    )
  }, 420_000)
})
