import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { registerNode } from '@wa-cluster/core'
import { authCreds, messages, sessions } from '@wa-cluster/db'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFailoverLeader } from '../../src/cluster/failover-leader.js'
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
  api = await createTestApi('cp_messages')
  key = (await createTenantThroughApi(api, 'Messages')).apiKey
  // No session-node runs here: a wanted-connected, linked session accepts sends and keeps them queued.
  sessionId = await createSendableSession(api, key, { name: 'sender' })
})
afterAll(async () => {
  await api?.close()
})

function send(body: unknown, headers?: Record<string, string>) {
  return api.call('POST', `/v1/sessions/${sessionId}/messages`, { key, body, headers })
}

async function rowsWithKey(idempotencyKey: string) {
  return api.ctx.database.db.select().from(messages).where(eq(messages.idempotencyKey, idempotencyKey))
}

describe('sending messages', () => {
  it('queues a message, normalising a local number to 62…@s.whatsapp.net', async () => {
    const response = await send({ to: '0812-3456-7890', text: 'Hasil lab Anda sudah siap.' })
    expect(response.status).toBe(202)
    expect(response.body).toMatchObject({
      id: expect.stringMatching(/^msg_/),
      sessionId,
      direction: 'out',
      to: '6281234567890@s.whatsapp.net',
      status: 'queued',
      text: 'Hasil lab Anda sudah siap.',
    })
    const fetched = await api.call('GET', `/v1/sessions/${sessionId}/messages/${response.body.id}`, { key })
    expect(fetched.status).toBe(200)
    expect(fetched.body).toEqual(response.body)
  })

  it('the same Idempotency-Key returns the same message and stores one row', async () => {
    const body = { to: '+62 812 1111 2222', text: 'Tagihan baru' }
    const first = await send(body, { 'idempotency-key': 'invoice-42' })
    const second = await send(body, { 'idempotency-key': 'invoice-42' })
    expect(first.status).toBe(202)
    expect(second.status).toBe(202)
    expect(second.body).toEqual(first.body)
    expect(await rowsWithKey('invoice-42')).toHaveLength(1)
  })

  it('reusing an Idempotency-Key with a different body is 409 and stores nothing new', async () => {
    await send({ to: '6281222223333', text: 'first' }, { 'idempotency-key': 'reuse-1' })
    const before = await snapshotDatabase(api)
    const conflict = await send({ to: '6281222223333', text: 'second' }, { 'idempotency-key': 'reuse-1' })
    expect(conflict.status).toBe(409)
    expect(conflict.body.error.code).toBe('idempotency_key_reused')
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('refuses to send on a session that is not wanted connected', async () => {
    const other = (await api.call('POST', '/v1/sessions', { key, body: {} })).body.id
    const response = await api.call('POST', `/v1/sessions/${other}/messages`, {
      key,
      body: { to: '6281234567890', text: 'hi' },
    })
    expect(response.status).toBe(409)
    expect(response.body.error.code).toBe('session_not_connected')
  })

  it('refuses to send on a session that was never linked (QR not scanned), storing nothing', async () => {
    const other = (await api.call('POST', '/v1/sessions', { key, body: {} })).body.id
    await api.ctx.database.db
      .update(sessions)
      .set({ desiredState: 'connected', state: 'QR_READY' })
      .where(eq(sessions.id, other))
    const before = await snapshotDatabase(api)
    const response = await api.call('POST', `/v1/sessions/${other}/messages`, {
      key,
      body: { to: '6281234567890', text: 'hi' },
    })
    expect(response.status).toBe(409)
    expect(response.body.error.code).toBe('session_not_linked')
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('a queued message whose session does not connect fails after QUEUED_SEND_TIMEOUT_MS, and a connected one waits', async () => {
    const leader = createFailoverLeader({
      database: api.ctx.database,
      coordinator: api.ctx.coordinator,
      logger: api.ctx.logger,
      config: { ...api.ctx.config, QUEUED_SEND_TIMEOUT_MS: 60_000 },
    })
    const connected = (await api.call('POST', '/v1/sessions', { key, body: { name: 'connected' } })).body.id
    // ...on a live node, so the leader sees nothing to fail over.
    await registerNode(api.ctx.database, 'stale-sends-node', 10)
    await api.ctx.coordinator.heartbeat(
      {
        nodeId: 'stale-sends-node',
        capacity: 10,
        status: 'active',
        sessions: 1,
        startedAt: new Date().toISOString(),
      },
      60_000,
    )
    await api.ctx.database.db
      .update(sessions)
      .set({ desiredState: 'connected', state: 'CONNECTED', nodeId: 'stale-sends-node' })
      .where(eq(sessions.id, connected))
    await api.ctx.database.db
      .insert(authCreds)
      .values({ sessionId: connected, value: Buffer.from('sealed creds') })
    const waiting = (await send({ to: '6281234567890', text: 'tagihan' })).body.id
    const fresh = (await send({ to: '6281234567890', text: 'baru' })).body.id
    const turn = (
      await api.call('POST', `/v1/sessions/${connected}/messages`, {
        key,
        body: { to: '6281234567890', text: 'antre' },
      })
    ).body.id
    // Two of them waited longer than the timeout (backdated, not slept).
    for (const id of [waiting, turn])
      await api.ctx.database.db
        .update(messages)
        .set({ createdAt: new Date(Date.now() - 120_000) })
        .where(eq(messages.id, id))

    await leader.tick()
    await leader.stop()

    const read = async (id: string, session = sessionId) =>
      (await api.call('GET', `/v1/sessions/${session}/messages/${id}`, { key })).body
    expect(await read(waiting)).toMatchObject({
      status: 'failed',
      error: { code: 'session_not_connected', message: 'the session did not connect in time to send it' },
    })
    expect((await read(waiting)).statusHistory.map((entry: { status: string }) => entry.status)).toEqual([
      'queued',
      'failed',
    ])
    expect(await read(fresh)).toMatchObject({ status: 'queued', error: null })
    expect(await read(turn, connected)).toMatchObject({ status: 'queued', error: null })
    const events = (await api.call('GET', `/v1/events?sessionId=${sessionId}&limit=100`, { key })).body.data
    const failures = events
      .filter((event: { type: string }) => event.type === 'messages.update')
      .flatMap((event: { data: { updates: unknown[] } }) => event.data.updates)
    expect(failures).toEqual([
      {
        id: waiting,
        chatId: '6281234567890@s.whatsapp.net',
        status: 'failed',
        error: { code: 'session_not_connected', message: 'the session did not connect in time to send it' },
      },
    ])
  })

  it('answers 429 with Retry-After past the per-session rate limit', async () => {
    const limited = await createTestApi('cp_ratelimit', { SEND_RATE_LIMIT_PER_MINUTE: 1 })
    try {
      const tenantKey = (await createTenantThroughApi(limited, 'Limited')).apiKey
      const limitedSession = (await limited.call('POST', '/v1/sessions', { key: tenantKey, body: {} })).body
        .id
      await limited.ctx.database.db
        .update(sessions)
        .set({ desiredState: 'connected' })
        .where(eq(sessions.id, limitedSession))
      await limited.ctx.database.db
        .insert(authCreds)
        .values({ sessionId: limitedSession, value: Buffer.from('sealed creds') })
      const path = `/v1/sessions/${limitedSession}/messages`
      expect(
        (await limited.call('POST', path, { key: tenantKey, body: { to: '6281234567890', text: 'one' } }))
          .status,
      ).toBe(202)
      const refused = await limited.call('POST', path, {
        key: tenantKey,
        body: { to: '6281234567890', text: 'two' },
      })
      expect(refused.status).toBe(429)
      expect(refused.body.error.code).toBe('rate_limited')
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      // Past the limit, a media URL is not even fetched.
      let fetched = 0
      const files = http.createServer((_request, response) => {
        fetched++
        response
          .writeHead(200, { 'content-type': 'image/jpeg' })
          .end(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1]))
      })
      await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve))
      try {
        const url = `http://127.0.0.1:${(files.address() as AddressInfo).port}/x.jpg`
        const media = await limited.call('POST', path, {
          key: tenantKey,
          body: { to: '6281234567890', type: 'image', media: { url } },
        })
        expect(media.status).toBe(429)
        expect(fetched).toBe(0)
      } finally {
        files.close()
      }
    } finally {
      await limited.close()
    }
  })

  it('stores a location, contacts, a reply with mentions and a reaction, echoing their fields', async () => {
    const to = '6281234567891'
    const location = { latitude: -6.175392, longitude: 106.827153, name: 'Monas', address: 'Gambir' }
    const pinned = await send({ to, type: 'location', location })
    expect(pinned.status).toBe(202)
    expect(pinned.body).toMatchObject({ type: 'location', text: null, location, status: 'queued' })
    const contacts = [{ name: 'Budi', phone: '6281300000001' }]
    const card = await send({ to, type: 'contact', contacts, replyTo: pinned.body.id })
    expect(card.body).toMatchObject({ type: 'contact', contacts, replyTo: pinned.body.id })
    const reply = await send({
      to,
      text: 'lihat ini @6281300000001',
      replyTo: pinned.body.id,
      mentions: ['6281300000001'],
    })
    expect(reply.body).toMatchObject({ type: 'text', replyTo: pinned.body.id, mentions: ['6281300000001'] })
    const reaction = await send({ to, type: 'reaction', reaction: { messageId: reply.body.id, emoji: '👍' } })
    expect(reaction.status).toBe(202)
    expect(reaction.body).toMatchObject({
      type: 'reaction',
      reaction: { messageId: reply.body.id, emoji: '👍' },
    })
    const fetched = await api.call('GET', `/v1/sessions/${sessionId}/messages/${card.body.id}`, { key })
    expect(fetched.body).toEqual(card.body)
  })

  it('rejects bad input on the fields of every kind, naming the field and storing nothing', async () => {
    const to = '6281234567892'
    const earlier = (await send({ to, text: 'earlier' })).body.id as string
    const elsewhere = (await send({ to: '6281234567893', text: 'another chat' })).body.id as string
    const before = await snapshotDatabase(api)
    const cases: { body: unknown; status: number; field: string }[] = [
      { body: { to, type: 'carousel', text: 'x' }, status: 400, field: 'body.type' },
      { body: { to, type: 'video', text: 'x' }, status: 400, field: 'body.text' },
      { body: { to, type: 'location' }, status: 400, field: 'body.location' },
      {
        body: { to, type: 'location', location: { latitude: 91, longitude: 0 } },
        status: 400,
        field: 'body.location.latitude',
      },
      {
        body: { to, type: 'location', location: { latitude: 0, longitude: -181 } },
        status: 400,
        field: 'body.location.longitude',
      },
      {
        body: { to, type: 'location', location: { latitude: '1', longitude: 2 } },
        status: 400,
        field: 'body.location.latitude',
      },
      {
        body: { to, type: 'location', location: { latitude: 1, longitude: 2 }, text: 'x' },
        status: 400,
        field: 'body.text',
      },
      { body: { to, type: 'contact', contacts: [] }, status: 400, field: 'body.contacts' },
      { body: { to, type: 'contact' }, status: 400, field: 'body.contacts' },
      {
        body: { to, type: 'contact', contacts: [{ name: 'A', phone: 'abc' }] },
        status: 400,
        field: 'body.contacts.0.phone',
      },
      {
        body: { to, type: 'contact', contacts: [{ phone: '6281300000001' }] },
        status: 400,
        field: 'body.contacts.0.name',
      },
      { body: { to, type: 'reaction' }, status: 400, field: 'body.reaction' },
      {
        body: { to, type: 'reaction', reaction: { messageId: 'msg_nothere', emoji: '👍' } },
        status: 400,
        field: 'body.reaction.messageId',
      },
      {
        body: { to, type: 'reaction', reaction: { messageId: elsewhere, emoji: '👍' } },
        status: 400,
        field: 'body.reaction.messageId',
      },
      {
        body: { to, type: 'reaction', reaction: { messageId: earlier, emoji: '👍' }, replyTo: earlier },
        status: 400,
        field: 'body.replyTo',
      },
      { body: { to, text: 'x', replyTo: 'msg_nothere' }, status: 400, field: 'body.replyTo' },
      { body: { to, text: 'x', replyTo: 'not-an-id' }, status: 400, field: 'body.replyTo' },
      { body: { to, text: 'x', mentions: ['+62 812'] }, status: 400, field: 'body.mentions.0' },
      { body: { to, text: 'x', mentions: 'everyone' }, status: 400, field: 'body.mentions' },
      { body: { to, type: 'list', text: 'pick one' }, status: 422, field: 'body.type' },
      { body: { to, type: 'buttons', text: 'pick one' }, status: 422, field: 'body.type' },
    ]
    for (const testCase of cases) {
      const response = await send(testCase.body)
      const label = JSON.stringify(testCase.body)
      expect(response.status, label).toBe(testCase.status)
      expect(response.body.error.field, label).toBe(testCase.field)
      expect(response.body.error.message, label).toContain(testCase.field)
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('rejects bad input with the field and the reason, changing nothing', async () => {
    const before = await snapshotDatabase(api)
    const cases: {
      body?: unknown
      rawBody?: string
      headers?: Record<string, string>
      status: number
      code: string
      field?: string
      reason?: RegExp
    }[] = [
      {
        body: { to: 'abc', text: 'x' },
        status: 400,
        code: 'validation_failed',
        field: 'body.to',
        reason: /characters that are not part of a phone number/,
      },
      {
        body: { to: '+', text: 'x' },
        status: 400,
        code: 'validation_failed',
        field: 'body.to',
        reason: /too short/,
      },
      {
        body: { to: '0812', text: 'x' },
        status: 400,
        code: 'validation_failed',
        field: 'body.to',
        reason: /too short/,
      },
      {
        body: { to: '62 812+3456', text: 'x' },
        status: 400,
        code: 'validation_failed',
        field: 'body.to',
        reason: /'\+'/,
      },
      {
        body: { to: '1234567890123456789', text: 'x' },
        status: 400,
        code: 'validation_failed',
        field: 'body.to',
        reason: /too long/,
      },
      {
        body: { to: 'someone@example.com', text: 'x' },
        status: 400,
        code: 'validation_failed',
        field: 'body.to',
        reason: /JID/,
      },
      {
        body: { to: '', text: 'x' },
        status: 400,
        code: 'validation_failed',
        field: 'body.to',
        reason: /empty/,
      },
      {
        body: { to: 6281234567890, text: 'x' },
        status: 400,
        code: 'validation_failed',
        field: 'body.to',
        reason: /string/,
      },
      { body: { text: 'x' }, status: 400, code: 'validation_failed', field: 'body.to', reason: /required/ },
      {
        body: { to: '6281234567890' },
        status: 400,
        code: 'validation_failed',
        field: 'body.text',
        reason: /required/,
      },
      {
        body: { to: '6281234567890', text: '' },
        status: 400,
        code: 'validation_failed',
        field: 'body.text',
        reason: /empty/,
      },
      {
        body: { to: '6281234567890', text: 'x'.repeat(4097) },
        status: 400,
        code: 'validation_failed',
        field: 'body.text',
        reason: /4096/,
      },
      {
        body: { to: '6281234567890', text: 'a\u0000b' },
        status: 400,
        code: 'validation_failed',
        field: 'body.text',
        reason: /NUL/,
      },
      {
        body: { to: '6281234567890', text: ['x'] },
        status: 400,
        code: 'validation_failed',
        field: 'body.text',
      },
      { body: 'just a string', status: 400, code: 'validation_failed', field: 'body' },
      {
        rawBody: '{"to":"6281234567890","text":"x"',
        headers: { 'content-type': 'application/json' },
        status: 400,
        code: 'invalid_json',
      },
      {
        body: { to: '6281234567890', text: 'x' },
        headers: { 'idempotency-key': 'x'.repeat(256) },
        status: 400,
        code: 'validation_failed',
        field: 'header.idempotency-key',
      },
      {
        body: { to: '6281234567890', text: 'x' },
        headers: { 'idempotency-key': 'tab\there' },
        status: 400,
        code: 'validation_failed',
        field: 'header.idempotency-key',
      },
      {
        body: { to: '6281234567890', text: 'x' },
        headers: { 'idempotency-key': 'ünïcode' },
        status: 400,
        code: 'validation_failed',
        field: 'header.idempotency-key',
      },
    ]
    for (const testCase of cases) {
      const response = await api.call('POST', `/v1/sessions/${sessionId}/messages`, {
        key,
        body: testCase.body,
        rawBody: testCase.rawBody,
        headers: testCase.headers,
      })
      const label = JSON.stringify(testCase.body ?? testCase.rawBody)
      expect(response.status, label).toBe(testCase.status)
      expect(response.body.error.code, label).toBe(testCase.code)
      if (testCase.field) expect(response.body.error.field, label).toBe(testCase.field)
      if (testCase.reason) expect(response.body.error.message, label).toMatch(testCase.reason)
    }
    const unknownSession = await api.call('POST', '/v1/sessions/ses_unknown/messages', {
      key,
      body: { to: '6281234567890', text: 'x' },
    })
    expect(unknownSession.status).toBe(404)
    const unknownMessage = await api.call('GET', `/v1/sessions/${sessionId}/messages/msg_unknown`, { key })
    expect(unknownMessage.status).toBe(404)
    expect(unknownMessage.body.error.message).toBe('message not found')
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})
