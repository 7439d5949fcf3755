import { serveMetrics } from '@wa-cluster/core'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openApiDocument } from '../../src/app.js'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let tenantKey: string
beforeAll(async () => {
  api = await createTestApi('cp_http')
  tenantKey = (await createTenantThroughApi(api, 'Http')).apiKey
})
afterAll(async () => {
  await api?.close()
})

/** Every route the API promises, as the OpenAPI document must list it. */
const EXPECTED_OPERATIONS = [
  'post /v1/tenants',
  'get /v1/tenants',
  'get /v1/tenants/{tenantId}',
  'get /v1/tenants/{tenantId}/stats',
  'get /v1/tenant',
  'patch /v1/tenants/{tenantId}',
  'delete /v1/tenants/{tenantId}',
  'post /v1/tenants/{tenantId}/api-keys',
  'get /v1/tenants/{tenantId}/api-keys',
  'delete /v1/tenants/{tenantId}/api-keys/{apiKeyId}',
  'get /v1/nodes',
  'get /v1/nodes/{nodeId}/sessions',
  'post /v1/nodes/{nodeId}/drain',
  'post /v1/nodes/{nodeId}/activate',
  'post /v1/rebalance',
  'post /v1/sessions/{sessionId}/move',
  'post /v1/sessions',
  'get /v1/sessions',
  'get /v1/sessions/{sessionId}',
  'delete /v1/sessions/{sessionId}',
  'post /v1/sessions/{sessionId}/connect',
  'post /v1/sessions/{sessionId}/link',
  'get /v1/sessions/{sessionId}/qr',
  'post /v1/sessions/{sessionId}/disconnect',
  'post /v1/sessions/{sessionId}/logout',
  'post /v1/sessions/{sessionId}/messages',
  'get /v1/sessions/{sessionId}/messages',
  'get /v1/sessions/{sessionId}/messages/{messageId}',
  'patch /v1/sessions/{sessionId}/messages/{messageId}',
  'delete /v1/sessions/{sessionId}/messages/{messageId}',
  'get /v1/sessions/{sessionId}/messages/{messageId}/media',
  'get /v1/messages',
  'get /v1/sessions/{sessionId}/chats',
  'get /v1/sessions/{sessionId}/chats/{chatId}/messages',
  'get /v1/sessions/{sessionId}/contacts',
  'post /v1/sessions/{sessionId}/chats/{chatId}/read',
  'post /v1/sessions/{sessionId}/presence',
  'post /v1/sessions/{sessionId}/contacts/check',
  'get /v1/sessions/{sessionId}/groups',
  'get /v1/sessions/{sessionId}/stats',
  'get /v1/stats',
  'post /v1/sessions/{sessionId}/broadcasts',
  'get /v1/sessions/{sessionId}/broadcasts',
  'get /v1/broadcasts/{broadcastId}',
  'get /v1/broadcasts/{broadcastId}/recipients',
  'post /v1/broadcasts/{broadcastId}/pause',
  'post /v1/broadcasts/{broadcastId}/resume',
  'post /v1/broadcasts/{broadcastId}/cancel',
  'put /v1/templates/{name}',
  'get /v1/templates',
  'get /v1/templates/{name}',
  'delete /v1/templates/{name}',
  'put /v1/webhook',
  'get /v1/webhook',
  'delete /v1/webhook',
  'get /v1/webhooks',
  'post /v1/webhooks',
  'get /v1/webhooks/{webhookId}',
  'patch /v1/webhooks/{webhookId}',
  'delete /v1/webhooks/{webhookId}',
  'post /v1/webhooks/{webhookId}/rotate-secret',
  'post /v1/webhooks/{webhookId}/test',
  'get /v1/webhooks/{webhookId}/deliveries',
  'post /v1/webhooks/{webhookId}/deliveries/{eventId}/redeliver',
  'post /v1/webhooks/{webhookId}/redeliver',
  'get /v1/events',
  'get /v1/events/stream',
  'get /v1/events/ws',
  'post /v1/stream-tokens',
  'post /v1/events/{eventId}/redeliver',
  'post /v1/events/redeliver',
  'get /v1/dead-letters',
  'post /v1/dead-letters/redeliver',
  'get /health',
  'get /ready',
  'get /openapi.json',
  'get /docs',
]

describe('documentation and operations endpoints', () => {
  it('serves an OpenAPI document listing every route with request and response schemas', async () => {
    const response = await api.call('GET', '/openapi.json')
    expect(response.status).toBe(200)
    const document = JSON.parse(response.text)
    expect(document.openapi).toBe('3.1.0')
    const operations = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`),
    )
    expect(operations.sort()).toEqual([...EXPECTED_OPERATIONS].sort())
    const send = document.paths['/v1/sessions/{sessionId}/messages'].post
    expect(send.requestBody.content['application/json'].schema).toBeDefined()
    expect(send.responses['202']).toBeDefined()
    expect(send.parameters.map((parameter: { name: string }) => parameter.name)).toContain('idempotency-key')
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' })
    // The document the client is generated from and the lint reads is the one served.
    expect(document).toEqual(openApiDocument())
  })

  it('serves interactive docs at /docs', async () => {
    const response = await api.call('GET', '/docs')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/text\/html/)
    expect(response.text).toContain('/openapi.json')
  })

  it('answers /health and /ready without a key', async () => {
    expect(await api.call('GET', '/health')).toMatchObject({ status: 200, body: { status: 'ok' } })
    expect(await api.call('GET', '/ready')).toMatchObject({
      status: 200,
      body: { status: 'ready', checks: { database: 'ok', coordinator: 'ok' } },
    })
  })

  it('/ready answers 503 naming the dependency that failed', async () => {
    const ping = api.ctx.coordinator.ping
    api.ctx.coordinator.ping = async () => {
      throw new Error('redis is down')
    }
    try {
      const response = await api.call('GET', '/ready')
      expect(response.status).toBe(503)
      expect(response.body).toEqual({
        status: 'not_ready',
        checks: { database: 'ok', coordinator: 'failed' },
      })
    } finally {
      api.ctx.coordinator.ping = ping
    }
  })

  it('/metrics is not on the public port: 404, whatever the key', async () => {
    for (const key of [undefined, tenantKey, TEST_ADMIN_KEY]) {
      const response = await api.call('GET', '/metrics', key ? { key } : {})
      expect(response.status).toBe(404)
      expect(response.text).not.toContain('http_requests_total')
    }
  })

  it('the metrics listener (METRICS_PORT) exposes the HTTP counter and histogram by route template', async () => {
    await api.call('GET', '/v1/sessions/ses_nothere', { key: tenantKey })
    const metrics = await serveMetrics(api.ctx.metrics, { port: 0, host: '127.0.0.1' })
    try {
      const response = await fetch(metrics.url)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toMatch(/text\/plain/)
      const text = await response.text()
      expect(text).toMatch(
        /http_requests_total\{route="\/v1\/sessions\/:sessionId",method="GET",status="404"\} \d+/,
      )
      expect(text).toContain('http_request_duration_seconds_bucket')
      expect(text).not.toContain('ses_nothere')
      expect((await fetch(metrics.url.replace('/metrics', '/v1/tenants'))).status).toBe(404)
    } finally {
      await metrics.close()
    }
  })
})

describe('request handling', () => {
  it('echoes a given x-request-id and generates one otherwise, in the header and every error body', async () => {
    const given = await api.call('GET', '/v1/sessions/ses_missing', {
      key: tenantKey,
      headers: { 'x-request-id': 'trace-123' },
    })
    expect(given.headers.get('x-request-id')).toBe('trace-123')
    expect(given.body.error.requestId).toBe('trace-123')
    const generated = await api.call('GET', '/v1/sessions/ses_missing', { key: tenantKey })
    const requestId = generated.headers.get('x-request-id')
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/)
    expect(generated.body.error.requestId).toBe(requestId)
    // A header value unsafe for logs is replaced, not echoed.
    const unsafe = await api.call('GET', '/health', { headers: { 'x-request-id': 'a b\tc' } })
    expect(unsafe.headers.get('x-request-id')).toMatch(/^req_/)
  })

  it('answers unknown routes with a JSON 404', async () => {
    const response = await api.call('GET', '/v1/nothing-here', { key: tenantKey })
    expect(response.status).toBe(404)
    expect(response.body.error).toMatchObject({ code: 'not_found', requestId: expect.any(String) })
    const wrongMethod = await api.call('PATCH', '/v1/sessions', { key: tenantKey })
    expect(wrongMethod.status).toBe(404)
    expect(wrongMethod.body.error.code).toBe('not_found')
  })

  it('refuses bodies over 1 MiB with 413 and non-JSON bodies with 415, changing nothing', async () => {
    const before = await snapshotDatabase(api)
    const huge = await api.call('POST', '/v1/sessions', {
      key: tenantKey,
      body: { name: 'x'.repeat(1024 * 1024 + 10) },
    })
    expect(huge.status).toBe(413)
    expect(huge.body.error.code).toBe('payload_too_large')
    const hugeTenant = await api.call('POST', '/v1/tenants', {
      key: TEST_ADMIN_KEY,
      body: { name: 'x'.repeat(1024 * 1024 + 10) },
    })
    expect(hugeTenant.status).toBe(413)
    const form = await api.call('POST', '/v1/sessions', {
      key: tenantKey,
      rawBody: 'name=front',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(form.status).toBe(415)
    expect(form.body.error.code).toBe('unsupported_media_type')
    const text = await api.call('PUT', '/v1/webhook', {
      key: tenantKey,
      rawBody: 'https://example.com',
      headers: { 'content-type': 'text/plain' },
    })
    expect(text.status).toBe(415)
    const noContentType = await api.call('POST', '/v1/tenants', {
      key: TEST_ADMIN_KEY,
      rawBody: '{"name":"x"}',
    })
    expect(noContentType.status).toBe(415)
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('logs one JSON line per request with requestId, tenantId and sessionId, never the key', async () => {
    const lines: string[] = []
    const logger = api.ctx.logger
    api.ctx.logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
    try {
      const session = await api.call('POST', '/v1/sessions', { key: tenantKey, body: {} })
      await api.call('GET', `/v1/sessions/${session.body.id}`, {
        key: tenantKey,
        headers: { 'x-request-id': 'log-test-1' },
      })
    } finally {
      api.ctx.logger = logger
    }
    const entries = lines.map((line) => JSON.parse(line))
    const get = entries.find((entry) => entry.requestId === 'log-test-1')
    expect(get).toMatchObject({
      msg: 'request',
      status: 200,
      route: '/v1/sessions/:sessionId',
      sessionId: expect.stringMatching(/^ses_/),
    })
    expect(get.tenantId).toMatch(/^ten_/)
    expect(lines.join('\n')).not.toContain(tenantKey)
    expect(lines.join('\n').toLowerCase()).not.toContain('authorization')
  })
})
