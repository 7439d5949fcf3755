import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { appendEvent } from '@wa-cluster/core'
import type { EventEnvelope } from '@wa-cluster/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { receivedText, seedSession } from '../../../test-support/seed.js'
import { eventually } from '../../../test-support/wait.js'
import { acceptEventWebSockets } from '../../src/streams/websocket.js'
import { openSse, type SseClient } from '../support/sse-client.js'
import {
  createTenantThroughApi,
  createTestApi,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

// The live stream on a real HTTP server (SSE and WebSocket) over a real Postgres outbox: events are
// appended with the outbox's own append, as the session-node does, and reach the stream through the
// commit announcement (the safety re-read is set far beyond any wait here).

let api: TestApi
let server: Server
let baseUrl: string
let tenantA: { tenantId: string; apiKey: string }
let tenantB: { tenantId: string; apiKey: string }
let sessionA1: string
let sessionA2: string
let sessionB: string
const openClients: { close(): void }[] = []
let textCounter = 0

async function inbound(sessionId: string, text = `text ${++textCounter}`): Promise<EventEnvelope> {
  return appendEvent(api.database.handle.db, {
    sessionId,
    type: 'messages.upsert',
    data: { messages: [receivedText(`wa${textCounter}`, text)] },
  })
}

async function listed(
  apiKey: string,
  after?: string,
): Promise<{ id: string; seq: number; sessionId: string }[]> {
  const all: { id: string; seq: number; sessionId: string }[] = []
  let cursor = after
  for (;;) {
    const query = new URLSearchParams({ limit: '200', ...(cursor ? { after: cursor } : {}) })
    const page = await api.call('GET', `/v1/events?${query}`, { key: apiKey })
    expect(page.status).toBe(200)
    all.push(
      ...page.body.data.map((event: any) => ({ id: event.id, seq: event.seq, sessionId: event.sessionId })),
    )
    if (!page.body.nextCursor) return all
    cursor = page.body.nextCursor
  }
}

const idsAndSeqs = (events: { id: string; seq: number; sessionId: string }[]) =>
  events.map((event) => `${event.sessionId}#${event.seq}:${event.id}`)

async function sse(
  path: string,
  options: { key?: string; headers?: Record<string, string> } = {},
): Promise<SseClient> {
  const client = await openSse(`${baseUrl}${path}`, options)
  openClients.push(client)
  return client
}

async function metricValue(name: string, labels: string): Promise<number> {
  const text = await api.ctx.metrics.getSingleMetricAsString(name)
  const line = text.split('\n').find((each) => each.startsWith(`${name}{${labels}}`))
  return line ? Number(line.split(' ').at(-1)) : 0
}

beforeAll(async () => {
  api = await createTestApi('cp_event_stream', {
    STREAM_HEARTBEAT_MS: 50,
    STREAM_BUFFER_BYTES: 64 * 1024,
    STREAM_REREAD_INTERVAL_MS: 600_000,
  })
  tenantA = await createTenantThroughApi(api, 'Stream A')
  tenantB = await createTenantThroughApi(api, 'Stream B')
  sessionA1 = await seedSession(api.database.handle, tenantA.tenantId)
  sessionA2 = await seedSession(api.database.handle, tenantA.tenantId)
  sessionB = await seedSession(api.database.handle, tenantB.tenantId)
  server = serve({ fetch: api.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', resolve)))
  acceptEventWebSockets(server, api.app)
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const client of openClients) client.close()
  await api?.close()
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
})

describe('GET /v1/events/stream', () => {
  it('replays from ?after=, goes live, and shows exactly what GET /v1/events lists', async () => {
    const first = await inbound(sessionA1)
    await inbound(sessionA2)
    await inbound(sessionA1)
    const stream = await sse(`/v1/events/stream?after=${first.id}`, { key: tenantA.apiKey })
    expect(stream.status).toBe(200)
    await stream.ready()
    await inbound(sessionB) // another tenant's event never shows
    await inbound(sessionA2)
    await inbound(sessionA1)
    await stream.waitForEvents(4)
    const expected = await listed(tenantA.apiKey, first.id)
    expect(expected).toHaveLength(4)
    expect(idsAndSeqs(stream.events.map((event) => event.data))).toEqual(idsAndSeqs(expected))
    // The SSE id is the event id, and the data is the envelope.
    for (const event of stream.events) {
      expect(event.id).toBe(event.data.id)
      expect(event.data.tenantId).toBe(tenantA.tenantId)
      expect(Object.keys(event.data).sort()).toEqual([
        'data',
        'id',
        'occurredAt',
        'seq',
        'sessionId',
        'tenantId',
        'type',
      ])
    }
    stream.close()
  })

  it('resumes after a dropped connection from Last-Event-ID: no gap, no duplicate', async () => {
    const before = await inbound(sessionA1)
    const stream = await sse('/v1/events/stream', { key: tenantA.apiKey })
    await stream.ready()
    for (let index = 0; index < 3; index++) await inbound(index % 2 ? sessionA1 : sessionA2)
    await stream.waitForEvents(3)
    stream.close()
    await stream.ended
    for (let index = 0; index < 4; index++) await inbound(index % 2 ? sessionA1 : sessionA2)
    // EventSource reconnects to the same URL and adds Last-Event-ID; the header wins over ?after=.
    const resumed = await sse(`/v1/events/stream?after=${before.id}`, {
      key: tenantA.apiKey,
      headers: { 'last-event-id': stream.events.at(-1)!.id },
    })
    await resumed.waitForEvents(4)
    await resumed.ready()
    const received = [...stream.events, ...resumed.events].map((event) => event.data)
    expect(idsAndSeqs(received)).toEqual(idsAndSeqs(await listed(tenantA.apiKey, before.id)))
    expect(new Set(received.map((event) => event.id)).size).toBe(received.length)
    resumed.close()
  })

  it('does not skip an event whose transaction commits after a later one', async () => {
    const stream = await sse('/v1/events/stream', { key: tenantA.apiKey })
    await stream.ready()
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let early: EventEnvelope | undefined
    let appended!: () => void
    const appendedEarly = new Promise<void>((resolve) => {
      appended = resolve
    })
    // The early event takes its id first, then its transaction stays open while a later one commits.
    const slowTransaction = api.database.handle.db.transaction(async (tx) => {
      early = await appendEvent(tx, {
        sessionId: sessionA2,
        type: 'connection.update',
        data: { state: 'CONNECTING', previousState: 'DISCONNECTED' },
      })
      appended()
      await held
    })
    await appendedEarly
    const late = await inbound(sessionA1)
    expect(late.id > early!.id).toBe(true)
    // The committed later event is held back while the earlier transaction runs (it may still
    // commit below it); once that commits, both come, earlier first.
    release()
    await slowTransaction
    await stream.waitForEvents(2)
    expect(stream.events.map((event) => event.id)).toEqual([early!.id, late.id])
    // A client that stopped after the later one resumes without losing the earlier one, and vice versa.
    const afterEarly = await sse(`/v1/events/stream?after=${early!.id}`, { key: tenantA.apiKey })
    await afterEarly.ready()
    expect(afterEarly.events.map((event) => event.id)).toEqual([late.id])
    stream.close()
    afterEarly.close()
  })

  it('filters by session and by types', async () => {
    const stream = await sse(`/v1/events/stream?sessionId=${sessionA2}&types=connection.update`, {
      key: tenantA.apiKey,
    })
    await stream.ready()
    await inbound(sessionA2)
    await inbound(sessionA1)
    const wanted = await appendEvent(api.database.handle.db, {
      sessionId: sessionA2,
      type: 'connection.update',
      data: { state: 'CONNECTED', previousState: 'CONNECTING' },
    })
    await appendEvent(api.database.handle.db, {
      sessionId: sessionA1,
      type: 'connection.update',
      data: { state: 'CONNECTED', previousState: 'CONNECTING' },
    })
    const marker = await appendEvent(api.database.handle.db, {
      sessionId: sessionA2,
      type: 'connection.update',
      data: { state: 'DISCONNECTED', previousState: 'CONNECTED' },
    })
    await stream.waitForEvents(2)
    expect(stream.events.map((event) => event.id)).toEqual([wanted.id, marker.id])
    stream.close()
  })

  it('also streams through app.request (no Node response: the web-stream path)', {
    timeout: 30_000,
  }, async () => {
    const response = await api.app.request('/v1/events/stream', {
      headers: { authorization: `Bearer ${tenantA.apiKey}` },
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read()
        if (done) throw new Error(`stream ended before ${needle}`)
        text += decoder.decode(value, { stream: true })
      }
    }
    await readUntil(': ready')
    const event = await inbound(sessionA1)
    await readUntil(`id: ${event.id}\ndata: {"id":"${event.id}"`)
    await reader.cancel()
  })

  it('sends heartbeats while idle', async () => {
    const stream = await sse('/v1/events/stream', { key: tenantB.apiKey })
    await stream.ready()
    await eventually('a heartbeat comment', () => stream.comments.includes('heartbeat'), 10_000)
    stream.close()
  })

  it('answers bad input with 400 naming the field, and a missing key with 401', async () => {
    const badTypes = await sse('/v1/events/stream?types=messages.upsert,bogus', { key: tenantA.apiKey })
    expect(badTypes.status).toBe(400)
    expect(badTypes.body.error.field).toBe('query.types')
    const unknownCursor = await sse('/v1/events/stream?after=evt_doesnotexist', { key: tenantA.apiKey })
    expect(unknownCursor.status).toBe(400)
    expect(unknownCursor.body.error.field).toBe('query.after')
    const badHeader = await sse('/v1/events/stream', {
      key: tenantA.apiKey,
      headers: { 'last-event-id': 'nope' },
    })
    expect(badHeader.status).toBe(400)
    expect(badHeader.body.error.field).toBe('header.last-event-id')
    // Another tenant's event is not a cursor here: it is unknown, like any id of another tenant.
    const other = await inbound(sessionB)
    const foreignCursor = await sse(`/v1/events/stream?after=${other.id}`, { key: tenantA.apiKey })
    expect(foreignCursor.status).toBe(400)
    expect((await sse('/v1/events/stream')).status).toBe(401)
    expect((await sse('/v1/events/stream', { key: TEST_ADMIN_KEY })).status).toBe(403)
  })

  it('drops a client that stops reading once its buffer is full; it resumes with no gap', async () => {
    const stream = await sse('/v1/events/stream', { key: tenantA.apiKey })
    await stream.ready()
    stream.pause()
    const droppedBefore = await metricValue('event_streams_ended_total', 'reason="slow_consumer"')
    const appended: EventEnvelope[] = []
    const bigText = 'x'.repeat(60 * 1024)
    // Loopback sockets buffer megabytes before the server sees any pressure: keep appending until the
    // stream's own bounded queue overflows (at most ~60 MB).
    await eventually(
      'the slow stream to be dropped',
      async () => {
        for (let index = 0; index < 20; index++) appended.push(await inbound(sessionA1, bigText))
        return (await metricValue('event_streams_ended_total', 'reason="slow_consumer"')) > droppedBefore
      },
      120_000,
      0,
    )
    stream.resume()
    await stream.ended
    // What arrived is a gap-free prefix; resuming from its last id brings the rest, once each.
    const received = stream.events.map((event) => event.id)
    expect(received).toEqual(appended.slice(0, received.length).map((event) => event.id))
    expect(received.length).toBeLessThan(appended.length)
    const resumed = await sse('/v1/events/stream', {
      key: tenantA.apiKey,
      headers: received.length > 0 ? { 'last-event-id': received.at(-1)! } : {},
    })
    if (received.length === 0) throw new Error('nothing arrived before the drop')
    await resumed.waitForEvents(appended.length - received.length, 'the rest after the drop', 60_000)
    expect([...received, ...resumed.events.map((event) => event.id)]).toEqual(
      appended.map((event) => event.id),
    )
    resumed.close()
  })
})

describe('stream tokens', () => {
  async function mint(key: string, body: unknown) {
    return api.call('POST', '/v1/stream-tokens', { key, body })
  }

  it('opens the stream of its own tenant only, and no other endpoint', async () => {
    const minted = await mint(tenantA.apiKey, {})
    expect(minted.status).toBe(201)
    const { token, sessionId, expiresAt } = minted.body
    expect(token).toMatch(/^wst_/)
    expect(sessionId).toBeNull()
    expect(Date.parse(expiresAt)).toBeGreaterThan(0)
    const stream = await sse(`/v1/events/stream?token=${token}`)
    expect(stream.status).toBe(200)
    await stream.ready()
    await inbound(sessionB)
    const own = await inbound(sessionA1)
    await stream.waitForEvents(1)
    expect(stream.events.map((event) => event.id)).toEqual([own.id])
    stream.close()
    // Never a key: not as ?token= nor as the bearer on any other endpoint.
    expect((await api.call('GET', `/v1/events?token=${token}`)).status).toBe(401)
    expect((await api.call('GET', '/v1/events', { key: token })).status).toBe(401)
    expect((await api.call('GET', '/v1/sessions', { key: token })).status).toBe(401)
    expect((await api.call('POST', '/v1/stream-tokens', { key: token, body: {} })).status).toBe(401)
    // Tampered: refused.
    const tampered = `${token.slice(0, -4)}${token.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`
    expect((await sse(`/v1/events/stream?token=${tampered}`)).status).toBe(401)
    expect((await sse('/v1/events/stream?token=wak_notatoken')).status).toBe(401)
  })

  it("is limited to its session, and cannot name another tenant's session", async () => {
    const minted = await mint(tenantA.apiKey, { sessionId: sessionA2, ttlSeconds: 60 })
    expect(minted.status).toBe(201)
    expect(minted.body.sessionId).toBe(sessionA2)
    const stream = await sse(`/v1/events/stream?token=${minted.body.token}`)
    await stream.ready()
    await inbound(sessionA1)
    const wanted = await inbound(sessionA2)
    await stream.waitForEvents(1)
    expect(stream.events.map((event) => event.id)).toEqual([wanted.id])
    stream.close()
    const otherSession = await sse(`/v1/events/stream?token=${minted.body.token}&sessionId=${sessionA1}`)
    expect(otherSession.status).toBe(403)
    const foreign = await mint(tenantB.apiKey, { sessionId: sessionA1 })
    expect(foreign.status).toBe(404)
  })

  it('expires: the open stream ends and the token is refused from then on', async () => {
    const minted = await mint(tenantA.apiKey, { ttlSeconds: 1 })
    const stream = await sse(`/v1/events/stream?token=${minted.body.token}`)
    expect(stream.status).toBe(200)
    await stream.ready()
    await stream.ended
    await eventually(
      'the expired token refused',
      async () => (await sse(`/v1/events/stream?token=${minted.body.token}`)).status === 401,
      10_000,
    )
  })

  it('stops working when the key that minted it is revoked', async () => {
    const created = await api.call('POST', `/v1/tenants/${tenantA.tenantId}/api-keys`, {
      key: TEST_ADMIN_KEY,
      body: { name: 'browser' },
    })
    const minted = await mint(created.body.apiKey, { ttlSeconds: 600 })
    expect((await sse(`/v1/events/stream?token=${minted.body.token}`)).status).toBe(200)
    await api.call('DELETE', `/v1/tenants/${tenantA.tenantId}/api-keys/${created.body.id}`, {
      key: TEST_ADMIN_KEY,
    })
    expect((await sse(`/v1/events/stream?token=${minted.body.token}`)).status).toBe(401)
  })

  it('answers bad input with 400 naming the field', async () => {
    for (const [body, field] of [
      [{ ttlSeconds: 0 }, 'body.ttlSeconds'],
      [{ ttlSeconds: 3601 }, 'body.ttlSeconds'],
      [{ ttlSeconds: 1.5 }, 'body.ttlSeconds'],
      [{ ttlSeconds: '60' }, 'body.ttlSeconds'],
      [{ sessionId: 'nope' }, 'body.sessionId'],
      [{ scope: 'all' }, 'body'],
    ] as const) {
      const response = await mint(tenantA.apiKey, body)
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(response.body.error.field, JSON.stringify(body)).toBe(field)
    }
  })
})

describe('GET /v1/events/ws', () => {
  function connect(path: string, key?: string) {
    const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}${path}`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    })
    openClients.push({ close: () => socket.terminate() })
    const messages: any[] = []
    let pings = 0
    socket.on('message', (data) => messages.push(JSON.parse(String(data))))
    socket.on('ping', () => pings++)
    const opened = new Promise<number>((resolve) => {
      socket.once('open', () => resolve(101))
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
      socket.once('error', () => resolve(0))
    })
    return { socket, messages, opened, pings: () => pings }
  }

  it('receives the same events as the SSE stream, and pings while idle', async () => {
    const cursor = await inbound(sessionA1)
    const ws = connect(`/v1/events/ws?after=${cursor.id}`, tenantA.apiKey)
    const stream = await sse(`/v1/events/stream?after=${cursor.id}`, { key: tenantA.apiKey })
    expect(await ws.opened).toBe(101)
    const appended = [await inbound(sessionA2), await inbound(sessionA1), await inbound(sessionB)]
    await stream.waitForEvents(2)
    await eventually('two WebSocket messages', () => ws.messages.length >= 2)
    expect(ws.messages.map((event) => event.id)).toEqual(appended.slice(0, 2).map((event) => event.id))
    expect(ws.messages).toEqual(stream.events.map((event) => event.data))
    await eventually('a ping', () => ws.pings() > 0, 10_000)
    ws.socket.close()
    stream.close()
  })

  it('takes a stream token, and refuses what the SSE stream refuses', async () => {
    const minted = await api.call('POST', '/v1/stream-tokens', {
      key: tenantB.apiKey,
      body: { sessionId: sessionB },
    })
    const cursor = await inbound(sessionB)
    const ws = connect(`/v1/events/ws?after=${cursor.id}&token=${minted.body.token}`)
    expect(await ws.opened).toBe(101)
    await inbound(sessionA1)
    const own = await inbound(sessionB)
    await eventually('the WebSocket message', () => ws.messages.length >= 1)
    expect(ws.messages.map((event) => event.id)).toEqual([own.id])
    ws.socket.close()
    expect(await connect('/v1/events/ws').opened).toBe(401)
    expect(await connect('/v1/events/ws?types=nope', tenantA.apiKey).opened).toBe(400)
    expect(await connect(`/v1/events/ws?after=${cursor.id}`, tenantA.apiKey).opened).toBe(400)
    // Without an upgrade it says what it is.
    const plain = await api.call('GET', '/v1/events/ws', { key: tenantA.apiKey })
    expect(plain.status).toBe(400)
    expect(plain.body.error.message).toContain('WebSocket')
  })
})

describe('a WebSocket client that stops reading', () => {
  // Heartbeats far apart here: a paused client also misses pings, and this test is about the buffer.
  let quiet: TestApi
  let quietServer: Server

  afterAll(async () => {
    await quiet?.close()
    quietServer?.closeAllConnections()
    await new Promise((resolve) => quietServer?.close(resolve))
  })

  it('is dropped once its buffer is full, and resumes with no gap', async () => {
    quiet = await createTestApi('cp_event_stream_ws', {
      STREAM_HEARTBEAT_MS: 600_000,
      STREAM_BUFFER_BYTES: 64 * 1024,
      STREAM_REREAD_INTERVAL_MS: 600_000,
    })
    const tenant = await createTenantThroughApi(quiet, 'Slow WS')
    const sessionId = await seedSession(quiet.database.handle, tenant.tenantId)
    quietServer = serve({ fetch: quiet.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
    await new Promise<void>((resolve) =>
      quietServer.listening ? resolve() : quietServer.once('listening', resolve),
    )
    acceptEventWebSockets(quietServer, quiet.app)
    const wsUrl = `ws://127.0.0.1:${(quietServer.address() as AddressInfo).port}/v1/events/ws`
    const append = (text: string) =>
      appendEvent(quiet.database.handle.db, {
        sessionId,
        type: 'messages.upsert',
        data: {
          messages: [
            {
              id: 'wa',
              waMessageId: 'wa',
              chatId: 'c',
              from: 'c',
              fromMe: false,
              timestamp: 1,
              type: 'text',
              text,
            },
          ],
        },
      })
    const dropped = async () => {
      const text = await quiet.ctx.metrics.getSingleMetricAsString('event_streams_ended_total')
      return text.includes('reason="slow_consumer"')
    }
    const cursor = await append('cursor')
    const socket = new WebSocket(`${wsUrl}?after=${cursor.id}`, {
      headers: { authorization: `Bearer ${tenant.apiKey}` },
    })
    const received: string[] = []
    socket.on('message', (data) => received.push(JSON.parse(String(data)).id))
    const closed = new Promise((resolve) => socket.once('close', resolve))
    await new Promise((resolve) => socket.once('open', resolve))
    socket.pause()
    const appended: string[] = []
    const bigText = 'y'.repeat(60 * 1024)
    await eventually(
      'the slow WebSocket to be dropped',
      async () => {
        for (let index = 0; index < 20; index++) appended.push((await append(bigText)).id)
        return dropped()
      },
      120_000,
      0,
    )
    socket.resume()
    await closed
    expect(received.length).toBeLessThan(appended.length)
    expect(received).toEqual(appended.slice(0, received.length))
    const resumed = new WebSocket(`${wsUrl}?after=${received.at(-1) ?? cursor.id}`, {
      headers: { authorization: `Bearer ${tenant.apiKey}` },
    })
    const rest: string[] = []
    resumed.on('message', (data) => rest.push(JSON.parse(String(data)).id))
    await eventually(
      'the rest after the drop',
      () => received.length + rest.length >= appended.length,
      60_000,
    )
    expect([...received, ...rest]).toEqual(appended)
    resumed.terminate()
  })
})
