import net from 'node:net'
import { serve } from '@hono/node-server'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../../../test-support/wait.js'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

/** Input the API used to change silently (U+FFFD, ignored bodies, hex numbers) is refused instead. */

let api: TestApi
let tenantKey: string
let tenantId: string
let sessionId: string

beforeAll(async () => {
  api = await createTestApi('cp_request_body')
  ;({ apiKey: tenantKey, tenantId } = await createTenantThroughApi(api, 'Bodies'))
  sessionId = (await api.call('POST', '/v1/sessions', { key: tenantKey, body: { name: 'target' } })).body.id
})
afterAll(async () => {
  await api?.close()
})

/** Sends exact bytes, as a client with a broken encoder would. */
async function sendBytes(
  method: string,
  path: string,
  bytes: Uint8Array,
  contentType = 'application/json',
  key = tenantKey,
) {
  const response = await api.app.request(path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': contentType },
    body: bytes,
  })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined }
}

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'))

describe('text that is not valid Unicode is refused, never replaced with U+FFFD', () => {
  it('refuses bytes that are not UTF-8 with 400 invalid_json, storing nothing', async () => {
    const before = await snapshotDatabase(api)
    // "café" with é in Latin-1 (0xE9): a lone lead byte in UTF-8.
    const latin1 = new Uint8Array([...utf8('{"name":"caf'), 0xe9, ...utf8('"}')])
    const created = await sendBytes('POST', '/v1/sessions', latin1)
    expect(created.status).toBe(400)
    expect(created.body.error).toMatchObject({
      code: 'invalid_json',
      message: 'request body is not valid UTF-8',
    })
    // An overlong encoding of "/" and a UTF-8-encoded surrogate (ED A0 80) are not UTF-8 either.
    for (const bad of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
    ]) {
      const body = new Uint8Array([...utf8('{"url":"https://example.com/'), ...bad, ...utf8('"}')])
      const webhook = await sendBytes('PUT', '/v1/webhook', body)
      expect(webhook.status).toBe(400)
      expect(webhook.body.error.code).toBe('invalid_json')
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('refuses a lone surrogate written as a JSON escape, naming the field', async () => {
    const before = await snapshotDatabase(api)
    const cases: { method: string; path: string; raw: string; field: string; key?: string }[] = [
      { method: 'POST', path: '/v1/sessions', raw: '{"name":"front \\ud800 desk"}', field: 'body.name' },
      { method: 'POST', path: '/v1/sessions', raw: '{"name":"\\udfff"}', field: 'body.name' },
      // A low surrogate before its high one is still two lone halves.
      { method: 'POST', path: '/v1/sessions', raw: '{"name":"\\ude00\\ud83d"}', field: 'body.name' },
      { method: 'POST', path: '/v1/sessions', raw: '{"\\ud800":"x"}', field: 'body' },
      {
        method: 'POST',
        path: `/v1/sessions/${sessionId}/messages`,
        raw: '{"to":"081234567890","text":"hasil lab \\ud83d"}',
        field: 'body.text',
      },
      {
        method: 'PUT',
        path: '/v1/webhook',
        raw: '{"url":"https://example.com/hook","events":["connection.update","\\udc00"]}',
        field: 'body.events.1',
      },
      {
        method: 'POST',
        path: '/v1/tenants',
        raw: '{"name":"Klinik \\ud800"}',
        field: 'body.name',
        key: TEST_ADMIN_KEY,
      },
    ]
    for (const testCase of cases) {
      const response = await api.call(testCase.method, testCase.path, {
        key: testCase.key ?? tenantKey,
        rawBody: testCase.raw,
        headers: { 'content-type': 'application/json' },
      })
      expect(response.status, testCase.raw).toBe(400)
      expect(response.body.error, testCase.raw).toMatchObject({
        code: 'validation_failed',
        field: testCase.field,
      })
      expect(response.body.error.message).toContain('lone surrogate')
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('walks a deeply nested body without overflowing: 400 naming the field, never a 500', async () => {
    const depth = 200_000
    const nested = await api.call('POST', '/v1/sessions', {
      key: tenantKey,
      rawBody: `{"name":${'['.repeat(depth)}"\\ud800"${']'.repeat(depth)}}`,
      headers: { 'content-type': 'application/json' },
    })
    expect(nested.status).toBe(400)
    expect(nested.body.error.code).toBe('validation_failed')
    expect(nested.body.error.field).toMatch(/^body\.name(\.0)+$/)
    const wellFormed = await api.call('POST', '/v1/sessions', {
      key: tenantKey,
      rawBody: `{"name":${'['.repeat(depth)}"ok"${']'.repeat(depth)}}`,
      headers: { 'content-type': 'application/json' },
    })
    expect(wellFormed.status).toBe(400)
    expect(wellFormed.body.error.field).toBe('body.name')
  })

  it('keeps well-formed text outside the BMP, whether escaped or sent as UTF-8', async () => {
    const escaped = await api.call('POST', '/v1/sessions', {
      key: tenantKey,
      rawBody: '{"name":"klinik \\ud83d\\ude00"}',
      headers: { 'content-type': 'application/json' },
    })
    expect(escaped.status).toBe(201)
    expect(escaped.body.name).toBe('klinik 😀')
    const raw = await sendBytes('POST', '/v1/sessions', utf8('{"name":"apotek 🩺 Jl. Merdeka"}'))
    expect(raw.status).toBe(201)
    expect(raw.body.name).toBe('apotek 🩺 Jl. Merdeka')
  })
})

describe('a body on an endpoint that takes none', () => {
  it('answers 400 invalid_json when it is not JSON, and changes nothing', async () => {
    const before = await snapshotDatabase(api)
    for (const path of ['disconnect', 'logout', 'connect']) {
      const response = await api.call('POST', `/v1/sessions/${sessionId}/${path}`, {
        key: tenantKey,
        rawBody: '{"pairingPhone":',
        headers: { 'content-type': 'application/json' },
      })
      expect(response.status, path).toBe(400)
      expect(response.body.error.code, path).toBe('invalid_json')
    }
    const deleted = await api.call('DELETE', `/v1/sessions/${sessionId}`, {
      key: tenantKey,
      rawBody: 'yes please',
      headers: { 'content-type': 'application/json' },
    })
    expect(deleted.status).toBe(400)
    expect(deleted.body.error.code).toBe('invalid_json')
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('still accepts no body, an empty one, or a valid JSON one', async () => {
    const bare = await api.call('POST', `/v1/sessions/${sessionId}/disconnect`, { key: tenantKey })
    expect(bare.status).toBe(200)
    const empty = await api.call('POST', `/v1/sessions/${sessionId}/disconnect`, {
      key: tenantKey,
      rawBody: '',
      headers: { 'content-type': 'application/json' },
    })
    expect(empty.status).toBe(200)
    const json = await api.call('POST', `/v1/sessions/${sessionId}/disconnect`, { key: tenantKey, body: {} })
    expect(json.status).toBe(200)
  })

  it('every operation that writes refuses malformed JSON with 400 invalid_json (from the OpenAPI document)', async () => {
    const document = JSON.parse((await api.call('GET', '/openapi.json')).text) as {
      paths: Record<string, Record<string, { tags?: string[] }>>
    }
    const ids: Record<string, string> = {
      sessionId,
      tenantId,
      apiKeyId: 'key_0000000000',
      messageId: 'msg_0000000000',
      eventId: 'evt_0000000000',
      nodeId: 'node-a',
      webhookId: 'whe_0000000000',
    }
    let checked = 0
    for (const [template, operations] of Object.entries(document.paths)) {
      if (!template.startsWith('/v1/')) continue
      for (const [method, operation] of Object.entries(operations)) {
        if (method === 'get') continue
        const path = template.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? 'x')
        const key = operation.tags?.some((tag) => tag.startsWith('Operator')) ? TEST_ADMIN_KEY : tenantKey
        const response = await api.call(method.toUpperCase(), path, {
          key,
          rawBody: '{"unterminated',
          headers: { 'content-type': 'application/json' },
        })
        expect(response.status, `${method} ${template}`).toBe(400)
        expect(response.body.error.code, `${method} ${template}`).toBe('invalid_json')
        checked++
      }
    }
    expect(checked).toBeGreaterThan(15)
  })
})

describe('content types', () => {
  it('answers 415 for any charset other than UTF-8', async () => {
    const body = Buffer.from('{"name":"utf16"}', 'utf16le')
    for (const contentType of [
      'application/json; charset=utf-16',
      'application/json; charset=UTF-16LE',
      'application/json;charset="iso-8859-1"',
    ]) {
      const response = await sendBytes('POST', '/v1/sessions', new Uint8Array(body), contentType)
      expect(response.status, contentType).toBe(415)
      expect(response.body.error.code, contentType).toBe('unsupported_media_type')
    }
    for (const contentType of [
      'application/json; charset=utf-8',
      'application/json; charset="UTF-8"',
      'application/json;charset=utf8',
    ]) {
      const response = await sendBytes('POST', '/v1/sessions', utf8('{"name":"utf8"}'), contentType)
      expect(response.status, contentType).toBe(201)
    }
  })
})

describe('query integers', () => {
  it('accepts plain decimal digits only', async () => {
    for (const limit of ['0x10', '1e1', '+10', ' 10', '10.0', '0b11', '-1', '']) {
      for (const path of ['/v1/events', '/v1/sessions']) {
        const response = await api.call('GET', `${path}?limit=${encodeURIComponent(limit)}`, {
          key: tenantKey,
        })
        expect(response.status, `${path} limit=${limit}`).toBe(400)
        expect(response.body.error, `${path} limit=${limit}`).toMatchObject({
          code: 'validation_failed',
          field: 'query.limit',
        })
      }
    }
    expect((await api.call('GET', '/v1/events?limit=10', { key: tenantKey })).status).toBe(200)
    expect((await api.call('GET', '/v1/events?limit=010', { key: tenantKey })).status).toBe(200)
  })
})

describe('a client that hangs up mid-upload', () => {
  it('is counted and logged as 499, not as a 500 with a stack', async () => {
    const lines: string[] = []
    const logger = api.ctx.logger
    api.ctx.logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
    const server = serve({ fetch: api.app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    const { port } = server.address() as net.AddressInfo
    const hangUp = async (headers: string, partial: string) => {
      const socket = net.connect({ host: '127.0.0.1', port })
      await new Promise((resolve) => socket.once('connect', resolve))
      socket.write(
        `POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${tenantKey}\r\nContent-Type: application/json\r\n${headers}\r\n${partial}`,
      )
      await new Promise((resolve) => setTimeout(resolve, 100))
      socket.destroy()
    }
    try {
      await hangUp('Content-Length: 5000\r\n', '{"name":"half')
      await hangUp('Transfer-Encoding: chunked\r\n', '8\r\n{"name":\r\n')
      const counted = await eventually('two aborted uploads counted', async () => {
        const metric = await api.ctx.metrics.getSingleMetricAsString('http_requests_total')
        const match = /http_requests_total\{route="\/v1\/sessions",method="POST",status="499"\} (\d+)/.exec(
          metric,
        )
        return match && Number(match[1]) >= 2 ? metric : undefined
      })
      expect(counted).not.toMatch(/status="5\d\d"/)
      const entries = lines.map((line) => JSON.parse(line))
      const requests = entries.filter((entry) => entry.msg === 'request' && entry.route === '/v1/sessions')
      expect(requests.map((entry) => entry.status)).toEqual([499, 499])
      expect(entries.filter((entry) => entry.level >= 50)).toEqual([])
      expect(lines.join('\n')).not.toContain('"stack"')
    } finally {
      api.ctx.logger = logger
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
