import { sessions } from '@wa-cluster/db'
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
beforeAll(async () => {
  api = await createTestApi('cp_sessions')
  key = (await createTenantThroughApi(api, 'Sessions')).apiKey
})
afterAll(async () => {
  await api?.close()
})

/** A 1×1 PNG, standing in for the QR image an owner renders. */
const PNG_1x1 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='

async function newSession(name?: string): Promise<string> {
  const response = await api.call('POST', '/v1/sessions', { key, body: name === undefined ? {} : { name } })
  expect(response.status).toBe(201)
  return response.body.id
}

describe('sessions', () => {
  it('creates, lists, gets and deletes a session', async () => {
    const created = await api.call('POST', '/v1/sessions', { key, body: { name: 'front desk' } })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^ses_/),
      name: 'front desk',
      state: 'DISCONNECTED',
      desiredState: 'disconnected',
    })
    const sessionId = created.body.id

    const list = await api.call('GET', '/v1/sessions', { key })
    expect(list.body.data.map((session: { id: string }) => session.id)).toContain(sessionId)
    expect((await api.call('GET', `/v1/sessions/${sessionId}`, { key })).body).toEqual(created.body)

    expect((await api.call('DELETE', `/v1/sessions/${sessionId}`, { key })).status).toBe(204)
    expect((await api.call('GET', `/v1/sessions/${sessionId}`, { key })).status).toBe(404)
  })

  it('creates a session from an empty body (name defaults to the id)', async () => {
    const response = await api.call('POST', '/v1/sessions', { key })
    expect(response.status).toBe(201)
    expect(response.body.name).toBe(response.body.id)
  })

  it('connect without any session-node answers 503, not a hang or a 500', async () => {
    const sessionId = await newSession()
    const response = await api.call('POST', `/v1/sessions/${sessionId}/connect`, {
      key,
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    })
    expect(response.status).toBe(503)
    expect(response.body.error.code).toBe('unavailable')
  })

  it('GET /qr is 409 when not waiting for a scan, JSON or PNG when it is', async () => {
    const sessionId = await newSession()
    const notWaiting = await api.call('GET', `/v1/sessions/${sessionId}/qr`, { key })
    expect(notWaiting.status).toBe(409)
    expect(notWaiting.body.error.code).toBe('not_waiting_for_scan')

    // What an owner writes: the QR and its image, rendered once (the API renders nothing).
    const qrImage = `data:image/png;base64,${PNG_1x1}`
    await api.ctx.database.db
      .update(sessions)
      .set({ state: 'QR_READY', qr: '2@abc,def,ghi', qrImage, qrExpiresAt: new Date(Date.now() + 60_000) })
      .where(eq(sessions.id, sessionId))
    const json = await api.call('GET', `/v1/sessions/${sessionId}/qr`, { key })
    expect(json.status).toBe(200)
    expect(json.body).toMatchObject({ state: 'QR_READY', qr: '2@abc,def,ghi', qrImage })

    const png = await api.app.request(`/v1/sessions/${sessionId}/qr`, {
      headers: { authorization: `Bearer ${key}`, accept: 'image/png' },
    })
    expect(png.status).toBe(200)
    expect(png.headers.get('content-type')).toBe('image/png')
    const bytes = Buffer.from(await png.arrayBuffer())
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    expect(bytes).toEqual(Buffer.from(PNG_1x1, 'base64'))
  })

  it('disconnect keeps a resting session DISCONNECTED; logout moves it to LOGGED_OUT', async () => {
    const sessionId = await newSession()
    const disconnected = await api.call('POST', `/v1/sessions/${sessionId}/disconnect`, { key })
    expect(disconnected.status).toBe(200)
    expect(disconnected.body).toMatchObject({ id: sessionId, state: 'DISCONNECTED' })
    const loggedOut = await api.call('POST', `/v1/sessions/${sessionId}/logout`, { key })
    expect(loggedOut.status).toBe(200)
    expect(loggedOut.body).toMatchObject({ id: sessionId, state: 'LOGGED_OUT' })
  })

  it('rejects bad input on every session endpoint with the field, changing nothing', async () => {
    const sessionId = await newSession('bad input target')
    const before = await snapshotDatabase(api)
    const json = { 'content-type': 'application/json' }
    const cases: {
      method: string
      path: string
      body?: unknown
      rawBody?: string
      status: number
      code: string
      field?: string
    }[] = [
      {
        method: 'POST',
        path: '/v1/sessions',
        body: { name: 5 },
        status: 400,
        code: 'validation_failed',
        field: 'body.name',
      },
      {
        method: 'POST',
        path: '/v1/sessions',
        body: { name: '' },
        status: 400,
        code: 'validation_failed',
        field: 'body.name',
      },
      {
        method: 'POST',
        path: '/v1/sessions',
        body: { tenantId: 'ten_other' },
        status: 400,
        code: 'validation_failed',
        field: 'body',
      },
      { method: 'POST', path: '/v1/sessions', rawBody: '{name: x}', status: 400, code: 'invalid_json' },
      {
        method: 'POST',
        path: '/v1/sessions',
        body: null,
        status: 400,
        code: 'validation_failed',
        field: 'body',
      },
      { method: 'GET', path: '/v1/sessions/ses_unknown', status: 404, code: 'not_found' },
      { method: 'GET', path: '/v1/sessions/%00', status: 404, code: 'not_found' },
      { method: 'DELETE', path: '/v1/sessions/ses_unknown', status: 404, code: 'not_found' },
      { method: 'POST', path: '/v1/sessions/ses_unknown/connect', body: {}, status: 404, code: 'not_found' },
      {
        method: 'POST',
        path: `/v1/sessions/${sessionId}/connect`,
        body: { pairingPhone: 12345 },
        status: 400,
        code: 'validation_failed',
        field: 'body.pairingPhone',
      },
      {
        method: 'POST',
        path: `/v1/sessions/${sessionId}/connect`,
        body: { pairingPhone: 'abc' },
        status: 400,
        code: 'validation_failed',
        field: 'body.pairingPhone',
      },
      {
        method: 'POST',
        path: `/v1/sessions/${sessionId}/connect`,
        body: { pairingPhone: '120363@g.us' },
        status: 400,
        code: 'validation_failed',
        field: 'body.pairingPhone',
      },
      {
        method: 'POST',
        path: `/v1/sessions/${sessionId}/connect`,
        rawBody: '[',
        status: 400,
        code: 'invalid_json',
      },
      { method: 'GET', path: '/v1/sessions/ses_unknown/qr', status: 404, code: 'not_found' },
      { method: 'POST', path: '/v1/sessions/ses_unknown/disconnect', status: 404, code: 'not_found' },
      { method: 'POST', path: '/v1/sessions/ses_unknown/logout', status: 404, code: 'not_found' },
    ]
    for (const testCase of cases) {
      const response = await api.call(testCase.method, testCase.path, {
        key,
        body: testCase.body,
        rawBody: testCase.rawBody,
        headers: testCase.rawBody !== undefined ? json : undefined,
      })
      const label = `${testCase.method} ${testCase.path} ${JSON.stringify(testCase.body ?? testCase.rawBody)}`
      expect(response.status, label).toBe(testCase.status)
      expect(response.body.error.code, label).toBe(testCase.code)
      if (testCase.field) {
        expect(response.body.error.field, label).toBe(testCase.field)
        expect(response.body.error.message, label).toContain(testCase.field)
      }
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })
})
