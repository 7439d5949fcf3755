import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSendableSession,
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let key: string
let sessionId: string
beforeAll(async () => {
  api = await createTestApi('cp_message_metadata')
  key = (await createTenantThroughApi(api, 'Metadata')).apiKey
  // No session-node runs here: a wanted-connected, linked session accepts sends and keeps them queued.
  sessionId = await createSendableSession(api, key, { name: 'billing' })
})
afterAll(async () => {
  await api?.close()
})

function send(body: unknown, headers?: Record<string, string>) {
  return api.call('POST', `/v1/sessions/${sessionId}/messages`, { key, body, headers })
}

describe('message metadata', () => {
  it('stores metadata on every kind of send and echoes it on the message', async () => {
    const metadata = { customerId: 'c-123', invoiceId: 'INV-2025-001', note: 'ü'.repeat(256) }
    const text = await send({ to: '081234567890', text: 'Tagihan', metadata })
    expect(text.status).toBe(202)
    expect(text.body.metadata).toEqual(metadata)
    const fetched = await api.call('GET', `/v1/sessions/${sessionId}/messages/${text.body.id}`, { key })
    expect(fetched.body.metadata).toEqual(metadata)

    const location = await send({
      to: '081234567890',
      type: 'location',
      location: { latitude: -6.2, longitude: 106.8 },
      metadata: { visitId: 'v-9' },
    })
    expect(location.body).toMatchObject({ type: 'location', metadata: { visitId: 'v-9' } })
    await api.call('PUT', '/v1/templates/bill', { key, body: { body: 'Halo {{name}}' } })
    const templated = await send({
      to: '081234567890',
      template: 'bill',
      variables: { name: 'Budi' },
      metadata: { customerId: 'c-7' },
    })
    expect(templated.body).toMatchObject({ text: 'Halo Budi', metadata: { customerId: 'c-7' } })
    // A send without metadata shows none.
    expect((await send({ to: '081234567890', text: 'plain' })).body).not.toHaveProperty('metadata')
  })

  it('is part of the idempotent request: the same key with other metadata is a conflict', async () => {
    const first = await send(
      { to: '081234567890', text: 'x', metadata: { customerId: '1' } },
      { 'idempotency-key': 'meta-1' },
    )
    const again = await send(
      { to: '081234567890', text: 'x', metadata: { customerId: '1' } },
      { 'idempotency-key': 'meta-1' },
    )
    expect(again.body).toEqual(first.body)
    const other = await send(
      { to: '081234567890', text: 'x', metadata: { customerId: '2' } },
      { 'idempotency-key': 'meta-1' },
    )
    expect(other.status).toBe(409)
  })

  it('refuses metadata past its limits with 400 naming metadata.<key> and the limit, changing nothing', async () => {
    const before = await snapshotDatabase(api)
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v']))
    const cases: [unknown, string, RegExp][] = [
      [tooMany, 'body.metadata', /at most 16 keys/],
      [{ invoiceId: 'x'.repeat(513) }, 'body.metadata.invoiceId', /at most 512 bytes/],
      [{ name: 'é'.repeat(257) }, 'body.metadata.name', /at most 512 bytes/],
      [{ ['k'.repeat(65)]: 'v' }, `body.metadata.${'k'.repeat(64)}…`, /longer than 64 characters/],
      [{ customerId: 123 }, 'body.metadata.customerId', /string/],
      [['c-1'], 'body.metadata', /object|record/],
    ]
    for (const [metadata, field, reason] of cases) {
      const response = await send({ to: '081234567890', text: 'x', metadata })
      expect(response.status, field).toBe(400)
      expect(response.body.error.field, field).toBe(field)
      expect(response.body.error.message, field).toMatch(reason)
    }
    const broadcast = await api.call('POST', `/v1/sessions/${sessionId}/broadcasts`, {
      key,
      body: { recipients: [{ to: '081234567890', text: 'x', metadata: { invoiceId: 'x'.repeat(600) } }] },
    })
    expect(broadcast.status).toBe(400)
    expect(broadcast.body.error.details.rows[0]).toMatchObject({
      index: 0,
      field: 'body.recipients.0.metadata.invoiceId',
    })
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})
