import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  appendEvent,
  createOutboundPolicy,
  endpointSealingContext,
  generateWebhookSecret,
  type HostResolver,
  listEvents,
  type OutboundPolicy,
} from '@wa-cluster/core'
import { newId } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import {
  createTestSecretBox,
  seedSession,
  seedTenant,
  seedWebhook,
  silentLogger,
  startReceiver,
  waitUntil,
} from '../../../test-support/seed.js'
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js'

// The dispatcher's side of the outbound guard (issue 13): it connects only where the policy allows,
// judging the address it actually connects to, follows no redirect and keeps no response body.

/** Fixed answers for names the test invents, so "a name resolving to loopback" needs no DNS server. */
const answers =
  (table: Record<string, string>): HostResolver =>
  async (hostname) => {
    const address = table[hostname]
    if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return [{ address, family: 4 }]
  }

const event = (text: string) => ({
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

describe('webhook dispatcher outbound guard', () => {
  let test: TestDatabase
  const secretBox = createTestSecretBox()
  const cleanups: (() => Promise<void>)[] = []

  beforeAll(async () => {
    test = await createTestDatabase('webhook_ssrf')
  })
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  afterAll(async () => {
    await test?.drop()
  })

  async function dispatcherWith(outboundPolicy: OutboundPolicy) {
    const dispatcher = createWebhookDispatcher({
      database: test.handle,
      secretBox,
      logger: silentLogger,
      outboundPolicy,
      options: {
        requestTimeoutMs: 2_000,
        backoffBaseMs: 5,
        backoffCapMs: 10,
        pollIntervalMs: 20,
        maxAttempts: 2,
      },
    })
    await dispatcher.start()
    cleanups.push(() => dispatcher.stop())
    return dispatcher
  }

  /** A tenant whose webhook is `url`, with one event appended; returns the event's delivery once dead. */
  async function deadDelivery(url: string, policy: OutboundPolicy) {
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    await seedWebhook(test.handle, secretBox, { tenantId, url })
    await appendEvent(test.handle.db, { sessionId, ...event('probe') })
    ;(await dispatcherWith(policy)).notify()
    let delivery: Awaited<ReturnType<typeof listEvents>>['data'][number]['delivery'] | undefined
    await waitUntil('the event is dead-lettered', async () => {
      delivery = (await listEvents(test.handle.db, { tenantId, limit: 1 })).data[0]?.delivery
      return delivery?.status === 'dead'
    })
    return delivery!
  }

  it('refuses a name that resolves to loopback, and a loopback literal, without connecting', async () => {
    const receiver = await startReceiver()
    cleanups.push(() => receiver.close())
    const port = new URL(receiver.url).port
    const strict = createOutboundPolicy('', { resolveHost: answers({ 'rebind.example': '127.0.0.1' }) })

    const byName = await deadDelivery(`http://rebind.example:${port}/hook`, strict)
    expect(byName).toMatchObject({ attempts: 2, lastError: 'target refused: loopback address' })
    const byLiteral = await deadDelivery(`http://127.1:${port}/hook`, strict)
    expect(byLiteral).toMatchObject({ attempts: 2, lastError: 'target refused: loopback address' })
    expect(receiver.received).toHaveLength(0)
  })

  it('guards the endpoints of /v1/webhooks the same way: refused at connect, a fixed reason stored', async () => {
    const receiver = await startReceiver()
    cleanups.push(() => receiver.close())
    const port = new URL(receiver.url).port
    const strict = createOutboundPolicy('', { resolveHost: answers({ 'rebind.example': '127.0.0.1' }) })
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    const endpointId = newId('whe')
    const sealed = secretBox.seal(
      Buffer.from(generateWebhookSecret()),
      endpointSealingContext(tenantId, endpointId),
    )
    await test.handle.rows(sql`
      INSERT INTO webhook_endpoints (id, tenant_id, url, secret_sealed)
      VALUES (${endpointId}, ${tenantId}, ${`http://rebind.example:${port}/hook`}, ${sealed})`)
    await appendEvent(test.handle.db, { sessionId, ...event('endpoint probe') })
    ;(await dispatcherWith(strict)).notify()
    await waitUntil('the endpoint delivery is dead-lettered', async () => {
      const [row] = await test.handle.rows<{ status: string }>(
        sql`SELECT status FROM webhook_deliveries WHERE endpoint_id = ${endpointId}`,
      )
      return row?.status === 'dead'
    })
    const [delivery] = await test.handle.rows<{ last_error: string; last_status: number | null }>(
      sql`SELECT last_error, last_status FROM webhook_deliveries WHERE endpoint_id = ${endpointId}`,
    )
    expect(delivery).toEqual({ last_error: 'target refused: loopback address', last_status: null })
    expect(receiver.received).toHaveLength(0)
  })

  it('connects to the address its own lookup checked: an allowed CIDR reaches a name resolving there', async () => {
    const receiver = await startReceiver()
    cleanups.push(() => receiver.close())
    const port = new URL(receiver.url).port
    // hooks.example exists only in this resolver: a delivery proves the connection used it.
    const allowed = createOutboundPolicy('127.0.0.0/8', {
      resolveHost: answers({ 'hooks.example': '127.0.0.1' }),
    })
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    await seedWebhook(test.handle, secretBox, { tenantId, url: `http://hooks.example:${port}/hook` })
    await appendEvent(test.handle.db, { sessionId, ...event('allowed') })
    ;(await dispatcherWith(allowed)).notify()
    await waitUntil('the event arrives', () => receiver.acknowledged().length === 1)
    expect(receiver.received[0]!.headers.host).toBe(`hooks.example:${port}`)
  })

  it('stores the status and a fixed reason, never the body, and follows no redirect', async () => {
    const allowLoopback = createOutboundPolicy('127.0.0.0/8')
    const leaky = await startReceiver(() => 500)
    cleanups.push(() => leaky.close())
    leaky.respond = () => 500
    const failed = await deadDelivery(leaky.url, allowLoopback)
    expect(failed.lastError).toBe('HTTP 500')

    const target = await startReceiver()
    cleanups.push(() => target.close())
    const redirecting = createServer((request, response) => {
      request.resume()
      request.on('end', () =>
        response.writeHead(302, { location: target.url }).end('internal banner: redis 7.2 on 10.0.0.5'),
      )
    })
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve))
    cleanups.push(async () => {
      redirecting.closeAllConnections()
      await new Promise((resolve) => redirecting.close(resolve))
    })
    const redirected = await deadDelivery(
      `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hook`,
      allowLoopback,
    )
    expect(redirected.lastError).toBe('HTTP 302 (redirects are not followed)')
    expect(target.received).toHaveLength(0)
  })
})
