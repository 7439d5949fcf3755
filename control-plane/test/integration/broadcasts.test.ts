import { broadcasts, messages } from '@wa-cluster/db'
import { and, asc, eq, sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSendableSession,
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  type TestApi,
} from '../support/test-context.js'

// Templates, scheduled sends and broadcasts through the API, with no session-node: what is stored and
// what is refused. Sending them (pace, windows, failover) is in broadcasts-cluster.test.ts.

let api: TestApi
let key: string
let otherKey: string
let sessionId: string

beforeAll(async () => {
  api = await createTestApi('cp_broadcasts')
  key = (await createTenantThroughApi(api, 'Billing')).apiKey
  otherKey = (await createTenantThroughApi(api, 'Other')).apiKey
  // No session-node runs here: wanted-connected and linked, so sends are accepted and stay queued.
  sessionId = await createSendableSession(api, key, { name: 'billing' })
})
afterAll(async () => {
  await api?.close()
})

const invoiceBody = 'Halo {{name}}, tagihan {{invoice}} sebesar {{amount}} sudah terbit.'

describe('templates', () => {
  it('creates, replaces, reads, lists by page and deletes, per tenant', async () => {
    const created = await api.call('PUT', '/v1/templates/invoice', { key, body: { body: invoiceBody } })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: 'invoice',
      body: invoiceBody,
      variables: ['name', 'invoice', 'amount'],
    })
    const replaced = await api.call('PUT', '/v1/templates/invoice', {
      key,
      body: { body: `${invoiceBody}!` },
    })
    expect(replaced.status).toBe(200)
    expect(replaced.body.body).toBe(`${invoiceBody}!`)
    await api.call('PUT', '/v1/templates/invoice', { key, body: { body: invoiceBody } })
    for (const name of ['a_first', 'z_last']) {
      expect(
        (await api.call('PUT', `/v1/templates/${name}`, { key, body: { body: 'hi {{name}}' } })).status,
      ).toBe(201)
    }
    const first = await api.call('GET', '/v1/templates?limit=2', { key })
    expect(first.body.data.map((template: { name: string }) => template.name)).toEqual(['a_first', 'invoice'])
    const second = await api.call('GET', `/v1/templates?limit=2&after=${first.body.nextCursor}`, { key })
    expect(second.body).toMatchObject({ data: [{ name: 'z_last' }], nextCursor: null })
    expect((await api.call('GET', '/v1/templates/invoice', { key })).body.body).toBe(invoiceBody)
    // Another tenant sees none of them, and its own template of the same name is its own.
    expect((await api.call('GET', '/v1/templates/invoice', { key: otherKey })).status).toBe(404)
    expect((await api.call('GET', '/v1/templates', { key: otherKey })).body.data).toEqual([])
    expect((await api.call('DELETE', '/v1/templates/z_last', { key })).status).toBe(204)
    expect((await api.call('DELETE', '/v1/templates/z_last', { key })).status).toBe(404)
  })

  it('a send naming a template stores the rendered text', async () => {
    const response = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key,
      body: {
        to: '081234567890',
        template: 'invoice',
        variables: { name: 'Budi', invoice: 'INV-7', amount: 150000 },
      },
    })
    expect(response.status).toBe(202)
    expect(response.body).toMatchObject({
      type: 'text',
      text: 'Halo Budi, tagihan INV-7 sebesar 150000 sudah terbit.',
    })
  })

  it('a missing variable is a 400 naming it, and stores nothing', async () => {
    const before = await snapshotDatabase(api)
    const response = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key,
      body: { to: '081234567890', template: 'invoice', variables: { name: 'Budi' } },
    })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ code: 'validation_failed', field: 'body.variables.invoice' })
    expect(response.body.error.message).toContain('{{invoice}}')
    expect(response.body.error.message).toContain('{{amount}}')
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('an unknown template, or a template with a text, is a 400', async () => {
    const unknown = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key,
      body: { to: '081234567890', template: 'nope' },
    })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error.field).toBe('body.template')
    const both = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key,
      body: { to: '081234567890', template: 'invoice', text: 'hi' },
    })
    expect(both.status).toBe(400)
    expect(both.body.error.field).toBe('body.text')
  })
})

describe('scheduled single messages', () => {
  const send = (body: unknown) => api.call('POST', `/v1/sessions/${sessionId}/messages`, { key, body })

  it('stores a future sendAt as a queued message with its time', async () => {
    const sendAt = new Date(Date.now() + 3600_000).toISOString()
    const response = await send({ to: '081234567890', text: 'besok', sendAt })
    expect(response.status).toBe(202)
    expect(response.body).toMatchObject({ status: 'queued', sendAt })
    const [row] = await api.ctx.database.db.select().from(messages).where(eq(messages.id, response.body.id))
    expect(row?.sendAfter?.toISOString()).toBe(sendAt)
  })

  it('a sendAt already past sends now; one more than a year ahead, or not a time, is a 400', async () => {
    const past = await send({ to: '081234567890', text: 'now', sendAt: '2020-01-01T00:00:00Z' })
    expect(past.status).toBe(202)
    expect(past.body.sendAt).toBeUndefined()
    const far = await send({
      to: '081234567890',
      text: 'later',
      sendAt: new Date(Date.now() + 400 * 86_400_000).toISOString(),
    })
    expect(far.status).toBe(400)
    expect(far.body.error.field).toBe('body.sendAt')
    const garbage = await send({ to: '081234567890', text: 'x', sendAt: 'tomorrow' })
    expect(garbage.status).toBe(400)
    expect(garbage.body.error.field).toBe('body.sendAt')
  })

  it('the same Idempotency-Key with another sendAt is a conflict', async () => {
    const headers = { 'idempotency-key': 'scheduled-1' }
    const sendAt = new Date(Date.now() + 3600_000).toISOString()
    const first = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key,
      headers,
      body: { to: '081234567890', text: 'a', sendAt },
    })
    const again = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key,
      headers,
      body: { to: '081234567890', text: 'a', sendAt },
    })
    expect(again.body.id).toBe(first.body.id)
    const other = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
      key,
      headers,
      body: { to: '081234567890', text: 'a', sendAt: new Date(Date.now() + 7200_000).toISOString() },
    })
    expect(other.status).toBe(409)
  })
})

describe('broadcasts', () => {
  const create = (body: unknown, headers?: Record<string, string>) =>
    api.call('POST', `/v1/sessions/${sessionId}/broadcasts`, { key, body, headers })

  it('stores every recipient as a queued message in order, rendered, with its metadata', async () => {
    const recipients = Array.from({ length: 1200 }, (_, index) => ({
      to: `0812${String(10_000_000 + index)}`,
      variables: { name: `Customer ${index}`, invoice: `INV-${index}`, amount: index * 1000 },
      metadata: { customerId: `c-${index}` },
    }))
    recipients[3] = { to: '081299999999', text: 'a plain text among templated ones' } as never
    const response = await create({ recipients, template: 'invoice', delayMs: 2000 })
    expect(response.status).toBe(202)
    expect(response.body).toEqual({ id: expect.stringMatching(/^brd_/), status: 'running', total: 1200 })
    const rows = await api.ctx.database.db
      .select()
      .from(messages)
      .where(eq(messages.broadcastId, response.body.id))
      .orderBy(asc(messages.broadcastIndex))
    expect(rows).toHaveLength(1200)
    expect(rows.map((row) => row.broadcastIndex)).toEqual(rows.map((_, index) => index))
    expect(rows[0]).toMatchObject({
      status: 'queued',
      chatId: '6281210000000@s.whatsapp.net',
      text: 'Halo Customer 0, tagihan INV-0 sebesar 0 sudah terbit.',
      metadata: { customerId: 'c-0' },
      idempotencyKey: `broadcast:${response.body.id}:0`,
    })
    expect(rows[3]?.text).toBe('a plain text among templated ones')

    const view = await api.call('GET', `/v1/broadcasts/${response.body.id}`, { key })
    expect(view.status).toBe(200)
    expect(view.body).toMatchObject({
      status: 'running',
      total: 1200,
      queued: 1200,
      sent: 0,
      delivered: 0,
      read: 0,
      failed: 0,
      delayMs: 2000,
      startedAt: null,
      finishedAt: null,
    })
    expect(view.body.nextSendAt).toEqual(expect.any(String))

    const page = await api.call('GET', `/v1/broadcasts/${response.body.id}/recipients?limit=2`, { key })
    expect(page.body.data.map((row: { index: number }) => row.index)).toEqual([0, 1])
    expect(page.body.data[1]).toMatchObject({
      status: 'queued',
      metadata: { customerId: 'c-1' },
      sentAt: null,
    })
    const next = await api.call(
      'GET',
      `/v1/broadcasts/${response.body.id}/recipients?limit=2&after=${page.body.nextCursor}`,
      { key },
    )
    expect(next.body.data.map((row: { index: number }) => row.index)).toEqual([2, 3])
    // Another tenant cannot see it.
    expect((await api.call('GET', `/v1/broadcasts/${response.body.id}`, { key: otherKey })).status).toBe(404)
  })

  it('takes 10,000 recipients in one request of more than 1 MiB', async () => {
    const text = `Tagihan bulan ini sudah terbit. ${'Detail pembayaran ada di aplikasi. '.repeat(5)}`
    const recipients = Array.from({ length: 10_000 }, (_, index) => ({
      to: `0813${String(10_000_000 + index)}`,
      text: `${index}: ${text}`,
    }))
    expect(JSON.stringify({ recipients }).length).toBeGreaterThan(2 * 1024 * 1024)
    const response = await create({ recipients, delayMs: 1000 })
    expect(response.status).toBe(202)
    expect(response.body.total).toBe(10_000)
    const [row] = await api.ctx.database.rows<{ count: number }>(
      sql`SELECT count(*)::int AS count FROM messages WHERE broadcast_id = ${response.body.id}`,
    )
    expect(row?.count).toBe(10_000)
    await api.call('POST', `/v1/broadcasts/${response.body.id}/cancel`, { key })
  })

  it('lists every bad row by index and queues nothing', async () => {
    const before = await snapshotDatabase(api)
    const response = await create({
      recipients: [
        { to: '081234567890', text: 'ok' },
        { to: '12', text: 'too short a number' },
        { to: '081234567891', template: 'invoice', variables: { name: 'x' } },
        { to: '081234567892', text: 'ok' },
        { to: '081234567893', type: 'buttons', text: 'no' },
      ],
    })
    expect(response.status).toBe(400)
    expect(response.body.error.field).toBe('body.recipients')
    expect(response.body.error.details.rows.map((row: { index: number }) => row.index)).toEqual([1, 2, 4])
    expect(response.body.error.details.rows[1].field).toBe('body.recipients.2.variables.invoice')
    expect(response.body.error.message).toContain('1, 2, 4')
    expect(await snapshotDatabase(api)).toEqual(before)

    const shape = await create({
      recipients: [{ to: '081234567890', text: 'ok' }, { text: 'no to' }, { to: 5 }],
    })
    expect(shape.status).toBe(400)
    expect(shape.body.error.details.rows.map((row: { index: number }) => row.index)).toEqual([1, 2])
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('refuses a delay under 1000 ms, a bad window and more than 10,000 recipients', async () => {
    const one = [{ to: '081234567890', text: 'x' }]
    expect((await create({ recipients: one, delayMs: 999 })).body.error.field).toBe('body.delayMs')
    const window = { days: [1], from: '17:00', until: '08:00', timeZone: 'Asia/Jakarta' }
    expect((await create({ recipients: one, window })).body.error.field).toBe('body.window.until')
    const zone = { days: [1], from: '08:00', until: '17:00', timeZone: 'Asia/Nowhere' }
    expect((await create({ recipients: one, window: zone })).body.error.field).toBe('body.window.timeZone')
    const many = Array.from({ length: 10_001 }, () => ({ to: '081234567890', text: 'x' }))
    const tooMany = await create({ recipients: many })
    expect(tooMany.status).toBe(400)
    expect(tooMany.body.error.field).toBe('body.recipients')
  })

  it('is scheduled until its sendAt, or until its window opens', async () => {
    const sendAt = new Date(Date.now() + 3600_000).toISOString()
    const later = await create({ recipients: [{ to: '081234567890', text: 'x' }], sendAt })
    expect(later.body.status).toBe('scheduled')
    expect((await api.call('GET', `/v1/broadcasts/${later.body.id}`, { key })).body.nextSendAt).toBe(sendAt)
    // A window open only on a day that is not today (in UTC) is closed now.
    const today = new Date().getUTCDay() || 7
    const day = (today % 7) + 1
    const closed = await create({
      recipients: [{ to: '081234567890', text: 'x' }],
      window: { days: [day], from: '00:00', until: '23:59', timeZone: 'UTC' },
    })
    expect(closed.body.status).toBe('scheduled')
    const [row] = await api.ctx.database.db.select().from(broadcasts).where(eq(broadcasts.id, closed.body.id))
    const tomorrow = new Date()
    tomorrow.setUTCHours(24, 0, 0, 0)
    expect(row?.notBefore.toISOString()).toBe(tomorrow.toISOString())
  })

  it('is idempotent with Idempotency-Key: the same body answers the same broadcast, another body 409', async () => {
    const body = { recipients: [{ to: '081234567890', text: 'once' }], delayMs: 1000 }
    const headers = { 'idempotency-key': 'month-end-1' }
    const first = await create(body, headers)
    const again = await create(body, headers)
    expect(again.status).toBe(202)
    expect(again.body).toEqual(first.body)
    const rows = await api.ctx.database.db
      .select()
      .from(broadcasts)
      .where(eq(broadcasts.idempotencyKey, 'month-end-1'))
    expect(rows).toHaveLength(1)
    const other = await create({ ...body, delayMs: 2000 }, headers)
    expect(other.status).toBe(409)
    expect(other.body.error.code).toBe('idempotency_key_reused')
  })

  it("lists the session's broadcasts newest first, a page at a time, with their counts", async () => {
    const first = await api.call('GET', `/v1/sessions/${sessionId}/broadcasts?limit=2`, { key })
    expect(first.status).toBe(200)
    expect(first.body.data).toHaveLength(2)
    expect(first.body.data[0].id > first.body.data[1].id).toBe(true)
    expect(first.body.data[0]).toMatchObject({
      sessionId,
      total: expect.any(Number),
      queued: expect.any(Number),
    })
    const next = await api.call(
      'GET',
      `/v1/sessions/${sessionId}/broadcasts?limit=2&after=${first.body.nextCursor}`,
      {
        key,
      },
    )
    expect(next.body.data[0].id < first.body.data[1].id).toBe(true)
    const other = (await api.call('POST', '/v1/sessions', { key: otherKey, body: {} })).body.id
    expect((await api.call('GET', `/v1/sessions/${other}/broadcasts`, { key: otherKey })).body.data).toEqual(
      [],
    )
    expect((await api.call('GET', `/v1/sessions/${sessionId}/broadcasts`, { key: otherKey })).status).toBe(
      404,
    )
  })

  it('pauses, resumes and cancels; cancel fails the unsent recipients and reports completion', async () => {
    const created = await create({
      recipients: [
        { to: '081234567890', text: 'a' },
        { to: '081234567891', text: 'b' },
      ],
    })
    const id = created.body.id
    const action = (name: string) => api.call('POST', `/v1/broadcasts/${id}/${name}`, { key })
    expect((await action('pause')).body.status).toBe('paused')
    const pausedAgain = await action('pause')
    expect(pausedAgain.status).toBe(409)
    expect(pausedAgain.body.error.code).toBe('broadcast_paused')
    expect((await action('resume')).body.status).toBe('running')
    expect((await api.call('POST', `/v1/broadcasts/${id}/cancel`, { key: otherKey })).status).toBe(404)
    const cancelled = await action('cancel')
    expect(cancelled.body).toMatchObject({
      status: 'cancelled',
      queued: 0,
      failed: 2,
      cancelled: 2,
      nextSendAt: null,
    })
    expect(cancelled.body.finishedAt).toEqual(expect.any(String))
    const rows = await api.ctx.database.db
      .select()
      .from(messages)
      .where(and(eq(messages.broadcastId, id), eq(messages.status, 'failed')))
    expect(rows.map((row) => row.error)).toEqual(['broadcast cancelled', 'broadcast cancelled'])
    expect(rows.map((row) => row.errorCode)).toEqual(['broadcast_cancelled', 'broadcast_cancelled'])
    const recipients = await api.call('GET', `/v1/broadcasts/${id}/recipients`, { key })
    expect(
      recipients.body.data
        .filter((recipient: { status: string }) => recipient.status === 'failed')
        .map((recipient: { error: unknown }) => recipient.error),
    ).toEqual([
      { code: 'broadcast_cancelled', message: 'broadcast cancelled' },
      { code: 'broadcast_cancelled', message: 'broadcast cancelled' },
    ])
    expect((await action('resume')).status).toBe(409)
    const events = await api.call('GET', `/v1/events?type=broadcast.completed&sessionId=${sessionId}`, {
      key,
    })
    expect(events.body.data.at(-1)).toMatchObject({
      type: 'broadcast.completed',
      sessionId,
      data: { broadcastId: id, status: 'cancelled', total: 2, cancelled: 2 },
    })
  })
})
