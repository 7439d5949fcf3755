import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import { errorResponses, jsonBody, jsonResponse, PutWebhookBody, WebhookSchema } from '../http/schemas.js'
import { deleteWebhook, getWebhook, putWebhook } from '../services/webhooks.js'

const tenant = { tags: ['Webhook'], security: [{ bearer: [] }], middleware: [requireTenant, acceptJsonBody] }

const putWebhookRoute = createRoute({
  ...tenant,
  method: 'put',
  operationId: 'setWebhook',
  path: '/v1/webhook',
  summary: 'Set the webhook endpoint (the signing secret is kept unless rotateSecret is true)',
  request: { body: jsonBody(PutWebhookBody) },
  responses: {
    200: jsonResponse(WebhookSchema, 'The webhook with its signing secret'),
    ...errorResponses(400, 401, 403, 413, 415),
  },
})

const getWebhookRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'getWebhook',
  path: '/v1/webhook',
  summary: 'Get the webhook endpoint and its signing secret',
  responses: { 200: jsonResponse(WebhookSchema, 'The webhook'), ...errorResponses(401, 403, 404) },
})

const deleteWebhookRoute = createRoute({
  ...tenant,
  method: 'delete',
  operationId: 'deleteWebhook',
  path: '/v1/webhook',
  summary: 'Remove the webhook endpoint (events stay listable at /v1/events)',
  responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
})

export function registerWebhookRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(putWebhookRoute, async (c) =>
    c.json(await putWebhook({ ctx: c.get('ctx'), tenantId: tenantIdOf(c), input: c.req.valid('json') }), 200),
  )
  app.openapi(getWebhookRoute, async (c) =>
    c.json(await getWebhook({ ctx: c.get('ctx'), tenantId: tenantIdOf(c) }), 200),
  )
  app.openapi(deleteWebhookRoute, async (c) => {
    await deleteWebhook({ ctx: c.get('ctx'), tenantId: tenantIdOf(c) })
    return c.body(null, 204)
  })
}
