import { appendEvent } from '@wa-cluster/core'
import { events } from '@wa-cluster/db'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let key: string
let sessionId: string
let otherSessionId: string
const eventIds: string[] = []

beforeAll(async () => {
  api = await createTestApi('cp_events')
  key = (await createTenantThroughApi(api, 'Events')).apiKey
  sessionId = (await api.call('POST', '/v1/sessions', { key, body: {} })).body.id
  otherSessionId = (await api.call('POST', '/v1/sessions', { key, body: {} })).body.id
  // Events as a session-node writes them (no node runs here).
  for (const state of ['CONNECTING', 'QR_READY', 'CONNECTED'] as const) {
    const event = await appendEvent(api.ctx.database.db, {
      sessionId,
      type: 'connection.update',
      data: { state, previousState: 'DISCONNECTED' },
    })
    eventIds.push(event.id)
  }
  const inbound = await appendEvent(api.ctx.database.db, {
    sessionId: otherSessionId,
    type: 'messages.upsert',
    data: {
      messages: [
        {
          id: 'ABC',
          waMessageId: 'ABC',
          chatId: '6281@s.whatsapp.net',
          from: '6281@s.whatsapp.net',
          fromMe: false,
          timestamp: 1,
          type: 'text',
          text: 'halo',
        },
      ],
    },
  })
  eventIds.push(inbound.id)
})
afterAll(async () => {
  await api?.close()
})

describe('events', () => {
  it('pages through events with a cursor, in order, with envelope and delivery fields', async () => {
    const first = await api.call('GET', '/v1/events?limit=2', { key })
    expect(first.status).toBe(200)
    expect(first.body.data.map((event: { id: string }) => event.id)).toEqual(eventIds.slice(0, 2))
    expect(first.body.nextCursor).toBe(eventIds[1])
    expect(first.body.data[0]).toMatchObject({
      id: eventIds[0],
      type: 'connection.update',
      sessionId,
      seq: 1,
      occurredAt: expect.any(String),
      data: { state: 'CONNECTING' },
      delivery: { status: 'none', attempts: 0 },
    })
    const second = await api.call('GET', `/v1/events?limit=2&after=${first.body.nextCursor}`, { key })
    expect(second.body.data.map((event: { id: string }) => event.id)).toEqual(eventIds.slice(2, 4))
    const last = await api.call('GET', `/v1/events?limit=2&after=${eventIds[3]}`, { key })
    expect(last.body).toEqual({ data: [], nextCursor: null })
  })

  it('filters by session and type', async () => {
    const bySession = await api.call('GET', `/v1/events?sessionId=${otherSessionId}`, { key })
    expect(bySession.body.data.map((event: { id: string }) => event.id)).toEqual([eventIds[3]])
    const byType = await api.call('GET', '/v1/events?type=connection.update', { key })
    expect(byType.body.data).toHaveLength(3)
  })

  it('redelivers one event and every dead event, answering counts', async () => {
    await api.ctx.database.db
      .update(events)
      .set({ delivery: 'dead', attempts: 12, lastError: 'HTTP 500' })
      .where(eq(events.id, eventIds[0]!))
    await api.ctx.database.db
      .update(events)
      .set({ delivery: 'dead', attempts: 12 })
      .where(eq(events.id, eventIds[1]!))
    const one = await api.call('POST', `/v1/events/${eventIds[0]}/redeliver`, { key })
    expect(one.status).toBe(200)
    expect(one.body).toEqual({ redelivered: 1 })
    const [row] = await api.ctx.database.db.select().from(events).where(eq(events.id, eventIds[0]!))
    expect(row).toMatchObject({ delivery: 'pending', attempts: 0, lastError: null })

    const bulk = await api.call('POST', '/v1/events/redeliver', { key, body: { status: 'dead' } })
    expect(bulk.status).toBe(200)
    expect(bulk.body).toEqual({ redelivered: 1 })
    const again = await api.call('POST', '/v1/events/redeliver', { key, body: { status: 'dead' } })
    expect(again.body).toEqual({ redelivered: 0 })
  })

  it('rejects bad pagination and redelivery input with the field, changing nothing', async () => {
    const before = await snapshotDatabase(api)
    const queries: [string, string][] = [
      ['limit=0', 'query.limit'],
      ['limit=201', 'query.limit'],
      ['limit=abc', 'query.limit'],
      ['limit=1.5', 'query.limit'],
      ['limit=-3', 'query.limit'],
      ['after=not-a-cursor', 'query.after'],
      ['after=evt_%00', 'query.after'],
      ['sessionId=abc', 'query.sessionId'],
      ['type=message.sent', 'query.type'],
    ]
    for (const [query, field] of queries) {
      const response = await api.call('GET', `/v1/events?${query}`, { key })
      expect(response.status, query).toBe(400)
      expect(response.body.error, query).toMatchObject({ code: 'validation_failed', field })
    }
    for (const body of [{}, { status: 'pending' }, { status: 'dead', extra: true }]) {
      const response = await api.call('POST', '/v1/events/redeliver', { key, body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(response.body.error.code).toBe('validation_failed')
    }
    const invalid = await api.call('POST', '/v1/events/redeliver', {
      key,
      rawBody: '{',
      headers: { 'content-type': 'application/json' },
    })
    expect(invalid.body.error.code).toBe('invalid_json')
    expect((await api.call('POST', '/v1/events/evt_unknown/redeliver', { key })).status).toBe(404)
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})
