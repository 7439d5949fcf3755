import { deleteSettledMediaChunks } from '@wa-cluster/core'
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

describe('media templates', () => {
  const put = (name: string, body: unknown) => api.call('PUT', `/v1/templates/${name}`, { key, body })

  it('stores the type and the file; the body is the caption, its variables listed', async () => {
    const created = await put('promo', {
      type: 'image',
      body: 'Promo untuk {{name}}',
      media: { url: 'https://example.com/promo.jpg', mimeType: 'image/jpeg' },
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      name: 'promo',
      type: 'image',
      body: 'Promo untuk {{name}}',
      media: { url: 'https://example.com/promo.jpg', mimeType: 'image/jpeg' },
      variables: ['name'],
    })
    const sticker = await put('thanks_sticker', {
      type: 'sticker',
      media: { url: 'https://example.com/t.webp' },
    })
    expect(sticker.status).toBe(201)
    expect(sticker.body).toMatchObject({ type: 'sticker', body: '', variables: [] })
    // A text template stays as it was: type text, no media.
    const text = await api.call('GET', '/v1/templates/invoice', { key })
    expect(text.body.type).toBe('text')
    expect(text.body).not.toHaveProperty('media')
  })

  it('refuses a template that cannot be sent, naming the field, and stores nothing', async () => {
    const before = await snapshotDatabase(api)
    const refusals: [unknown, string][] = [
      [{ body: 'x', media: { url: 'https://example.com/a.jpg' } }, 'body.media'],
      [{ type: 'image', body: 'no file' }, 'body.media'],
      [{ type: 'audio', body: 'a caption', media: { url: 'https://example.com/a.ogg' } }, 'body.body'],
      [{ type: 'image', media: { url: 'http://10.0.0.1/a.jpg' } }, 'body.media.url'],
      [
        { type: 'image', media: { url: 'https://example.com/a', mimeType: 'application/pdf' } },
        'body.media.mimeType',
      ],
      [
        { type: 'image', media: { url: 'https://example.com/a.jpg', fileName: 'a.jpg' } },
        'body.media.fileName',
      ],
      [{ type: 'image', body: 'x'.repeat(1025), media: { url: 'https://example.com/a.jpg' } }, 'body.body'],
      [{}, 'body.body'],
      [{ type: 'image', media: { url: 'ftp://example.com/a.jpg' } }, 'body.media.url'],
    ]
    for (const [body, field] of refusals) {
      const response = await put('bad_one', body)
      expect({ body, status: response.status, field: response.body.error?.field }).toEqual({
        body,
        status: 400,
        field,
      })
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('a send of a media template gives neither its own media, caption, text nor another type', async () => {
    const before = await snapshotDatabase(api)
    const cases: [Record<string, unknown>, string][] = [
      [{ media: { url: 'https://example.com/b.jpg' } }, 'body.media'],
      [{ caption: 'mine' }, 'body.caption'],
      [{ text: 'hi' }, 'body.text'],
      [{ type: 'video' }, 'body.type'],
      [{ variables: {} }, 'body.variables.name'],
    ]
    for (const [extra, field] of cases) {
      const response = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
        key,
        body: { to: '081234567890', template: 'promo', variables: { name: 'Budi' }, ...extra },
      })
      expect({ extra, status: response.status, field: response.body.error?.field }).toEqual({
        extra,
        status: 400,
        field,
      })
    }
    expect(await snapshotDatabase(api)).toEqual(before)
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

  it('stores a file several recipients send once, and shows it on each without the key', async () => {
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(300_000, 7)])
    const media = { data: png.toString('base64') }
    const response = await create({
      recipients: [
        { to: '081234500001', type: 'image', caption: 'Kartu antrean 1', media },
        { to: '081234500002', type: 'image', caption: 'Kartu antrean 2', media },
        { to: '081234500003', text: 'a text among them' },
        { to: '081234500004', type: 'document', media: { ...media, fileName: 'kartu.png' } },
      ],
      delayMs: 1000,
    })
    expect(response.status).toBe(202)
    const rows = await api.ctx.database.db
      .select()
      .from(messages)
      .where(eq(messages.broadcastId, response.body.id))
      .orderBy(asc(messages.broadcastIndex))
    // The image rows share one stored copy; the document (another kind, a file name) has its own.
    const keys = rows.map((row) => row.content?.mediaFile)
    expect(keys).toEqual([
      `${response.body.id}/0`,
      `${response.body.id}/0`,
      undefined,
      `${response.body.id}/1`,
    ])
    const pieces = await api.ctx.database.rows<{ message_id: string; bytes: number }>(
      sql`SELECT message_id, sum(length(data))::int AS bytes FROM media_chunks
          WHERE starts_with(message_id, ${`${response.body.id}/`}) GROUP BY message_id ORDER BY message_id`,
    )
    expect(pieces).toEqual([
      { message_id: `${response.body.id}/0`, bytes: png.length },
      { message_id: `${response.body.id}/1`, bytes: png.length },
    ])
    const shown = await api.call('GET', `/v1/sessions/${sessionId}/messages/${rows[1]!.id}`, { key })
    expect(shown.body).toMatchObject({
      type: 'image',
      caption: 'Kartu antrean 2',
      media: { mimeType: 'image/png', size: png.length },
    })
    expect(shown.body).not.toHaveProperty('mediaFile')
    // Cancelled, nothing of it is left to send: its files go.
    await api.call('POST', `/v1/broadcasts/${response.body.id}/cancel`, { key })
    const [left] = await api.ctx.database.rows<{ count: number }>(
      sql`SELECT count(*)::int AS count FROM media_chunks WHERE starts_with(message_id, ${`${response.body.id}/`})`,
    )
    expect(left?.count).toBe(0)
  })

  it("the leftover sweep spares a live broadcast's files and takes an ended one's", async () => {
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(1000, 3)])
    const response = await create({
      recipients: [
        { to: '081234500011', type: 'image', media: { data: png.toString('base64') } },
        { to: '081234500012', type: 'image', media: { data: png.toString('base64') } },
      ],
      delayMs: 1000,
    })
    expect(response.status).toBe(202)
    const id = response.body.id as string
    const pieces = async (key: string) => {
      const [row] = await api.ctx.database.rows<{ count: number }>(
        sql`SELECT count(*)::int AS count FROM media_chunks WHERE message_id = ${key}`,
      )
      return row!.count
    }
    // A file of no message at all (a request that died half-way) is a leftover.
    await api.ctx.database.rows(
      sql`INSERT INTO media_chunks (message_id, seq, data) VALUES ('msg_0leftover', 0, decode('00', 'hex'))`,
    )
    expect((await api.call('POST', `/v1/broadcasts/${id}/pause`, { key })).status).toBe(200)
    // Everything counts as old enough here: only what the files belong to decides.
    await deleteSettledMediaChunks(api.ctx.database, -60_000)
    expect(await pieces(`${id}/0`)).toBe(1)
    expect(await pieces('msg_0leftover')).toBe(0)
    // Ended without deleting its file (its node died right after the last send): the sweep takes it.
    await api.ctx.database.db.update(broadcasts).set({ status: 'completed' }).where(eq(broadcasts.id, id))
    await deleteSettledMediaChunks(api.ctx.database, -60_000)
    expect(await pieces(`${id}/0`)).toBe(0)
  })

  it('lists bad media rows by index, and a file that cannot be had by each row that sends it', async () => {
    const before = await snapshotDatabase(api)
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(1000, 1)]).toString(
      'base64',
    )
    const shape = await create({
      recipients: [
        { to: '081234500001', type: 'image', media: { data: jpeg } },
        { to: '081234500002', type: 'image' },
        { to: '081234500003', type: 'image', media: { data: 'not base64!' } },
        { to: '081234500004', type: 'audio', caption: 'x', media: { data: jpeg } },
        { to: '081234500005', template: 'promo', variables: { name: 'x' }, caption: 'mine' },
      ],
    })
    expect(shape.status).toBe(400)
    expect(shape.body.error.details.rows).toEqual([
      { index: 1, field: 'body.recipients.1.media', reason: expect.stringContaining('is required') },
      {
        index: 2,
        field: 'body.recipients.2.media.data',
        reason: expect.stringContaining('not valid base64'),
      },
      { index: 3, field: 'body.recipients.3.caption', reason: expect.any(String) },
      {
        index: 4,
        field: 'body.recipients.4.caption',
        reason: expect.stringContaining('template promo gives it'),
      },
    ])
    // The template's URL does not answer: every row of the template is refused, naming the template;
    // the file a row gave itself was stored, and is deleted again.
    await api.call('PUT', '/v1/templates/promo_down', {
      key,
      body: { type: 'image', media: { url: 'http://127.0.0.1:9/promo.jpg' } },
    })
    const beforeDown = await snapshotDatabase(api)
    const down = await create({
      recipients: [
        { to: '081234500001', template: 'promo_down' },
        { to: '081234500002', type: 'image', media: { data: jpeg } },
        { to: '081234500003', template: 'promo_down' },
        { to: '081234500004', type: 'image', media: { data: jpeg }, caption: 'ok' },
      ],
    })
    expect(down.status).toBe(400)
    expect(down.body.error.details.rows).toEqual([
      {
        index: 0,
        field: 'body.recipients.0.template',
        reason: expect.stringContaining('template promo_down: its media.url could not be fetched'),
      },
      {
        index: 2,
        field: 'body.recipients.2.template',
        reason: expect.stringContaining('template promo_down: its media.url could not be fetched'),
      },
    ])
    expect(await snapshotDatabase(api)).toEqual(beforeDown)
    await api.call('DELETE', '/v1/templates/promo_down', { key })
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
