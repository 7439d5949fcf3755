import { createHmac } from 'node:crypto'
import { appendEvent } from '@wa-cluster/core'
import type { EventType } from '@wa-cluster/shared'
import { Webhook } from 'standardwebhooks'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  type TestApi,
} from '../../../control-plane/test/support/test-context.js'
import {
  createWebhookDispatcher,
  type WebhookDispatcher,
} from '../../../session-node/src/webhooks/dispatcher.js'
import { type Receiver, silentLogger, startReceiver, waitUntil } from '../../../test-support/seed.js'

// Several webhook endpoints per tenant, end to end: the API (in process) creates and changes them, the
// session-node's dispatcher (in process, same database) delivers, real HTTP receivers verify. Events are
// appended to the outbox the way an owner appends them.

let api: TestApi
let key: string
let dispatcher: WebhookDispatcher
const cleanups: (() => Promise<void>)[] = []

beforeAll(async () => {
  api = await createTestApi('aio_webhook_endpoints')
  ;({ apiKey: key } = await createTenantThroughApi(api, 'Endpoints'))
  dispatcher = createWebhookDispatcher({
    database: api.ctx.database,
    secretBox: api.ctx.secretBox,
    logger: silentLogger,
    outboundPolicy: api.ctx.outboundPolicy,
    // Short timings so retries happen within a test; nothing here asserts how long anything took.
    options: {
      requestTimeoutMs: 2_000,
      backoffBaseMs: 5,
      backoffCapMs: 10,
      pollIntervalMs: 20,
      maxAttempts: 3,
    },
  })
  await dispatcher.start()
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await dispatcher?.stop()
  await api?.close()
})

async function receiver(respond?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(respond)
  cleanups.push(() => started.close())
  return started
}

async function createSession(body: Record<string, unknown> = {}) {
  const response = await api.call('POST', '/v1/sessions', { key, body })
  expect(response.status, response.text).toBe(201)
  return response.body as {
    id: string
    webhookEndpoint?: { id: string; secret: string; sessionIds: string[] }
  }
}

async function createEndpoint(body: Record<string, unknown>) {
  const response = await api.call('POST', '/v1/webhooks', { key, body })
  expect(response.status, response.text).toBe(201)
  return response.body as { id: string; secret: string; url: string }
}

async function emit(sessionId: string, type: EventType, text = 'hi') {
  const data =
    type === 'messages.upsert'
      ? {
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
        }
      : { state: 'CONNECTING', previousState: 'DISCONNECTED' }
  const envelope = await appendEvent(api.ctx.database.db, { sessionId, type, data } as Parameters<
    typeof appendEvent
  >[1])
  dispatcher.notify()
  return envelope
}

const bodies = (target: Receiver) =>
  target.received.map(
    (request) => JSON.parse(request.body) as { id: string; type: string; sessionId: string },
  )

describe('webhook endpoints', () => {
  it('delivers to each endpoint what its events and sessionIds filters want, with its headers and both signatures', async () => {
    const [filtered, everything, perSession] = [await receiver(), await receiver(), await receiver()]
    const one = await createSession({ name: 'one' })
    const two = await createSession({ name: 'two', webhookUrl: perSession.url })
    expect(two.webhookEndpoint).toMatchObject({ sessionIds: [two.id] })
    const narrow = await createEndpoint({
      url: filtered.url,
      events: ['messages.upsert'],
      sessionIds: [one.id],
      headers: { 'X-Api-Key': 'receiver-token' },
      hubSignature: true,
    })
    const wide = await createEndpoint({ url: everything.url })

    const wanted = await emit(one.id, 'messages.upsert', 'for everyone')
    const connection = await emit(one.id, 'connection.update')
    const other = await emit(two.id, 'messages.upsert', 'session two')
    await waitUntil(
      'every endpoint has its events',
      () =>
        everything.received.length === 3 &&
        filtered.received.length === 1 &&
        perSession.received.length === 1,
    )

    expect(bodies(filtered).map((event) => event.id)).toEqual([wanted.id])
    // Across sessions the order is free; within one it is seq order.
    const wideIds = bodies(everything).map((event) => event.id)
    expect([...wideIds].sort()).toEqual([wanted.id, connection.id, other.id].sort())
    expect(wideIds.indexOf(wanted.id)).toBeLessThan(wideIds.indexOf(connection.id))
    expect(bodies(perSession).map((event) => event.id)).toEqual([other.id])

    const [request] = filtered.received
    expect(request!.headers['x-api-key']).toBe('receiver-token')
    expect(new Webhook(narrow.secret).verify(request!.body, request!.headers)).toMatchObject({
      id: wanted.id,
    })
    // Meta's scheme: hex HMAC-SHA256 of the raw body, keyed with the secret string as the API returned it.
    const hub = `sha256=${createHmac('sha256', narrow.secret).update(request!.body).digest('hex')}`
    expect(request!.headers['x-hub-signature-256']).toBe(hub)
    for (const each of everything.received) {
      expect(() => new Webhook(wide.secret).verify(each.body, each.headers)).not.toThrow()
      expect(each.headers['x-hub-signature-256']).toBeUndefined()
      expect(() => new Webhook(narrow.secret).verify(each.body, each.headers)).toThrow()
    }
    expect(() =>
      new Webhook(two.webhookEndpoint!.secret).verify(
        perSession.received[0]!.body,
        perSession.received[0]!.headers,
      ),
    ).not.toThrow()

    const deliveries = await api.call('GET', `/v1/webhooks/${narrow.id}/deliveries`, { key })
    expect(deliveries.body.data).toEqual([
      expect.objectContaining({ eventId: wanted.id, status: 'delivered', attempts: 1, lastError: null }),
    ])
  })

  it('rotation keeps the old secret signing for the grace period, and not after a rotation without one', async () => {
    const target = await receiver()
    const session = await createSession()
    const endpoint = await createEndpoint({ url: target.url, sessionIds: [session.id] })
    const rotated = await api.call('POST', `/v1/webhooks/${endpoint.id}/rotate-secret`, {
      key,
      body: { gracePeriodSeconds: 3600 },
    })
    expect(rotated.status, rotated.text).toBe(200)
    expect(rotated.body.secret).not.toBe(endpoint.secret)
    expect(rotated.body.previousSecretExpiresAt).toEqual(expect.any(String))

    await emit(session.id, 'messages.upsert', 'during grace')
    await waitUntil('the event arrives', () => target.received.length === 1)
    const during = target.received[0]!
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2)
    expect(() => new Webhook(rotated.body.secret).verify(during.body, during.headers)).not.toThrow()
    expect(() => new Webhook(endpoint.secret).verify(during.body, during.headers)).not.toThrow()

    const again = await api.call('POST', `/v1/webhooks/${endpoint.id}/rotate-secret`, {
      key,
      body: { gracePeriodSeconds: 0 },
    })
    expect(again.body.previousSecretExpiresAt).toBeNull()
    await emit(session.id, 'messages.upsert', 'after grace')
    await waitUntil('the event arrives', () => target.received.length === 2)
    const after = target.received[1]!
    expect(() => new Webhook(again.body.secret).verify(after.body, after.headers)).not.toThrow()
    expect(() => new Webhook(rotated.body.secret).verify(after.body, after.headers)).toThrow()
  })

  it('dead letters and redelivery are per endpoint; lastError holds the status, never the body', async () => {
    const healthy = await receiver()
    const failing = await receiver(() => 500)
    const session = await createSession()
    const good = await createEndpoint({ url: healthy.url, sessionIds: [session.id] })
    const bad = await createEndpoint({ url: failing.url, sessionIds: [session.id] })
    const event = await emit(session.id, 'messages.upsert', 'one event, two endpoints')

    await waitUntil('the failing endpoint dead-letters it', async () => {
      const page = await api.call('GET', `/v1/webhooks/${bad.id}/deliveries?status=dead`, { key })
      return page.body.data.length === 1
    })
    const dead = (await api.call('GET', `/v1/webhooks/${bad.id}/deliveries`, { key })).body.data[0]
    expect(dead).toMatchObject({
      eventId: event.id,
      status: 'dead',
      attempts: 3,
      lastError: 'HTTP 500',
      lastStatus: 500,
    })
    expect(healthy.received).toHaveLength(1)
    expect((await api.call('GET', `/v1/webhooks/${good.id}/deliveries`, { key })).body.data[0]).toMatchObject(
      {
        status: 'delivered',
      },
    )

    failing.respond = () => 204
    const redelivered = await api.call('POST', `/v1/webhooks/${bad.id}/redeliver`, {
      key,
      body: { status: 'dead' },
    })
    expect(redelivered.body).toEqual({ redelivered: 1 })
    dispatcher.notify()
    await waitUntil('the redelivery arrives', () => failing.acknowledged().length === 1)
    expect(healthy.received).toHaveLength(1)

    // One delivered event, sent again to this endpoint only.
    const one = await api.call('POST', `/v1/webhooks/${good.id}/deliveries/${event.id}/redeliver`, { key })
    expect(one.body).toEqual({ redelivered: 1 })
    dispatcher.notify()
    await waitUntil('the single redelivery arrives', () => healthy.received.length === 2)
    expect(failing.acknowledged()).toHaveLength(1)
  })

  it('POST /test sends a signed webhook.test event and reports the answer without its body', async () => {
    const target = await receiver()
    const endpoint = await createEndpoint({ url: target.url, enabled: false, hubSignature: true })
    const answered = await api.call('POST', `/v1/webhooks/${endpoint.id}/test`, { key })
    expect(answered.body).toEqual({ delivered: true, status: 200, reason: null })
    const [request] = target.received
    expect(new Webhook(endpoint.secret).verify(request!.body, request!.headers)).toMatchObject({
      type: 'webhook.test',
      data: { webhookId: endpoint.id },
    })
    expect(request!.headers['x-hub-signature-256']).toBe(
      `sha256=${createHmac('sha256', endpoint.secret).update(request!.body).digest('hex')}`,
    )

    target.respond = () => 503
    const refused = await api.call('POST', `/v1/webhooks/${endpoint.id}/test`, { key })
    expect(refused.body).toEqual({ delivered: false, status: 503, reason: 'HTTP 503' })
    expect(refused.text).not.toContain('nope')
  })

  it('a disabled endpoint gets no deliveries; a deleted session takes its endpoint with it', async () => {
    const target = await receiver()
    const session = await createSession({ webhookUrl: target.url })
    const endpointId = session.webhookEndpoint!.id
    const disabled = await api.call('PATCH', `/v1/webhooks/${endpointId}`, { key, body: { enabled: false } })
    expect(disabled.body).toMatchObject({ enabled: false, sessionIds: [session.id] })
    await emit(session.id, 'messages.upsert', 'while disabled')
    const witness = await receiver()
    await createEndpoint({ url: witness.url, sessionIds: [session.id] })
    await emit(session.id, 'messages.upsert', 'witness')
    await waitUntil('the witness endpoint has its event', () => witness.received.length === 1)
    expect(target.received).toHaveLength(0)
    expect((await api.call('GET', `/v1/webhooks/${endpointId}/deliveries`, { key })).body.data).toEqual([])

    expect((await api.call('DELETE', `/v1/sessions/${session.id}`, { key })).status).toBe(204)
    expect((await api.call('GET', `/v1/webhooks/${endpointId}`, { key })).status).toBe(404)
  })

  it('the default endpoint (/v1/webhook) keeps its rotated-out secret signing for the grace period', async () => {
    const target = await receiver()
    const session = await createSession()
    const first = await api.call('PUT', '/v1/webhook', { key, body: { url: target.url } })
    const rotated = await api.call('PUT', '/v1/webhook', {
      key,
      body: { url: target.url, rotateSecret: true, gracePeriodSeconds: 3600 },
    })
    expect(rotated.body.secret).not.toBe(first.body.secret)
    await emit(session.id, 'messages.upsert', 'default endpoint during grace')
    await waitUntil('the event arrives', () =>
      target.received.some((request) => request.body.includes(session.id)),
    )
    const during = target.received.find((request) => request.body.includes(session.id))!
    expect(() => new Webhook(rotated.body.secret).verify(during.body, during.headers)).not.toThrow()
    expect(() => new Webhook(first.body.secret).verify(during.body, during.headers)).not.toThrow()
    // The default endpoint goes away again, so later tests see only their own endpoints.
    expect((await api.call('DELETE', '/v1/webhook', { key })).status).toBe(204)
  })

  it('never echoes a URL password, and refuses reserved headers and private targets, changing nothing', async () => {
    // Nothing may change the tables behind the snapshot while it is compared: no deliveries from here on.
    await dispatcher.stop()
    const created = await createEndpoint({ url: 'https://hooks:s3cr3t-pass@example.com/in' })
    expect(created.url).toBe('https://hooks:****@example.com/in')
    const read = await api.call('GET', `/v1/webhooks/${created.id}`, { key })
    const listed = await api.call('GET', '/v1/webhooks', { key })
    const legacy = await api.call('PUT', '/v1/webhook', {
      key,
      body: { url: 'https://u:pw-123@example.com/x' },
    })
    expect(legacy.body.url).toBe('https://u:****@example.com/x')
    for (const response of [read, listed, legacy]) expect(response.text).not.toMatch(/s3cr3t-pass|pw-123/)

    const before = await snapshotDatabase(api)
    const refusals: [string, Record<string, unknown>, string][] = [
      [
        '/v1/webhooks',
        { url: 'https://example.com/in', headers: { 'Webhook-Signature': 'v1,forged' } },
        'body.headers.Webhook-Signature',
      ],
      ['/v1/webhooks', { url: 'https://example.com/in', headers: { Host: 'internal' } }, 'body.headers.Host'],
      ['/v1/webhooks', { url: 'http://169.254.169.254/latest/meta-data/' }, 'body.url'],
      ['/v1/webhooks', { url: 'http://10.0.0.1/hook' }, 'body.url'],
      ['/v1/sessions', { webhookUrl: 'http://[fd00::1]/hook' }, 'body.webhookUrl'],
    ]
    for (const [path, body, field] of refusals) {
      const response = await api.call('POST', path, { key, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(response.body.error.field, JSON.stringify(body)).toBe(field)
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})
