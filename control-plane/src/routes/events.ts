import { createRoute, type OpenAPIHono, type z } from '@hono/zod-openapi'
import { requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  BulkRedeliverBody,
  EventPageSchema,
  EventParams,
  EventsQuery,
  errorResponses,
  jsonBody,
  jsonResponse,
  RedeliverResultSchema,
} from '../http/schemas.js'
import { listTenantEvents, redeliverDeadEvents, redeliverEvent } from '../services/events.js'

const tenant = { tags: ['Events'], security: [{ bearer: [] }], middleware: [requireTenant, acceptJsonBody] }

const listEventsRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'listEvents',
  path: '/v1/events',
  summary: 'Page through the event outbox (the same envelopes the webhook receives) with delivery status',
  description: 'Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { query: EventsQuery },
  responses: {
    200: jsonResponse(EventPageSchema, 'A page of events, oldest first'),
    ...errorResponses(400, 401, 403),
  },
})

const redeliverEventRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'redeliverEvent',
  path: '/v1/events/{eventId}/redeliver',
  summary: 'Deliver one event again (delivered or dead; a pending event is left alone)',
  request: { params: EventParams },
  responses: {
    200: jsonResponse(RedeliverResultSchema, 'How many events were queued again'),
    ...errorResponses(401, 403, 404),
  },
})

const redeliverDeadRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'redeliverDeadEvents',
  path: '/v1/events/redeliver',
  summary: 'Deliver every dead-lettered event again',
  request: { body: jsonBody(BulkRedeliverBody) },
  responses: {
    200: jsonResponse(RedeliverResultSchema, 'How many events were queued again'),
    ...errorResponses(400, 401, 403, 413, 415),
  },
})

export function registerEventRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listEventsRoute, async (c) => {
    const { after, limit, sessionId, type } = c.req.valid('query')
    const page = await listTenantEvents({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      input: {
        limit,
        ...(after ? { after } : {}),
        ...(sessionId ? { sessionId } : {}),
        ...(type ? { type } : {}),
      },
    })
    // The outbox pairs each type with its data when events are appended; the listed envelope type
    // does not carry that pairing, the document does.
    return c.json(page as z.infer<typeof EventPageSchema>, 200)
  })
  app.openapi(redeliverEventRoute, async (c) =>
    c.json(
      await redeliverEvent({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        eventId: c.req.valid('param').eventId,
      }),
      200,
    ),
  )
  app.openapi(redeliverDeadRoute, async (c) =>
    c.json(await redeliverDeadEvents({ ctx: c.get('ctx'), tenantId: tenantIdOf(c) }), 200),
  )
}
