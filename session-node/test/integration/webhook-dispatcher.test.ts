import { appendAndClaimEvents, appendEvent, listEvents, redeliverEvents } from '@wa-cluster/core'
import { type DatabaseHandle, openDatabase } from '@wa-cluster/db'
import type { EventEnvelope } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { Registry } from 'prom-client'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import {
  createTestSecretBox,
  deliveryCounts,
  type Receiver,
  seedSession,
  seedTenant,
  seedWebhook,
  silentLogger,
  startReceiver,
  testOutboundPolicy,
  waitUntil,
} from '../../../test-support/seed.js'
import { recordStatusUpdates } from '../../src/messages/message-events.js'
import {
  createWebhookDispatcher,
  type WebhookDispatcher,
  type WebhookDispatcherOptions,
} from '../../src/webhooks/dispatcher.js'

// Short timings so retries happen within a test; nothing here asserts how long anything took.
const FAST: WebhookDispatcherOptions = {
  requestTimeoutMs: 300,
  backoffBaseMs: 10,
  backoffCapMs: 40,
  pollIntervalMs: 20,
  maxAttempts: 50,
  // A test ends with requests still hanging on purpose: stopping waits this long for them, not for
  // the request timeout (webhook-drain.test.ts covers the drain itself).
  drainTimeoutMs: 200,
}

const message = (text: string) => ({
  type: 'messages.upsert' as const,
  data: {
    messages: [
      {
        id: text,
        waMessageId: text,
        chatId: 'c@s.whatsapp.net',
        from: 'x',
        fromMe: false,
        timestamp: 1,
        type: 'text',
        text,
      },
    ],
  },
})

/** Per session, the seqs acknowledged by the receiver, in arrival order. */
function acknowledgedSeqs(receiver: Receiver): Map<string, number[]> {
  const bySession = new Map<string, number[]>()
  for (const event of receiver.acknowledged()) {
    bySession.set(event.sessionId, [...(bySession.get(event.sessionId) ?? []), event.seq])
  }
  return bySession
}

const oneToN = (n: number) => Array.from({ length: n }, (_, index) => index + 1)

/** The same behaviour on Postgres (the cluster) and PGlite (the embedded default). */
function dispatcherContract(kind: 'postgres' | 'pglite') {
  describe(`webhook dispatcher on ${kind}`, () => {
    let test: TestDatabase | undefined
    let database: DatabaseHandle
    const secretBox = createTestSecretBox()
    const cleanups: (() => Promise<void>)[] = []

    beforeAll(async () => {
      if (kind === 'postgres') {
        test = await createTestDatabase('webhooks')
        database = test.handle
      } else {
        database = openDatabase({})
        await database.migrate()
      }
    })
    afterEach(async () => {
      // Dispatchers first, then receivers, so no request is left hanging on a closed server.
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    })
    afterAll(async () => {
      if (test) await test.drop()
      else await database.close()
    })

    async function receiverFor(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
      const receiver = await startReceiver(respond)
      cleanups.push(() => receiver.close())
      return receiver
    }

    async function dispatcher(
      options: WebhookDispatcherOptions = {},
      on = database,
      metrics?: Registry,
    ): Promise<WebhookDispatcher> {
      const created = createWebhookDispatcher({
        database: on,
        secretBox,
        logger: silentLogger,
        outboundPolicy: testOutboundPolicy,
        ...(metrics ? { metrics } : {}),
        options: { ...FAST, ...options },
      })
      await created.start()
      cleanups.push(() => created.stop())
      return created
    }

    it('delivers signed envelopes that the stock verifier accepts, right after notify()', async () => {
      const receiver = await receiverFor()
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      const secret = await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
      const metrics = new Registry()
      // A poll interval far beyond the wait: only notify() can get the events out in time.
      const webhooks = await dispatcher({ pollIntervalMs: 600_000 }, database, metrics)
      const appended: EventEnvelope[] = []
      for (let n = 0; n < 5; n++) {
        appended.push(await appendEvent(database.db, { sessionId, ...message(`hello ${n}`) }))
        webhooks.notify()
      }
      await waitUntil('5 events arrive', () => receiver.acknowledged().length === 5, 5_000)

      const verifier = new Webhook(secret)
      for (const [index, request] of receiver.received.entries()) {
        const verified = verifier.verify(request.body, request.headers) as EventEnvelope
        expect(verified).toEqual(JSON.parse(JSON.stringify(appended[index])))
        expect(request.headers['webhook-id']).toBe(appended[index]!.id)
        expect(request.headers['content-type']).toBe('application/json')
      }
      expect(acknowledgedSeqs(receiver).get(sessionId)).toEqual(oneToN(5))
      await waitUntil(
        'all rows are delivered',
        async () => (await deliveryCounts(database, tenantId)).delivered === 5,
      )
      const page = await listEvents(database.db, { tenantId, limit: 10 })
      expect(
        page.data.every((event) => event.delivery.attempts === 1 && event.delivery.deliveredAt !== null),
      ).toBe(true)
      expect(await metrics.getSingleMetricAsString('wa_webhook_deliveries_total')).toMatch(
        /outcome="delivered"} 5/,
      )
    })

    it('gets every event through an endpoint that fails, then hangs, then heals: none lost, seq order per session', async () => {
      let healthy = false
      let requests = 0
      const receiver = await receiverFor(() => {
        requests++
        if (healthy) return 200
        return requests % 3 === 0 ? 'hang' : 500
      })
      const tenantId = await seedTenant(database)
      const sessions = [
        await seedSession(database, tenantId),
        await seedSession(database, tenantId),
        await seedSession(database, tenantId),
      ]
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
      // Long enough that a busy machine never times out an answered request, which would rightly be sent
      // again (at-least-once) and make the count below ambiguous.
      const webhooks = await dispatcher({ requestTimeoutMs: 500 })
      const perSession = 15
      for (let n = 0; n < perSession; n++) {
        for (const sessionId of sessions) await appendEvent(database.db, { sessionId, ...message(`m${n}`) })
        webhooks.notify()
      }
      await waitUntil('the failing endpoint has been tried a good number of times', () => requests >= 24)
      expect(receiver.acknowledged()).toHaveLength(0)
      healthy = true
      await waitUntil(
        'every event is acknowledged',
        () => receiver.acknowledged().length >= sessions.length * perSession,
      )

      const seqs = acknowledgedSeqs(receiver)
      for (const sessionId of sessions) expect(seqs.get(sessionId)).toEqual(oneToN(perSession))
      expect(receiver.received.some((request) => request.answered === 'hung')).toBe(true)
      await waitUntil(
        'all rows are delivered',
        async () => (await deliveryCounts(database, tenantId)).delivered === 45,
      )
    })

    it('dead-letters after the last attempt; redeliver brings the events back and they get delivered', async () => {
      let healthy = false
      const receiver = await receiverFor(() => (healthy ? 200 : 503))
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
      const webhooks = await dispatcher({ maxAttempts: 3 })
      for (let n = 0; n < 4; n++) await appendEvent(database.db, { sessionId, ...message(`m${n}`) })
      webhooks.notify()
      await waitUntil('all four are dead', async () => (await deliveryCounts(database, tenantId)).dead === 4)
      expect(receiver.received).toHaveLength(12)
      const dead = await listEvents(database.db, { tenantId, limit: 10 })
      expect(dead.data.map((event) => [event.delivery.attempts, event.delivery.lastError])).toEqual(
        Array(4).fill([3, 'HTTP 503']),
      )

      healthy = true
      expect(await redeliverEvents(database.db, { tenantId, status: 'dead' })).toBe(4)
      webhooks.notify()
      await waitUntil(
        'all four are delivered',
        async () => (await deliveryCounts(database, tenantId)).delivered === 4,
      )
      expect(acknowledgedSeqs(receiver).get(sessionId)).toEqual(oneToN(4))
    })

    it('lets a dead-lettered event go so later events of its session still arrive', async () => {
      const receiver = await receiverFor(({ body }) => (JSON.parse(body).seq === 2 ? 500 : 200))
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
      const webhooks = await dispatcher({ maxAttempts: 2 })
      for (let n = 0; n < 4; n++) await appendEvent(database.db, { sessionId, ...message(`m${n}`) })
      webhooks.notify()
      await waitUntil(
        'the rest is delivered',
        async () => (await deliveryCounts(database, tenantId)).delivered === 3,
      )
      expect(acknowledgedSeqs(receiver).get(sessionId)).toEqual([1, 3, 4])
      expect(await deliveryCounts(database, tenantId)).toEqual({ delivered: 3, dead: 1 })
    })

    it('never sends an event twice when two dispatchers share the table', async () => {
      const receiver = await receiverFor()
      const tenants = [await seedTenant(database), await seedTenant(database)]
      const sessions: string[] = []
      for (const tenantId of tenants) {
        await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
        for (let n = 0; n < 3; n++) sessions.push(await seedSession(database, tenantId))
      }
      // On Postgres each dispatcher gets its own connection pool, as two processes would.
      const second = test ? openDatabase({ url: test.url }) : database
      if (second !== database) cleanups.push(() => second.close())
      // A generous timeout: a request that times out after the receiver answered is legitimately sent
      // again (at-least-once), and PGlite's synchronous work can stall this process's event loop.
      const one = await dispatcher({ claimBatchSize: 4, requestTimeoutMs: 10_000 })
      const two = await dispatcher({ claimBatchSize: 4, requestTimeoutMs: 10_000 }, second)
      const perSession = 20
      for (let n = 0; n < perSession; n++) {
        await Promise.all(
          sessions.map((sessionId) => appendEvent(database.db, { sessionId, ...message(`m${n}`) })),
        )
        one.notify()
        two.notify()
      }
      const total = sessions.length * perSession
      await waitUntil('every event arrives', () => receiver.received.length >= total)
      await waitUntil('all rows are delivered', async () => {
        const counts = await Promise.all(tenants.map((tenantId) => deliveryCounts(database, tenantId)))
        return counts.reduce((sum, count) => sum + (count.delivered ?? 0), 0) === total
      })
      const ids = receiver.received.map((request) => request.headers['webhook-id'])
      expect(new Set(ids).size).toBe(total)
      expect(ids).toHaveLength(total)
      const seqs = acknowledgedSeqs(receiver)
      for (const sessionId of sessions) expect(seqs.get(sessionId)).toEqual(oneToN(perSession))
    })

    it('sends only the types the webhook asks for, and marks the rest none', async () => {
      const receiver = await receiverFor()
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url, events: ['messages.upsert'] })
      const webhooks = await dispatcher()
      await appendEvent(database.db, {
        sessionId,
        type: 'connection.update',
        data: { state: 'CONNECTED', previousState: 'PAIRING' },
      })
      await appendEvent(database.db, { sessionId, ...message('wanted') })
      await appendEvent(database.db, { sessionId, type: 'messages.update', data: { updates: [] } })
      await appendEvent(database.db, { sessionId, ...message('wanted too') })
      webhooks.notify()
      await waitUntil('both messages arrive', () => receiver.acknowledged().length === 2)
      expect(receiver.acknowledged().map((event) => [event.type, event.seq])).toEqual([
        ['messages.upsert', 2],
        ['messages.upsert', 4],
      ])
      await waitUntil('rows settle', async () => (await deliveryCounts(database, tenantId)).delivered === 2)
      expect(await deliveryCounts(database, tenantId)).toEqual({ delivered: 2, none: 2 })
    })

    it('keeps other tenants flowing while one tenant’s endpoint hangs', async () => {
      const stuck = await receiverFor(() => 'hang')
      const fine = await receiverFor()
      const stuckTenant = await seedTenant(database)
      const fineTenant = await seedTenant(database)
      await seedWebhook(database, secretBox, { tenantId: stuckTenant, url: stuck.url })
      await seedWebhook(database, secretBox, { tenantId: fineTenant, url: fine.url })
      // The hang outlasts the test: the stuck tenant may only use its own two slots of four.
      const webhooks = await dispatcher({ requestTimeoutMs: 60_000, maxInFlight: 4, maxInFlightPerTenant: 2 })
      for (let n = 0; n < 6; n++)
        await appendEvent(database.db, {
          sessionId: await seedSession(database, stuckTenant),
          ...message('x'),
        })
      webhooks.notify()
      await waitUntil('the stuck endpoint holds two requests', () => stuck.received.length === 2)
      const fineSession = await seedSession(database, fineTenant)
      for (let n = 0; n < 10; n++) {
        await appendEvent(database.db, { sessionId: fineSession, ...message(`m${n}`) })
        webhooks.notify()
      }
      await waitUntil('the healthy tenant gets everything', () => fine.acknowledged().length === 10)
      expect(acknowledgedSeqs(fine).get(fineSession)).toEqual(oneToN(10))
      expect(stuck.received).toHaveLength(2)
    })

    it('fast path: an append claims its event only when nothing of the session is pending before it', async () => {
      const receiver = await receiverFor((request) => (request.index === 0 ? 'hang' : 200))
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url, events: ['messages.upsert'] })
      // No polling within the test: what goes out goes out through the claims the appends took.
      const webhooks = await dispatcher({ pollIntervalMs: 600_000, requestTimeoutMs: 10_000 })
      const append = (events: ReturnType<typeof message>[]) =>
        appendAndClaimEvents(database, { sessionId, epoch: 1, events }, webhooks.claimLeaseMs)

      const first = await append([message('first')])
      expect(first.claimed.map((row) => row.id)).toEqual(first.envelopes.map((event) => event.id))
      expect(first.unclaimed).toBe(false)
      webhooks.deliverClaimed(first.claimed)
      await waitUntil('the first request is in flight', () => receiver.received.length === 1)

      // The first is still pending (its request hangs): the next append must not claim past it.
      const second = await append([message('second')])
      expect(second.claimed).toEqual([])
      expect(second.unclaimed).toBe(true)
      // A type the webhook does not want is never pending, so it neither claims nor waits.
      const filtered = await append([{ type: 'messages.update', data: { updates: [] } } as never])
      expect(filtered).toMatchObject({ claimed: [], unclaimed: false })

      const rows = (await listEvents(database.db, { tenantId, limit: 10 })).data
      expect(rows.map((event) => [event.seq, event.delivery.status, event.delivery.attempts])).toEqual([
        [1, 'pending', 1],
        [2, 'pending', 0],
        [3, 'none', 0],
      ])
      await expect(
        appendAndClaimEvents(
          database,
          { sessionId, epoch: 7, events: [message('fenced')] },
          webhooks.claimLeaseMs,
        ),
      ).rejects.toThrow(/stale/i)
    })

    it('fast path: a status update moves its message and claims its event in one transaction', async () => {
      const receiver = await receiverFor()
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
      const webhooks = await dispatcher({ pollIntervalMs: 600_000, requestTimeoutMs: 10_000 })
      const chatId = '6281400000001@s.whatsapp.net'
      await database.rows(sql`INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, wa_message_id, text, status)
        VALUES (${`msg_${sessionId}`}, ${tenantId}, ${sessionId}, 'out', ${chatId}, 'WA1', 'hi', 'sending')`)
      const statusOf = async () =>
        (
          await database.rows<{ status: string }>(
            sql`SELECT status FROM messages WHERE session_id = ${sessionId} AND wa_message_id = 'WA1'`,
          )
        )[0]?.status
      const record = (status: 'sent' | 'delivered', epoch = 1) =>
        recordStatusUpdates(database, {
          sessionId,
          epoch,
          updates: [{ waMessageId: 'WA1', chatId, status }],
          claimLeaseMs: webhooks.claimLeaseMs,
        })

      const sent = await record('sent')
      expect(sent?.claimed.map((row) => row.id)).toEqual(sent?.envelopes.map((event) => event.id))
      expect(sent?.unclaimed).toBe(false)
      expect(await statusOf()).toBe('sent')
      webhooks.deliverClaimed(sent!.claimed)
      await waitUntil('the update is delivered', () => receiver.acknowledged().length === 1)
      expect(receiver.acknowledged()[0]).toMatchObject({ sessionId, seq: 1, type: 'messages.update' })

      // Nothing moves backwards or twice: no event, nothing to deliver.
      expect(await record('sent')).toBeUndefined()
      // A stale owner changes neither the message nor the outbox: the row update rolls back with the append.
      await expect(record('delivered', 7)).rejects.toThrow(/stale/i)
      expect(await statusOf()).toBe('sent')
      expect((await listEvents(database.db, { tenantId, limit: 10 })).data).toHaveLength(1)
    })

    it('fast path: claimed events go out in seq order with no claim query, once, even beside a polling dispatcher', async () => {
      const receiver = await receiverFor()
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
      const fast = await dispatcher({ pollIntervalMs: 600_000, requestTimeoutMs: 10_000 })
      const second = test ? openDatabase({ url: test.url }) : database
      if (second !== database) cleanups.push(() => second.close())
      // Polls all the time: it would send anything the fast path's claims did not cover.
      const poller = await dispatcher({ pollIntervalMs: 5, requestTimeoutMs: 10_000 }, second)
      let claimedAtAppend = 0
      for (let n = 0; n < 12; n++) {
        const result = await appendAndClaimEvents(
          database,
          { sessionId, epoch: 1, events: [message(`m${n}`), message(`m${n}b`)] },
          fast.claimLeaseMs,
        )
        claimedAtAppend += result.claimed.length
        fast.deliverClaimed(result.claimed)
        if (result.unclaimed) poller.notify()
      }
      await waitUntil('all 24 arrive', () => receiver.acknowledged().length === 24)
      await waitUntil(
        'all rows are delivered',
        async () => (await deliveryCounts(database, tenantId)).delivered === 24,
      )
      expect(claimedAtAppend).toBeGreaterThan(0)
      const ids = receiver.received.map((request) => request.headers['webhook-id'])
      expect(new Set(ids).size).toBe(24)
      expect(acknowledgedSeqs(receiver).get(sessionId)).toEqual(oneToN(24))
    })

    it('fast path: a stopped dispatcher hands claimed events back and another one sends them', async () => {
      const receiver = await receiverFor()
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
      const stopped = createWebhookDispatcher({
        database,
        secretBox,
        logger: silentLogger,
        outboundPolicy: testOutboundPolicy,
        options: FAST,
      })
      const result = await appendAndClaimEvents(
        database,
        { sessionId, epoch: 1, events: [message('handed back')] },
        stopped.claimLeaseMs,
      )
      expect(result.claimed).toHaveLength(1)
      stopped.deliverClaimed(result.claimed)
      await waitUntil('the claim is handed back', async () => {
        const [event] = (await listEvents(database.db, { tenantId, limit: 1 })).data
        return event?.delivery.attempts === 0
      })
      const other = await dispatcher()
      other.notify()
      await waitUntil('the event arrives', () => receiver.acknowledged().length === 1)
      expect(receiver.received).toHaveLength(1)
    })

    it('has idempotent start and stop, and sends what was committed while stopped', async () => {
      const receiver = await receiverFor()
      const tenantId = await seedTenant(database)
      const sessionId = await seedSession(database, tenantId)
      await seedWebhook(database, secretBox, { tenantId, url: receiver.url })
      const webhooks = createWebhookDispatcher({
        database,
        secretBox,
        logger: silentLogger,
        outboundPolicy: testOutboundPolicy,
        options: FAST,
      })
      cleanups.push(() => webhooks.stop())
      await webhooks.stop()
      await appendEvent(database.db, { sessionId, ...message('while stopped') })
      webhooks.notify()
      await webhooks.start()
      await webhooks.start()
      await waitUntil('the event arrives', () => receiver.acknowledged().length === 1)
      // Stopping while the answer is on its way would hand the event back (at-least-once) and send it again.
      await waitUntil(
        'the event is recorded delivered',
        async () => (await deliveryCounts(database, tenantId)).delivered === 1,
      )
      await Promise.all([webhooks.stop(), webhooks.stop()])
      await appendEvent(database.db, { sessionId, ...message('after stop') })
      webhooks.notify()
      await webhooks.start()
      await waitUntil('the second event arrives', () => receiver.acknowledged().length === 2)
      expect(acknowledgedSeqs(receiver).get(sessionId)).toEqual([1, 2])
    })
  })
}

dispatcherContract('postgres')
dispatcherContract('pglite')
