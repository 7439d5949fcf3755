import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  BulkRedeliverBody,
  CreateWebhookEndpointBody,
  errorResponses,
  jsonBody,
  jsonResponse,
  RedeliverResultSchema,
  RotateWebhookSecretBody,
  UpdateWebhookEndpointBody,
  WebhookDeliveryPageSchema,
  WebhookDeliveryParams,
  WebhookDeliveryQuery,
  WebhookEndpointListQuery,
  WebhookEndpointListSchema,
  WebhookEndpointParams,
  WebhookEndpointSchema,
  WebhookTestResultSchema,
} from '../http/schemas.js'
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  redeliverWebhookDeliveries,
  rotateWebhookEndpointSecret,
  testWebhookEndpoint,
  updateWebhookEndpoint,
} from '../services/webhook-endpoints.js'

const tenant = {
  tags: ['Webhook endpoints'],
  security: [{ bearer: [] }],
  middleware: [requireTenant, acceptJsonBody],
}

const listRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'listWebhookEndpoints',
  path: '/v1/webhooks',
  summary: "List the tenant's webhook endpoints, a page at a time",
  description:
    'Pass `nextCursor` as `after` to read the next page. The default endpoint of `/v1/webhook` is not listed.',
  request: { query: WebhookEndpointListQuery },
  responses: {
    200: jsonResponse(WebhookEndpointListSchema, 'A page of endpoints, oldest first'),
    ...errorResponses(400, 401, 403, 429),
  },
})

const createEndpointRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'createWebhookEndpoint',
  path: '/v1/webhooks',
  summary: 'Add a webhook endpoint with its own filters, headers and signing secret',
  request: { body: jsonBody(CreateWebhookEndpointBody) },
  responses: {
    201: jsonResponse(WebhookEndpointSchema, 'The endpoint with its signing secret'),
    ...errorResponses(400, 401, 403, 413, 415, 429),
  },
})

const getRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'getWebhookEndpoint',
  path: '/v1/webhooks/{webhookId}',
  summary: 'Get a webhook endpoint and its signing secret',
  request: { params: WebhookEndpointParams },
  responses: {
    200: jsonResponse(WebhookEndpointSchema, 'The endpoint'),
    ...errorResponses(401, 403, 404, 429),
  },
})

const updateRoute = createRoute({
  ...tenant,
  method: 'patch',
  operationId: 'updateWebhookEndpoint',
  path: '/v1/webhooks/{webhookId}',
  summary: 'Change a webhook endpoint (only the fields given; the secret is kept)',
  request: { params: WebhookEndpointParams, body: jsonBody(UpdateWebhookEndpointBody) },
  responses: {
    200: jsonResponse(WebhookEndpointSchema, 'The endpoint'),
    ...errorResponses(400, 401, 403, 404, 413, 415, 429),
  },
})

const deleteRoute = createRoute({
  ...tenant,
  method: 'delete',
  operationId: 'deleteWebhookEndpoint',
  path: '/v1/webhooks/{webhookId}',
  summary: 'Remove a webhook endpoint and its deliveries (events stay listable at /v1/events)',
  request: { params: WebhookEndpointParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404, 429) },
})

const rotateRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'rotateWebhookEndpointSecret',
  path: '/v1/webhooks/{webhookId}/rotate-secret',
  summary: 'Replace the signing secret; the old one keeps signing for a grace period',
  description:
    'During the grace period `webhook-signature` carries two signatures (`v1,<new> v1,<old>`), which every Standard Webhooks verifier accepts with either secret. `X-Hub-Signature-256` uses the new secret at once.',
  request: { params: WebhookEndpointParams, body: jsonBody(RotateWebhookSecretBody, false) },
  responses: {
    200: jsonResponse(WebhookEndpointSchema, 'The endpoint with its new secret'),
    ...errorResponses(400, 401, 403, 404, 413, 415, 429),
  },
})

const testRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'testWebhookEndpoint',
  path: '/v1/webhooks/{webhookId}/test',
  summary: "Send a signed `webhook.test` event now and report the receiver's answer",
  description:
    'Sent even when the endpoint is disabled; nothing is stored. The answer has the status code and a fixed reason, never the body.',
  request: { params: WebhookEndpointParams },
  responses: {
    200: jsonResponse(WebhookTestResultSchema, "The receiver's answer"),
    ...errorResponses(401, 403, 404, 429),
  },
})

const listDeliveriesRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'listWebhookDeliveries',
  path: '/v1/webhooks/{webhookId}/deliveries',
  summary: "Page through one endpoint's deliveries with their status",
  request: { params: WebhookEndpointParams, query: WebhookDeliveryQuery },
  responses: {
    200: jsonResponse(WebhookDeliveryPageSchema, 'A page of deliveries, oldest event first'),
    ...errorResponses(400, 401, 403, 404, 429),
  },
})

const redeliverOneRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'redeliverWebhookDelivery',
  path: '/v1/webhooks/{webhookId}/deliveries/{eventId}/redeliver',
  summary: 'Deliver one event to this endpoint again (delivered or dead; a pending one is left alone)',
  request: { params: WebhookDeliveryParams },
  responses: {
    200: jsonResponse(RedeliverResultSchema, 'How many deliveries were queued again'),
    ...errorResponses(401, 403, 404, 429),
  },
})

const redeliverDeadRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'redeliverDeadWebhookDeliveries',
  path: '/v1/webhooks/{webhookId}/redeliver',
  summary: 'Deliver every dead-lettered event of this endpoint again',
  request: { params: WebhookEndpointParams, body: jsonBody(BulkRedeliverBody) },
  responses: {
    200: jsonResponse(RedeliverResultSchema, 'How many deliveries were queued again'),
    ...errorResponses(400, 401, 403, 404, 413, 415, 429),
  },
})

export function registerWebhookEndpointRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    const page = await listWebhookEndpoints({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      page: { limit, ...(after ? { after } : {}) },
    })
    return c.json(page, 200)
  })
  app.openapi(createEndpointRoute, async (c) =>
    c.json(
      await createWebhookEndpoint({ ctx: c.get('ctx'), tenantId: tenantIdOf(c), input: c.req.valid('json') }),
      201,
    ),
  )
  app.openapi(getRoute, async (c) =>
    c.json(
      await getWebhookEndpoint({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        webhookId: c.req.valid('param').webhookId,
      }),
      200,
    ),
  )
  app.openapi(updateRoute, async (c) =>
    c.json(
      await updateWebhookEndpoint({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        webhookId: c.req.valid('param').webhookId,
        input: c.req.valid('json'),
      }),
      200,
    ),
  )
  app.openapi(deleteRoute, async (c) => {
    await deleteWebhookEndpoint({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      webhookId: c.req.valid('param').webhookId,
    })
    return c.body(null, 204)
  })
  app.openapi(rotateRoute, async (c) => {
    const body = c.req.valid('json') as { gracePeriodSeconds?: number } | undefined
    return c.json(
      await rotateWebhookEndpointSecret({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        webhookId: c.req.valid('param').webhookId,
        ...(body?.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: body.gracePeriodSeconds } : {}),
      }),
      200,
    )
  })
  app.openapi(testRoute, async (c) =>
    c.json(
      await testWebhookEndpoint({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        webhookId: c.req.valid('param').webhookId,
      }),
      200,
    ),
  )
  app.openapi(listDeliveriesRoute, async (c) => {
    const { limit, after, status } = c.req.valid('query')
    const page = await listWebhookDeliveries({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      webhookId: c.req.valid('param').webhookId,
      page: { limit, ...(after ? { after } : {}), ...(status ? { status } : {}) },
    })
    return c.json(page, 200)
  })
  app.openapi(redeliverOneRoute, async (c) => {
    const { webhookId, eventId } = c.req.valid('param')
    return c.json(
      await redeliverWebhookDeliveries({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        webhookId,
        selection: { eventId },
      }),
      200,
    )
  })
  app.openapi(redeliverDeadRoute, async (c) =>
    c.json(
      await redeliverWebhookDeliveries({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        webhookId: c.req.valid('param').webhookId,
        selection: { status: 'dead' },
      }),
      200,
    ),
  )
}
