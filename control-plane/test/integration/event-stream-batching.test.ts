import { setTimeout as sleep } from 'node:timers/promises'
import { appendEvent } from '@wa-cluster/core'
import type { EventEnvelope } from '@wa-cluster/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { receivedText, seedSession } from '../../../test-support/seed.js'
import { openSse, type SseClient } from '../support/sse-client.js'
import { createTenantThroughApi, createTestApi, type TestApi } from '../support/test-context.js'

// STREAM_BATCH_MS: a feed reads at once when idle, and what commits within the gap after a read goes to
// the streams in the next read, one write per stream. The gap is long here (three times what the three
// spaced appends below take) so the batch does not depend on the machine's speed.

const BATCH_MS = 1_500

let api: TestApi
let baseUrl: string
let tenant: { tenantId: string; apiKey: string }
let sessionId: string
const clients: SseClient[] = []
let counter = 0

async function inbound(): Promise<EventEnvelope> {
  counter++
  return appendEvent(api.database.handle.db, {
    sessionId,
    type: 'messages.upsert',
    data: { messages: [receivedText(`wa${counter}`, `batched ${counter}`)] },
  })
}

beforeAll(async () => {
  api = await createTestApi('cp_event_stream_batching', {
    STREAM_BATCH_MS: BATCH_MS,
    STREAM_HEARTBEAT_MS: 600_000,
    STREAM_REREAD_INTERVAL_MS: 600_000,
  })
  tenant = await createTenantThroughApi(api, 'Batching')
  sessionId = await seedSession(api.database.handle, tenant.tenantId)
  baseUrl = await api.listen()
})

afterAll(async () => {
  for (const client of clients) client.close()
  await api?.close()
})

describe('feed batching (STREAM_BATCH_MS)', () => {
  it('sends what commits within the gap to every stream in one write, in order, nothing lost or doubled', async () => {
    for (let i = 0; i < 2; i++) {
      const client = await openSse(`${baseUrl}/v1/events/stream`, { key: tenant.apiKey })
      clients.push(client)
      expect(client.status).toBe(200)
      await client.ready()
    }
    // The feed is idle: the first event is read at once.
    const first = await inbound()
    for (const client of clients) await client.waitForEvents(1, 'the first event')
    // These commit within the gap after that read, apart (each would be a read of its own without the
    // gap): they wait for it and go out together.
    const rest: EventEnvelope[] = []
    for (let i = 0; i < 3; i++) {
      rest.push(await inbound())
      await sleep(150)
    }
    for (const client of clients) {
      const events = await client.waitForEvents(4, 'the batch', 20_000)
      expect(events.map((event) => event.id)).toEqual([first, ...rest].map((event) => event.id))
      expect(events.map((event) => event.data.seq)).toEqual([first, ...rest].map((event) => event.seq))
      const [a, b, c, d] = events.map((event) => event.read)
      expect(b).toBeGreaterThan(a!)
      expect([c, d]).toEqual([b, b])
    }
  })
})
