import net from 'node:net'
import { appendEvent, listEvents } from '@wa-cluster/core'
import { type EventEnvelope, type EventSinkConfig, newId } from '@wa-cluster/shared'
import amqp, { type Channel, type ChannelModel } from 'amqplib'
import { sql } from 'drizzle-orm'
import { type JetStreamManager, type NatsConnection, connect as natsConnect } from 'nats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { restartRabbitApp, startPrivateNats } from '../../../test-support/brokers.js'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import {
  createTestSecretBox,
  seedSession,
  seedTenant,
  silentLogger,
  testOutboundPolicy,
  waitUntil,
} from '../../../test-support/seed.js'
import { sinkAddress } from '../../src/sinks/publishers.js'
import { syncEventSinks } from '../../src/sinks/sink-deliveries.js'
import { createWebhookDispatcher, type WebhookDispatcher } from '../../src/webhooks/dispatcher.js'

// Issue 11, broker sinks: every event reaches RabbitMQ and NATS JetStream with its routing key /
// subject and the webhook envelope, only for the tenants a sink names, and a broker outage holds the
// events in the outbox until the broker is back. The brokers are the real ones (global-setup says
// which is missing); one outage is a TCP proxy in front of each that the test cuts and restores, the
// other a restart of each broker (RabbitMQ's application on the machine's broker, and a NATS server
// of the test's own with its JetStream store on disk).

const AMQP_TARGET = new URL(process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672')
const NATS_TARGET = new URL(process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222')

/** A TCP proxy to a broker: `cut()` drops every connection and refuses new ones until `restore()`. */
async function startCuttableProxy(target: URL) {
  const sockets = new Set<net.Socket>()
  let open = true
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy()
      return
    }
    const upstream = net.connect({ host: target.hostname, port: Number(target.port) })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    cut() {
      open = false
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      open = true
    },
    async close() {
      open = false
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

type Received = { address: string; envelope: EventEnvelope; messageId?: string; contentType?: string }

describe('broker sinks (RabbitMQ, NATS JetStream)', () => {
  let test: TestDatabase
  const secretBox = createTestSecretBox()
  const run = newId('t')
    .replace(/[^a-z0-9]/gi, '')
    .slice(-10)
  const prefix = `watest${run}`
  const exchange = `wa.test.${run}`
  const stream = `WA_TEST_${run}`
  let amqpProxy: Awaited<ReturnType<typeof startCuttableProxy>>
  let natsProxy: Awaited<ReturnType<typeof startCuttableProxy>>
  let amqpConsumer: ChannelModel
  let amqpChannel: Channel
  let nats: NatsConnection
  let jsm: JetStreamManager
  const fromAmqp: Received[] = []
  let tenantA: string
  let tenantB: string
  /** The tenant whose events go to the sinks that meet the broker restarts. */
  let tenantC: string
  let privateNats: Awaited<ReturnType<typeof startPrivateNats>>
  const restartStream = `${stream}_RESTART`
  const restartQueue = `wa.test.${run}.restart`
  let dispatcher: WebhookDispatcher
  let sinks: EventSinkConfig[]

  async function fromNats(): Promise<Received[]> {
    const info = await jsm.streams.info(stream).catch(() => undefined)
    if (!info) return []
    const received: Received[] = []
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(stream, { seq })
      received.push({
        address: message.subject,
        envelope: JSON.parse(new TextDecoder().decode(message.data)) as EventEnvelope,
        messageId: message.header?.get('Nats-Msg-Id'),
        contentType: message.header?.get('Content-Type'),
      })
    }
    return received
  }

  async function listed(tenantId: string): Promise<EventEnvelope[]> {
    const page = await listEvents(test.handle.db, { tenantId, limit: 500 })
    return page.data.map(({ delivery: _delivery, ...envelope }) => envelope)
  }

  beforeAll(async () => {
    test = await createTestDatabase('event_sinks')
    amqpProxy = await startCuttableProxy(AMQP_TARGET)
    natsProxy = await startCuttableProxy(NATS_TARGET)

    // The consumer side connects to the brokers directly, never through the proxies.
    amqpConsumer = await amqp.connect(AMQP_TARGET.href)
    // The broker restart below closes this connection from the broker's side.
    amqpConsumer.on('error', () => {})
    amqpChannel = await amqpConsumer.createChannel()
    await amqpChannel.assertExchange(exchange, 'topic', { durable: true })
    const { queue } = await amqpChannel.assertQueue('', { exclusive: true, autoDelete: true })
    await amqpChannel.bindQueue(queue, exchange, `${prefix}.#`)
    await amqpChannel.consume(
      queue,
      (message) => {
        if (!message) return
        fromAmqp.push({
          address: message.fields.routingKey,
          envelope: JSON.parse(message.content.toString('utf8')) as EventEnvelope,
          messageId: message.properties.messageId as string | undefined,
          contentType: message.properties.contentType as string | undefined,
        })
      },
      { noAck: true },
    )
    nats = await natsConnect({ servers: `${NATS_TARGET.hostname}:${NATS_TARGET.port}` })
    jsm = await nats.jetstreamManager()

    tenantA = await seedTenant(test.handle)
    tenantB = await seedTenant(test.handle)
    tenantC = await seedTenant(test.handle)
    privateNats = await startPrivateNats()
    // A durable queue: it outlives the RabbitMQ restart, so what is published after it waits there.
    await amqpChannel.assertQueue(restartQueue, { durable: true })
    await amqpChannel.bindQueue(restartQueue, exchange, `${prefix}.#`)
    sinks = [
      {
        kind: 'amqp',
        name: 'rabbit',
        url: `amqp://${AMQP_TARGET.username}:${AMQP_TARGET.password}@127.0.0.1:${amqpProxy.port}`,
        exchange,
        prefix,
        tenants: [tenantA],
      },
      { kind: 'nats', name: 'jetstream', url: `nats://127.0.0.1:${natsProxy.port}`, stream, prefix },
      { kind: 'amqp', name: 'rabbit-direct', url: AMQP_TARGET.href, exchange, prefix, tenants: [tenantC] },
      {
        kind: 'nats',
        name: 'jetstream-private',
        url: privateNats.url,
        stream: restartStream,
        prefix,
        tenants: [tenantC],
      },
    ]
    dispatcher = createWebhookDispatcher({
      database: test.handle,
      secretBox,
      logger: silentLogger,
      outboundPolicy: testOutboundPolicy,
      options: { requestTimeoutMs: 1_500, pollIntervalMs: 20, backoffBaseMs: 20, sinkBackoffCapMs: 200 },
      sinks: { configs: sinks, authoritative: true },
    })
    await dispatcher.start()
  })

  afterAll(async () => {
    await dispatcher?.stop()
    await jsm?.streams.delete(stream).catch(() => {})
    await nats?.close()
    // The restart closed the first consumer connection: clean up over a new one.
    const cleanup = await amqp.connect(AMQP_TARGET.href).catch(() => undefined)
    const channel = await cleanup?.createChannel()
    await channel?.deleteQueue(restartQueue).catch(() => {})
    await channel?.deleteExchange(exchange).catch(() => {})
    await cleanup?.close().catch(() => {})
    await amqpConsumer?.close().catch(() => {})
    await amqpProxy?.close()
    await natsProxy?.close()
    await privateNats?.stop()
    await test?.drop()
  })

  async function appendSome(sessionId: string, count: number, from: number): Promise<void> {
    for (let index = 0; index < count; index++) {
      await appendEvent(test.handle.db, {
        sessionId,
        type: 'connection.update',
        data: {
          state: (from + index) % 2 === 0 ? 'CONNECTING' : 'DISCONNECTED',
          previousState: (from + index) % 2 === 0 ? 'DISCONNECTED' : 'CONNECTING',
          reason: `step-${from + index}`,
        },
      })
      dispatcher.notify()
    }
  }

  /** What one sink received for a set of sessions, first copy of each event, in arrival order. */
  function firstCopies(received: Received[], sessionIds: string[]): Received[] {
    const seen = new Set<string>()
    return received.filter((item) => {
      if (!sessionIds.includes(item.envelope.sessionId) || seen.has(item.envelope.id)) return false
      seen.add(item.envelope.id)
      return true
    })
  }

  function expectInSessionOrder(received: Received[], expected: EventEnvelope[]): void {
    for (const sessionId of new Set(expected.map((event) => event.sessionId))) {
      expect(
        received.filter((item) => item.envelope.sessionId === sessionId).map((item) => item.envelope),
      ).toEqual(expected.filter((event) => event.sessionId === sessionId).sort((a, b) => a.seq - b.seq))
    }
  }

  it('publishes every event with its routing key / subject and the webhook envelope, by tenant', async () => {
    const sessionA1 = await seedSession(test.handle, tenantA)
    const sessionA2 = await seedSession(test.handle, tenantA)
    const sessionB = await seedSession(test.handle, tenantB)
    await Promise.all([appendSome(sessionA1, 6, 0), appendSome(sessionA2, 4, 0), appendSome(sessionB, 5, 0)])
    const eventsA = await listed(tenantA)
    const eventsB = await listed(tenantB)
    expect(eventsA).toHaveLength(10)
    expect(eventsB).toHaveLength(5)

    await waitUntil(
      'RabbitMQ has every event of tenant A',
      () => firstCopies(fromAmqp, [sessionA1, sessionA2]).length === 10,
    )
    await waitUntil('NATS has every event of both tenants', async () => (await fromNats()).length === 15)

    const rabbit = firstCopies(fromAmqp, [sessionA1, sessionA2])
    expectInSessionOrder(rabbit, eventsA)
    const jetstream = await fromNats()
    expectInSessionOrder(jetstream, [...eventsA, ...eventsB])
    for (const item of [...rabbit, ...jetstream]) {
      expect(item.address).toBe(sinkAddress(prefix, item.envelope))
      expect(item.address).toBe(
        `${prefix}.${item.envelope.tenantId}.${item.envelope.sessionId}.connection_update`,
      )
      expect(item.messageId).toBe(item.envelope.id)
      expect(item.contentType).toBe('application/json')
    }
    // Tenant filtering: the RabbitMQ sink names tenant A only; no delivery row was even written for B.
    expect(fromAmqp.some((item) => item.envelope.tenantId === tenantB)).toBe(false)
    // A delivery is recorded just after the broker's ack, so the last rows may still be settling.
    const expected = [
      { sink_id: 'jetstream', tenant_id: tenantA, status: 'delivered', n: 10 },
      { sink_id: 'jetstream', tenant_id: tenantB, status: 'delivered', n: 5 },
      { sink_id: 'rabbit', tenant_id: tenantA, status: 'delivered', n: 10 },
    ].sort((a, b) => (a.sink_id + a.tenant_id).localeCompare(b.sink_id + b.tenant_id))
    const rows = () =>
      test.handle.rows<{ sink_id: string; tenant_id: string; status: string; n: number }>(sql`
        SELECT sink_id, tenant_id, status, count(*)::int AS n FROM sink_deliveries
        GROUP BY sink_id, tenant_id, status ORDER BY sink_id, tenant_id`)
    await waitUntil(
      'every delivery recorded as delivered',
      async () => JSON.stringify(await rows()) === JSON.stringify(expected),
    )
    expect(await rows()).toEqual(expected)
  })

  it('holds events in the outbox while the brokers are unreachable and delivers them when they return', async () => {
    const session = await seedSession(test.handle, tenantA)
    await appendSome(session, 2, 0)
    await waitUntil(
      'both brokers have the first events',
      async () =>
        firstCopies(fromAmqp, [session]).length === 2 &&
        (await fromNats()).filter((item) => item.envelope.sessionId === session).length === 2,
    )

    amqpProxy.cut()
    natsProxy.cut()
    await appendSome(session, 5, 2)
    // Both sinks tried and failed: the events wait in sink_deliveries with the broker's error.
    await waitUntil(
      'both sinks recorded a failed publish',
      async () => {
        const failed = await test.handle.rows<{ sink_id: string }>(sql`
          SELECT DISTINCT sink_id FROM sink_deliveries
          WHERE session_id = ${session} AND status = 'pending' AND last_error IS NOT NULL`)
        return failed.length === 2
      },
      60_000,
    )
    const pending = await test.handle.rows<{ n: number }>(sql`
      SELECT count(*)::int AS n FROM sink_deliveries WHERE session_id = ${session} AND status = 'pending'`)
    expect(pending[0]?.n).toBe(10)
    expect(firstCopies(fromAmqp, [session])).toHaveLength(2)
    expect((await fromNats()).filter((item) => item.envelope.sessionId === session)).toHaveLength(2)

    amqpProxy.restore()
    natsProxy.restore()
    await waitUntil(
      'RabbitMQ has every event after the outage',
      () => firstCopies(fromAmqp, [session]).length === 7,
      60_000,
    )
    await waitUntil(
      'NATS has every event after the outage',
      async () => (await fromNats()).filter((item) => item.envelope.sessionId === session).length === 7,
      60_000,
    )
    const events = (await listed(tenantA)).filter((event) => event.sessionId === session)
    expect(events).toHaveLength(7)
    expectInSessionOrder(firstCopies(fromAmqp, [session]), events)
    // JetStream de-duplicates by Nats-Msg-Id (the event id): each event is stored once.
    expectInSessionOrder(
      (await fromNats()).filter((item) => item.envelope.sessionId === session),
      events,
    )
    await waitUntil('every delivery row is delivered', async () => {
      const [row] = await test.handle.rows<{ n: number }>(sql`
        SELECT count(*)::int AS n FROM sink_deliveries WHERE session_id = ${session} AND status <> 'delivered'`)
      return row?.n === 0
    })
  })

  it('writes deliveries only for the sinks registered and enabled when the event is appended', async () => {
    const session = await seedSession(test.handle, tenantA)
    const rowsOf = async () =>
      (
        await test.handle.rows<{ sink_id: string }>(
          sql`SELECT sink_id FROM sink_deliveries WHERE session_id = ${session} ORDER BY seq, sink_id`,
        )
      ).map((row) => row.sink_id)
    // A configuration that names only the RabbitMQ sink is authoritative: the NATS sink is disabled.
    await syncEventSinks(test.handle, sinks.slice(0, 1), true)
    await appendSome(session, 1, 0)
    expect(await rowsOf()).toEqual(['rabbit'])
    // A process with no sink configuration leaves the registry as it is.
    await syncEventSinks(test.handle, [], false)
    await appendSome(session, 1, 1)
    expect(await rowsOf()).toEqual(['rabbit', 'rabbit'])
    await syncEventSinks(test.handle, sinks, true)
    await appendSome(session, 1, 2)
    expect(await rowsOf()).toEqual(['rabbit', 'rabbit', 'jetstream', 'rabbit'])
    await waitUntil('the three events reached RabbitMQ', () => firstCopies(fromAmqp, [session]).length === 3)
    await waitUntil(
      'NATS has only the event appended while its sink was enabled',
      async () => (await fromNats()).filter((item) => item.envelope.sessionId === session).length === 1,
    )
  })

  it('every event reaches RabbitMQ and NATS across a restart of each broker, each once in JetStream', async () => {
    const session = await seedSession(test.handle, tenantC)
    const fromRestartQueue: EventEnvelope[] = []
    // Reads the durable queue over a connection of its own, opened again after the restart.
    let reader: { model: ChannelModel; channel: Channel } | undefined
    const readQueue = async () => {
      if (!reader) {
        const model = await amqp.connect(AMQP_TARGET.href)
        model.on('error', () => {})
        model.on('close', () => {
          reader = undefined
        })
        reader = { model, channel: await model.createChannel() }
      }
      for (;;) {
        const message = await reader.channel.get(restartQueue, { noAck: true })
        if (!message) break
        const envelope = JSON.parse(message.content.toString('utf8')) as EventEnvelope
        if (envelope.sessionId === session) fromRestartQueue.push(envelope)
      }
      return firstCopies(
        fromRestartQueue.map((envelope) => ({ address: '', envelope })),
        [session],
      ).map((item) => item.envelope)
    }
    const nats = await natsConnect({
      servers: privateNats.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 200,
    })
    const manager = await nats.jetstreamManager()
    const fromPrivateNats = async (): Promise<EventEnvelope[]> => {
      const info = await manager.streams.info(restartStream).catch(() => undefined)
      if (!info || info.state.messages === 0) return []
      const envelopes: EventEnvelope[] = []
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const message = await manager.streams.getMessage(restartStream, { seq })
        envelopes.push(JSON.parse(new TextDecoder().decode(message.data)) as EventEnvelope)
      }
      return envelopes.filter((envelope) => envelope.sessionId === session)
    }
    const pendingFor = async (sinkId: string, whereFailed = false) => {
      const [row] = await test.handle.rows<{ n: number }>(sql`
        SELECT count(*)::int AS n FROM sink_deliveries
        WHERE session_id = ${session} AND sink_id = ${sinkId} AND status = 'pending'
          AND (${!whereFailed} OR last_error IS NOT NULL)`)
      return row?.n ?? 0
    }

    try {
      await appendSome(session, 2, 0)
      await waitUntil('RabbitMQ has the first events', async () => (await readQueue()).length === 2, 30_000)
      await waitUntil('NATS has the first events', async () => (await fromPrivateNats()).length === 2, 30_000)

      // Each broker restarts; the events appended while it is down wait in the outbox, their publishes
      // failing, and arrive once it is back.
      await reader?.model.close().catch(() => {})
      reader = undefined
      const heldWhileDown = (sinkId: string) =>
        waitUntil(
          `${sinkId}: the events appended while its broker is down wait, the oldest with the broker's error`,
          // In session order: the oldest is retried with the broker's error, the rest wait behind it.
          async () => (await pendingFor(sinkId)) === 3 && (await pendingFor(sinkId, true)) >= 1,
          60_000,
        )
      await restartRabbitApp(Number(AMQP_TARGET.port || 5672), 1000, async () => {
        await appendSome(session, 3, 2)
        await heldWhileDown('rabbit-direct')
      })
      await waitUntil(
        'RabbitMQ has every event after its restart',
        async () => (await readQueue()).length === 5,
        90_000,
      )

      // The NATS server: SIGTERM, down for at least 1 s, started again on the same store.
      await privateNats.restart(1000, async () => {
        await appendSome(session, 3, 5)
        await heldWhileDown('jetstream-private')
      })
      await waitUntil(
        'NATS has every event after its restart',
        async () => (await fromPrivateNats()).length === 8,
        90_000,
      )
      await waitUntil('RabbitMQ has the events appended during the NATS restart', async () => {
        return (await readQueue()).length === 8
      })
      await waitUntil(
        'no delivery of the session left pending',
        async () => (await pendingFor('rabbit-direct')) + (await pendingFor('jetstream-private')) === 0,
      )

      const events = (await listed(tenantC)).filter((event) => event.sessionId === session)
      expect(events).toHaveLength(8)
      const bySeq = [...events].sort((a, b) => a.seq - b.seq)
      // At least once and in order on RabbitMQ; exactly once in JetStream (de-duplicated by event id).
      expect(await readQueue()).toEqual(bySeq)
      expect(await fromPrivateNats()).toEqual(bySeq)
    } finally {
      await reader?.model.close().catch(() => {})
      await nats.close()
    }
  }, 240_000)
})
