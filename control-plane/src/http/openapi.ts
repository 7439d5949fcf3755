import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { EVENT_TYPES } from '@wa-cluster/shared'
import type { AppEnv } from './env.js'
import { WEBHOOK_EVENT_SCHEMAS, WebhookEventSchema } from './schemas.js'

// Everything in the OpenAPI document that is not a route: the document's own fields, the security
// scheme, the webhook deliveries and the two documentation endpoints. The document is what
// @wa-cluster/client is generated from, and `npm run lint:openapi` lints it.

/** The top of the document. Routes without a key say `security: []`; every other route needs the bearer. */
export const OPENAPI_DOCUMENT_CONFIG = {
  openapi: '3.1.0',
  info: {
    title: 'wa-cluster API',
    version: '1.0.0',
    description:
      'Multi-tenant WhatsApp sessions: connect a number with a QR or pairing code, send messages, receive events on a signed webhook. Errors are `{ error: { code, message, requestId } }`.',
  },
  servers: [{ url: '/', description: 'The server that serves this document' }],
  security: [{ bearer: [] }],
}

/** Where the document is served; `/docs` renders it. */
export const OPENAPI_DOCUMENT_PATH = '/openapi.json'

/** An operation anyone may call: overrides the document's default bearer requirement. */
export const PUBLIC = { security: [] }

/** The webhook deliveries, one per event type, named like the type: `receive` + the type in camelCase. */
const WEBHOOK_OPERATION_IDS = {
  'connection.update': 'receiveConnectionUpdate',
  'messages.upsert': 'receiveMessagesUpsert',
  'messages.update': 'receiveMessagesUpdate',
  'broadcast.progress': 'receiveBroadcastProgress',
  'broadcast.completed': 'receiveBroadcastCompleted',
} as const

const WebhookHeaders = z.object({
  'webhook-id': z.string().openapi({
    param: { name: 'webhook-id', in: 'header' },
    description: 'The event id; the same on every retry, so de-duplicate on it',
    example: 'evt_0lq2x3y4z5abcdefghijkl',
  }),
  'webhook-timestamp': z.string().openapi({
    param: { name: 'webhook-timestamp', in: 'header' },
    description: 'Unix seconds of this attempt; reject old ones to stop replays',
    example: '1735689600',
  }),
  'webhook-signature': z.string().openapi({
    param: { name: 'webhook-signature', in: 'header' },
    description:
      '`v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{raw body}`, keyed with the base64 after `whsec_` in the secret (Standard Webhooks)',
  }),
})

/** Adds the security scheme, the webhooks and the documentation endpoints to the app's registry. */
export function describeApi(app: OpenAPIHono<AppEnv>): void {
  const registry = app.openAPIRegistry
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'A tenant API key (`wak_…`) for tenant endpoints, or the operator (admin) key for operator endpoints',
  })

  // Referenced by no operation (each delivery names its own type), but receivers want the union.
  registry.register('WebhookEvent', WebhookEventSchema)
  for (const type of EVENT_TYPES) {
    registry.registerWebhook({
      method: 'post',
      path: type,
      operationId: WEBHOOK_OPERATION_IDS[type],
      tags: ['Webhook deliveries'],
      summary: `A \`${type}\` event, POSTed to the tenant's webhook URL`,
      description:
        'Delivered at least once, retried with backoff until a 2xx, then dead-lettered. Order the events of one session by `seq`.',
      ...PUBLIC,
      request: {
        headers: WebhookHeaders,
        body: { required: true, content: { 'application/json': { schema: WEBHOOK_EVENT_SCHEMAS[type] } } },
      },
      responses: {
        200: { description: 'Any 2xx acknowledges the event' },
        default: { description: 'Any other status is a failed attempt; it is retried' },
      },
    })
  }

  registry.registerPath({
    method: 'get',
    path: OPENAPI_DOCUMENT_PATH,
    operationId: 'getOpenApiDocument',
    tags: ['Operations'],
    summary: 'This OpenAPI document',
    ...PUBLIC,
    responses: {
      200: {
        description: 'The OpenAPI 3.1 document',
        content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } },
      },
    },
  })
  registry.registerPath({
    method: 'get',
    path: '/docs',
    operationId: 'getApiDocs',
    tags: ['Operations'],
    summary: 'Interactive API reference (Swagger UI) for this document',
    ...PUBLIC,
    responses: {
      200: { description: 'An HTML page', content: { 'text/html': { schema: z.string() } } },
    },
  })
}
