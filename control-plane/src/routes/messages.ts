import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi'
import { activeTenantOf, requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  EditMessageBody,
  errorResponses,
  IdempotencyHeaders,
  jsonBody,
  jsonResponse,
  MessageParams,
  MessageSchema,
  SendMessageBody,
  SessionParams,
} from '../http/schemas.js'
import { editMessage, revokeMessage } from '../services/message-changes.js'
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
    'Answers 202 with the stored message. `type` is `text` (the default when `text` is given), `location`, `contact`, `reaction`, `poll` (votes come back as `messages.update` with `change: "poll"` and the tally), `image`, `video`, `audio`, `document` or `sticker` (with `media`, or as multipart/form-data with a `file` part); any of them may quote an earlier message of the session with `replyTo`, and a text may mention phones. `list` and `buttons` answer 422: WhatsApp no longer delivers them to personal accounts from linked devices. A `template` with its `variables` is rendered here and stored as the text (a missing variable is a 400 naming it). With `sendAt` in the future the message waits as `queued` and the owning node sends it when due (a time already past sends now; at most 365 days ahead). A retry with the same Idempotency-Key and body answers 202 with the same message; the same key with a different body is 409.',
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

const editMessageRoute = createRoute({
  ...tenant,
  method: 'patch',
  operationId: 'editMessage',
  path: '/v1/sessions/{sessionId}/messages/{messageId}',
  summary: 'Edit the text of a message the session sent (stored before it is sent; idempotent)',
  description:
    'Answers 202 with a new outbound message of type `edit` (its `target` is the edited message) that is sent like any message. Once it went out, the edited message shows the new `text` and `edited: true`, and `messages.update` with `change: "edited"` reports it. Only texts and captions this session sent can be edited (a received message, a poll, a location… answer 422); WhatsApp shows edits made within 15 minutes of the send.',
  request: { params: MessageParams, headers: IdempotencyHeaders, body: jsonBody(EditMessageBody) },
  responses: {
    202: jsonResponse(MessageSchema, 'Accepted: the edit is queued for sending'),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429),
  },
})

const revokeMessageRoute = createRoute({
  ...tenant,
  method: 'delete',
  operationId: 'revokeMessage',
  path: '/v1/sessions/{sessionId}/messages/{messageId}',
  summary: 'Delete a message the session sent for everyone (stored before it is sent; idempotent)',
  description:
    'Answers 202 with a new outbound message of type `revoke` (its `target` is the deleted message) that is sent like any message. Once it went out, the deleted message shows `revoked: true` with its text and content gone, and `messages.update` with `change: "revoked"` reports it. Only messages this session sent can be deleted (a received message answers 422).',
  request: { params: MessageParams, headers: IdempotencyHeaders },
  responses: {
    202: jsonResponse(MessageSchema, 'Accepted: the delete is queued for sending'),
    ...errorResponses(401, 403, 404, 409, 415, 422, 429),
  },
})

export function registerMessageRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(editMessageRoute, async (c) => {
    const idempotencyKey = c.req.valid('header')['idempotency-key']
    const { tenantId, limits } = activeTenantOf(c)
    const { message } = await editMessage({
      ctx: c.get('ctx'),
      tenantId,
      limits,
      ...c.req.valid('param'),
      text: c.req.valid('json').text,
      ...(idempotencyKey ? { idempotencyKey } : {}),
    })
    return c.json(message, 202)
  })
  app.openapi(revokeMessageRoute, async (c) => {
    const idempotencyKey = c.req.valid('header')['idempotency-key']
    const { tenantId, limits } = activeTenantOf(c)
    const { message } = await revokeMessage({
      ctx: c.get('ctx'),
      tenantId,
      limits,
      ...c.req.valid('param'),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    })
    return c.json(message, 202)
  })
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
