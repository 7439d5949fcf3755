import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi'
import { activeTenantOf, requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  errorResponses,
  IdempotencyHeaders,
  jsonBody,
  jsonResponse,
  MessageParams,
  MessageSchema,
  SendMessageBody,
  SessionParams,
} from '../http/schemas.js'
import { getMessage, sendMessage } from '../services/messages.js'
import { acceptMultipartSend, SendMessageMultipart } from './message-media.js'

type SendMessageBodyInput = z.infer<typeof SendMessageBody>

const tenant = { tags: ['Messages'], security: [{ bearer: [] }], middleware: [requireTenant, acceptJsonBody] }
/** A send may also come as multipart/form-data (a media file), answered before the JSON checks. */
const sendMiddleware = [requireTenant, acceptMultipartSend, acceptJsonBody]

const sendMessageRoute = createRoute({
  ...tenant,
  middleware: sendMiddleware,
  method: 'post',
  operationId: 'sendMessage',
  path: '/v1/sessions/{sessionId}/messages',
  summary: 'Queue a message (stored before it is sent; idempotent with Idempotency-Key)',
  description:
    'Answers 202 with the stored message. `type` is `text` (the default when `text` is given), `location`, `contact` or `reaction`; any of them may quote an earlier message of the session with `replyTo`, and a text may mention phones. `list` and `buttons` answer 422: WhatsApp no longer delivers them to personal accounts from linked devices. A `template` with its `variables` is rendered here and stored as the text (a missing variable is a 400 naming it). With `sendAt` in the future the message waits as `queued` and the owning node sends it when due (a time already past sends now; at most 365 days ahead). A retry with the same Idempotency-Key and body answers 202 with the same message; the same key with a different body is 409.',
  request: {
    params: SessionParams,
    headers: IdempotencyHeaders,
    body: {
      ...jsonBody(SendMessageBody),
      content: {
        ...jsonBody(SendMessageBody).content,
        'multipart/form-data': { schema: SendMessageMultipart },
      },
    },
  },
  responses: {
    202: jsonResponse(MessageSchema, 'Accepted: queued for sending'),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429),
  },
})

const getMessageRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'getMessage',
  path: '/v1/sessions/{sessionId}/messages/{messageId}',
  summary: 'Get a message and its status history',
  request: { params: MessageParams },
  responses: { 200: jsonResponse(MessageSchema, 'The message'), ...errorResponses(401, 403, 404) },
})

export function registerMessageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(sendMessageRoute, async (c) => {
    const idempotencyKey = c.req.valid('header')['idempotency-key']
    const { tenantId, limits, defaultCountry } = activeTenantOf(c)
    const { message } = await sendMessage({
      ctx: c.get('ctx'),
      tenantId,
      limits,
      defaultCountry,
      sessionId: c.req.valid('param').sessionId,
      // The multipart form in the document is a plain schema (read by acceptMultipartSend), which
      // hides the JSON body's type from `valid`.
      input: (c.req.valid as (target: 'json') => SendMessageBodyInput)('json'),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    })
    // A replay answers exactly like the first request, so a client retrying after a timeout cannot tell.
    return c.json(message, 202)
  })
  app.openapi(getMessageRoute, async (c) => {
    const { sessionId, messageId } = c.req.valid('param')
    return c.json(await getMessage({ ctx: c.get('ctx'), tenantId: tenantIdOf(c), sessionId, messageId }), 200)
  })
}
