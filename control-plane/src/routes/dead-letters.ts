import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireAdmin } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  DeadLetterPageSchema,
  DeadLetterQuery,
  errorResponses,
  jsonBody,
  jsonResponse,
  RedeliverDeadLettersBody,
  RedeliverResultSchema,
} from '../http/schemas.js'
import { listDeadLetters, redeliverDeadLetters } from '../services/dead-letters.js'

const operator = {
  tags: ['Operator: dead letters'],
  security: [{ bearer: [] }],
  middleware: [requireAdmin, acceptJsonBody],
}

const listDeadLettersRoute = createRoute({
  ...operator,
  method: 'get',
  operationId: 'listDeadLetters',
  path: '/v1/dead-letters',
  summary: 'List dead-lettered deliveries of every tenant (or one), newest first',
  description:
    'One item per event and endpoint whose delivery gave up: `endpoint` is `default` (the webhook of `/v1/webhook`) or a `/v1/webhooks` endpoint id. Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { query: DeadLetterQuery },
  responses: {
    200: jsonResponse(DeadLetterPageSchema, 'A page of dead letters, newest event first'),
    ...errorResponses(400, 401, 403),
  },
})

const redeliverDeadLettersRoute = createRoute({
  ...operator,
  method: 'post',
  operationId: 'redeliverDeadLetters',
  path: '/v1/dead-letters/redeliver',
  summary: "Deliver a tenant's dead letters again: the listed events', or all of them",
  description:
    'Only dead deliveries are queued again, with a fresh attempt budget; a delivered or pending delivery of the same event is left alone. Ids that are no dead letter of the tenant count 0.',
  request: { body: jsonBody(RedeliverDeadLettersBody) },
  responses: {
    200: jsonResponse(RedeliverResultSchema, 'How many deliveries were queued again'),
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
})

export function registerDeadLetterRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listDeadLettersRoute, async (c) => {
    const { limit, after, tenantId } = c.req.valid('query')
    const page = { limit, ...(after ? { after } : {}), ...(tenantId ? { tenantId } : {}) }
    return c.json(await listDeadLetters({ ctx: c.get('ctx'), page }), 200)
  })
  app.openapi(redeliverDeadLettersRoute, async (c) => {
    const { tenantId, eventIds } = c.req.valid('json')
    return c.json(
      await redeliverDeadLetters({ ctx: c.get('ctx'), tenantId, ...(eventIds ? { eventIds } : {}) }),
      200,
    )
  })
}
