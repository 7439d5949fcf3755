import { appendEvent } from '@wa-cluster/core'
import { authCreds, sessions } from '@wa-cluster/db'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  apiDocument,
  fillPath,
  isOperatorOperation,
  isPublicOperation,
  listOperations,
  validValue,
} from '../support/openapi-operations.js'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let tenantA: { tenantId: string; apiKey: string }
let keyA: string
let keyB: string
let sessionA: string
let messageA: string
let eventA: string
let webhookSecretA: string
let apiKeyIdA: string
let webhookEndpointA: string
let broadcastA: string

const document = apiDocument()
const operations = listOperations(document)

/**
 * Operations the path-id sweep below does not call, each with the reason. An operation that is neither
 * swept nor listed here fails the first test, so a new endpoint is covered the day it is added.
 */
const NOT_SWEPT: Record<string, string> = {
  getHealth: 'public: no key, no tenant data',
  getReadiness: 'public: no key, no tenant data',
  getOpenApiDocument: 'public: no key, no tenant data',
  getApiDocs: 'public: no key, no tenant data',
  getOwnTenant: 'no path id: answers the tenant of the key, never another',
  getStats: 'no path id: counts the messages of the key’s own tenant only',
  createSession: 'no path id: the tenant comes from the key; creates in the caller’s own tenant',
  listSessions: 'no path id: checked by "lists and the webhook never show tenant A’s data" below',
  listEvents: 'no path id: checked by "lists and the webhook never show tenant A’s data" below',
  listMessages: 'no path id: message-history.test.ts checks that it lists the caller’s own tenant only',
  redeliverDeadEvents: 'no path id: checked by "lists and the webhook never show tenant A’s data" below',
  getWebhook: 'no path id: checked by "lists and the webhook never show tenant A’s data" below',
  setWebhook: 'no path id: checked by "lists and the webhook never show tenant A’s data" below',
  deleteWebhook: 'no path id: checked by "lists and the webhook never show tenant A’s data" below',
  listWebhookEndpoints: 'no path id: checked by "lists and the webhook never show tenant A’s data" below',
  createWebhookEndpoint:
    'no path id: creates in the caller’s own tenant; another tenant’s sessionIds are refused below',
  listTemplates: 'no path id: template names are per tenant; checked in broadcasts.test.ts (templates)',
  putTemplate:
    'the name is looked up in the caller’s own tenant, so B’s PUT creates B’s template (never touches A’s): checked in broadcasts.test.ts (templates)',
  streamEvents:
    'no path id: event-stream.test.ts checks that a key or stream token of one tenant never streams another’s events, and that another tenant’s event id is refused as a cursor',
  streamEventsWebSocket: 'no path id: event-stream.test.ts checks the WebSocket like the SSE stream',
  createStreamToken:
    'no path id: event-stream.test.ts checks that a token for another tenant’s session is 404 and a token reads its own tenant only',
}

/** Tenant-scoped operations with a path id: tenant B on tenant A's ids must get 404. */
const tenantOperationsWithIds = operations.filter(
  (operation) =>
    !isPublicOperation(operation) &&
    !isOperatorOperation(operation) &&
    operation.pathParameters.length > 0 &&
    !(operation.operationId in NOT_SWEPT),
)
/** Operator operations: any tenant key must get 403, whatever the ids. */
const operatorOperations = operations.filter(isOperatorOperation)

beforeAll(async () => {
  api = await createTestApi('cp_isolation')
  tenantA = await createTenantThroughApi(api, 'Tenant A')
  keyA = tenantA.apiKey
  keyB = (await createTenantThroughApi(api, 'Tenant B')).apiKey
  const clientA = api.client(keyA)
  sessionA = (await clientA.POST('/v1/sessions', { body: { name: 'A only' } })).data!.id
  await api.ctx.database.db
    .update(sessions)
    .set({ desiredState: 'connected', state: 'QR_READY', qr: '2@secret-qr' })
    .where(eq(sessions.id, sessionA))
  await api.ctx.database.db
    .insert(authCreds)
    .values({ sessionId: sessionA, value: Buffer.from('sealed creds') })
  messageA = (
    await clientA.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId: sessionA }, header: { 'idempotency-key': 'shared-key' } },
      body: { to: '6281234567890', text: 'private' },
    })
  ).data!.id
  await clientA.PUT('/v1/templates/{name}', {
    params: { path: { name: 'a_private' } },
    body: { body: 'only for A {{name}}' },
  })
  broadcastA = (
    await clientA.POST('/v1/sessions/{sessionId}/broadcasts', {
      params: { path: { sessionId: sessionA } },
      body: { recipients: [{ to: '6281234567890', text: 'private broadcast' }] },
    })
  ).data!.id
  eventA = (
    await appendEvent(api.ctx.database.db, {
      sessionId: sessionA,
      type: 'connection.update',
      data: { state: 'QR_READY', previousState: 'CONNECTING' },
    })
  ).id
  webhookSecretA = (await clientA.PUT('/v1/webhook', { body: { url: 'https://a.example.com/hook' } })).data!
    .secret
  webhookEndpointA = (
    await clientA.POST('/v1/webhooks', {
      body: { url: 'https://a.example.com/endpoint', sessionIds: [sessionA] },
    })
  ).data!.id
  const keys = await api.client(TEST_ADMIN_KEY).GET('/v1/tenants/{tenantId}/api-keys', {
    params: { path: { tenantId: tenantA.tenantId } },
  })
  apiKeyIdA = keys.data!.data[0]!.id
})
afterAll(async () => {
  await api?.close()
})

/** Tenant A's resources, by the name of the path parameter that takes them. */
const idsOfTenantA = (): Record<string, string> => ({
  sessionId: sessionA,
  messageId: messageA,
  eventId: eventA,
  tenantId: tenantA.tenantId,
  apiKeyId: apiKeyIdA,
  nodeId: 'node-a',
  webhookId: webhookEndpointA,
  name: 'a_private',
  broadcastId: broadcastA,
  chatId: '6281234567890@s.whatsapp.net',
})

describe('tenant isolation', () => {
  it('sweeps every operation of the OpenAPI document or lists why not', () => {
    const swept = new Set([...tenantOperationsWithIds, ...operatorOperations].map((each) => each.operationId))
    const neither = operations.filter(
      (operation) => !swept.has(operation.operationId) && !(operation.operationId in NOT_SWEPT),
    )
    expect(
      neither.map((operation) => operation.label),
      'add these to the sweep or to NOT_SWEPT',
    ).toEqual([])
    const stale = Object.keys(NOT_SWEPT).filter(
      (operationId) => swept.has(operationId) || !operations.some((each) => each.operationId === operationId),
    )
    expect(stale, 'NOT_SWEPT names operations that are swept or gone').toEqual([])
    expect(tenantOperationsWithIds.length).toBeGreaterThanOrEqual(9)
  })

  it("tenant B gets 404 on every tenant operation with one of tenant A's ids, and changes nothing", async () => {
    for (const operation of tenantOperationsWithIds) {
      const before = await snapshotDatabase(api)
      const body = operation.jsonBody ? validValue(document, operation.jsonBody) : undefined
      const response = await api.call(
        operation.method.toUpperCase(),
        fillPath(operation.path, idsOfTenantA()),
        {
          key: keyB,
          body,
        },
      )
      expect(response.status, `${operation.label} ${response.text}`).toBe(404)
      expect(response.body.error.code, operation.label).toBe('not_found')
      expect(await snapshotDatabase(api), operation.label).toEqual(before)
    }
  })

  it('a tenant key gets 403 on every operator operation, and changes nothing', async () => {
    for (const key of [keyA, keyB]) {
      for (const operation of operatorOperations) {
        const before = await snapshotDatabase(api)
        const body = operation.jsonBody ? validValue(document, operation.jsonBody) : undefined
        const path = operation.pathParameters.length
          ? fillPath(operation.path, idsOfTenantA())
          : operation.path
        const response = await api.call(operation.method.toUpperCase(), path, { key, body })
        expect(response.status, `${operation.label} ${response.text}`).toBe(403)
        expect(response.body.error.code, operation.label).toBe('forbidden')
        expect(await snapshotDatabase(api), operation.label).toEqual(before)
      }
    }
  })

  it("template names are per tenant: B lists none of A's, and B's PUT of the same name leaves A's alone", async () => {
    const clientA = api.client(keyA)
    const clientB = api.client(keyB)
    expect((await clientB.GET('/v1/templates')).data?.data).toEqual([])
    const path = { params: { path: { name: 'a_private' } } }
    const putB = await clientB.PUT('/v1/templates/{name}', { ...path, body: { body: 'B’s own {{x}}' } })
    expect(putB.response.status).toBe(201)
    expect((await clientA.GET('/v1/templates/{name}', path)).data?.body).toBe('only for A {{name}}')
    expect((await clientB.GET('/v1/templates/{name}', path)).data?.body).toBe('B’s own {{x}}')
    expect((await clientB.DELETE('/v1/templates/{name}', path)).response.status).toBe(204)
    expect((await clientA.GET('/v1/templates/{name}', path)).response.status).toBe(200)
  })

  it("a message id of tenant A is 404 even under tenant B's own session", async () => {
    const clientB = api.client(keyB)
    const sessionB = (await clientB.POST('/v1/sessions', { body: {} })).data!.id
    const { response } = await clientB.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: sessionB, messageId: messageA } },
    })
    expect(response.status).toBe(404)
  })

  it("lists and the webhook never show tenant A's data to tenant B", async () => {
    const clientA = api.client(keyA)
    const clientB = api.client(keyB)
    const sessionsB = await clientB.GET('/v1/sessions')
    expect(sessionsB.response.status).toBe(200)
    expect(JSON.stringify(sessionsB.data)).not.toContain(sessionA)
    expect((await clientB.GET('/v1/events')).data?.data).toEqual([])
    const eventsBySessionA = await clientB.GET('/v1/events', { params: { query: { sessionId: sessionA } } })
    expect(eventsBySessionA.data?.data).toEqual([])
    const redeliverB = await clientB.POST('/v1/events/redeliver', { body: { status: 'dead' } })
    expect(redeliverB.data).toEqual({ redelivered: 0 })

    expect((await clientB.GET('/v1/webhook')).response.status).toBe(404)
    expect((await clientB.DELETE('/v1/webhook')).response.status).toBe(404)
    const webhookB = await clientB.PUT('/v1/webhook', { body: { url: 'https://b.example.com/hook' } })
    expect(webhookB.data?.secret).not.toBe(webhookSecretA)
    const webhookA = await clientA.GET('/v1/webhook')
    expect(webhookA.data).toMatchObject({ url: 'https://a.example.com/hook', secret: webhookSecretA })

    // Endpoints: B lists none of A's, and cannot point one of its own at A's session.
    expect((await clientB.GET('/v1/webhooks')).data?.data).toEqual([])
    const endpointOnA = await clientB.POST('/v1/webhooks', {
      body: { url: 'https://b.example.com/endpoint', sessionIds: [sessionA] },
    })
    expect(endpointOnA.response.status).toBe(400)
    expect((endpointOnA.error as { error: { field: string } }).error.field).toBe('body.sessionIds.0')
    expect((await clientA.GET('/v1/webhooks')).data?.data.map((endpoint) => endpoint.id)).toEqual([
      webhookEndpointA,
    ])

    // The same Idempotency-Key in another tenant's session is a different message.
    const sessionB = (await clientB.POST('/v1/sessions', { body: {} })).data!.id
    await api.ctx.database.db
      .update(sessions)
      .set({ desiredState: 'connected' })
      .where(eq(sessions.id, sessionB))
    await api.ctx.database.db
      .insert(authCreds)
      .values({ sessionId: sessionB, value: Buffer.from('sealed creds') })
    const sendB = await clientB.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId: sessionB }, header: { 'idempotency-key': 'shared-key' } },
      body: { to: '6281234567890', text: 'private' },
    })
    expect(sendB.response.status).toBe(202)
    expect(sendB.data?.id).not.toBe(messageA)

    // Tenant A still sees its own.
    const ownMessage = await clientA.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: sessionA, messageId: messageA } },
    })
    expect(ownMessage.response.status).toBe(200)
    expect((await clientA.GET('/v1/events')).data?.data.map((event) => event.id)).toEqual([eventA])
  })
})
