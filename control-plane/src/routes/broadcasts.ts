import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { ValidationFailed } from '@wa-cluster/shared'
import type { ZodError } from 'zod'
import { activeTenantOf, requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { validationHook } from '../http/errors.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  BroadcastCreatedSchema,
  BroadcastListQuery,
  BroadcastListSchema,
  BroadcastParams,
  BroadcastRecipientListQuery,
  BroadcastRecipientListSchema,
  BroadcastSchema,
  CreateBroadcastBody,
  errorResponses,
  IdempotencyHeaders,
  jsonBody,
  jsonResponse,
  SessionParams,
} from '../http/schemas.js'
import {
  cancelBroadcast,
  createBroadcast,
  getBroadcast,
  listBroadcastRecipients,
  listBroadcasts,
  pauseBroadcast,
  resumeBroadcast,
} from '../services/broadcasts.js'

const tenant = {
  tags: ['Broadcasts'],
  security: [{ bearer: [] }],
  middleware: [requireTenant, acceptJsonBody],
}

const createBroadcastRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'createBroadcast',
  path: '/v1/sessions/{sessionId}/broadcasts',
  summary: 'Send to many recipients, paced (stored before anything is sent; idempotent with Idempotency-Key)',
  description:
    'Up to 10,000 recipients, each with the body of a send (or a template and its variables). Every recipient is checked before anything is queued: a 400 lists the bad rows by index in `details.rows`. The session sends them in order, never two closer than `delayMs` (+ a random `0..jitterMs`), from `sendAt` and only inside `window`; several broadcasts of one session share its pace, and single sends go out between them. The pace is kept in Postgres, so it holds across restarts and failover. The request body may be up to 8 MiB.',
  request: { params: SessionParams, headers: IdempotencyHeaders, body: jsonBody(CreateBroadcastBody) },
  responses: {
    202: jsonResponse(
      BroadcastCreatedSchema,
      'Accepted: `running`, or `scheduled` until sendAt or its window',
    ),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429),
  },
})

const listBroadcastsRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'listBroadcasts',
  path: '/v1/sessions/{sessionId}/broadcasts',
  summary: "A session's broadcasts with their progress, newest first, a page at a time",
  description: 'Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { params: SessionParams, query: BroadcastListQuery },
  responses: {
    200: jsonResponse(BroadcastListSchema, 'A page of broadcasts'),
    ...errorResponses(400, 401, 403, 404),
  },
})

const getBroadcastRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'getBroadcast',
  path: '/v1/broadcasts/{broadcastId}',
  summary: 'Get a broadcast and its progress',
  request: { params: BroadcastParams },
  responses: { 200: jsonResponse(BroadcastSchema, 'The broadcast'), ...errorResponses(401, 403, 404) },
})

const listRecipientsRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'listBroadcastRecipients',
  path: '/v1/broadcasts/{broadcastId}/recipients',
  summary: "A broadcast's recipients and their status, in request order, a page at a time",
  description: 'Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { params: BroadcastParams, query: BroadcastRecipientListQuery },
  responses: {
    200: jsonResponse(BroadcastRecipientListSchema, 'A page of recipients'),
    ...errorResponses(400, 401, 403, 404),
  },
})

const actionRoute = (action: 'pause' | 'resume' | 'cancel', summary: string) =>
  createRoute({
    ...tenant,
    method: 'post',
    operationId: `${action}Broadcast`,
    path: `/v1/broadcasts/{broadcastId}/${action}`,
    summary,
    request: { params: BroadcastParams },
    responses: {
      200: jsonResponse(BroadcastSchema, 'The broadcast'),
      ...errorResponses(401, 403, 404, 409),
    },
  })
const pauseRoute = actionRoute('pause', 'Pause a broadcast (a send already under way completes)')
const resumeRoute = actionRoute('resume', 'Resume a paused broadcast where it stopped')
const cancelRoute = actionRoute(
  'cancel',
  'Cancel a broadcast: recipients not sent yet become failed ("broadcast cancelled")',
)

/**
 * The validation hook of the create route: problems in recipient rows are gathered, every bad row
 * listed by index (one bad row must not hide the others); anything else goes to the usual hook.
 */
function recipientsHook(result: { target: string; success: boolean; error?: ZodError }): undefined {
  if (result.success || !result.error || result.target !== 'json') {
    validationHook(result)
    return undefined
  }
  const rows = new Map<number, { index: number; field: string; reason: string }>()
  for (const issue of result.error.issues) {
    const [first, index] = issue.path
    if (first !== 'recipients' || typeof index !== 'number') {
      validationHook(result)
      return undefined
    }
    if (rows.has(index)) continue
    const field = ['body', ...issue.path.map(String)].join('.')
    rows.set(index, { index, field, reason: `${field} ${issue.message}` })
  }
  const bad = [...rows.values()]
  throw new ValidationFailed(
    'body.recipients',
    `has ${bad.length} invalid row${bad.length === 1 ? '' : 's'} (indexes ${bad
      .slice(0, 20)
      .map((row) => row.index)
      .join(', ')}${bad.length > 20 ? ', …' : ''}): ${bad[0]!.reason}`,
    { rows: bad.slice(0, 100) },
  )
}

export function registerBroadcastRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createBroadcastRoute,
    async (c) => {
      const idempotencyKey = c.req.valid('header')['idempotency-key']
      const { tenantId, defaultCountry } = activeTenantOf(c)
      const { broadcast } = await createBroadcast({
        ctx: c.get('ctx'),
        tenantId,
        defaultCountry,
        sessionId: c.req.valid('param').sessionId,
        input: c.req.valid('json'),
        ...(idempotencyKey ? { idempotencyKey } : {}),
      })
      return c.json(broadcast, 202)
    },
    recipientsHook,
  )
  app.openapi(listBroadcastsRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    const page = await listBroadcasts({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      sessionId: c.req.valid('param').sessionId,
      page: { limit, ...(after ? { after } : {}) },
    })
    return c.json(page, 200)
  })
  app.openapi(getBroadcastRoute, async (c) =>
    c.json(
      await getBroadcast({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        broadcastId: c.req.valid('param').broadcastId,
      }),
      200,
    ),
  )
  app.openapi(listRecipientsRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    const page = await listBroadcastRecipients({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      broadcastId: c.req.valid('param').broadcastId,
      page: { limit, ...(after !== undefined ? { after: Number(after) } : {}) },
    })
    return c.json(page, 200)
  })
  app.openapi(pauseRoute, async (c) =>
    c.json(
      await pauseBroadcast({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        broadcastId: c.req.valid('param').broadcastId,
      }),
      200,
    ),
  )
  app.openapi(resumeRoute, async (c) =>
    c.json(
      await resumeBroadcast({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        broadcastId: c.req.valid('param').broadcastId,
      }),
      200,
    ),
  )
  app.openapi(cancelRoute, async (c) =>
    c.json(
      await cancelBroadcast({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        broadcastId: c.req.valid('param').broadcastId,
      }),
      200,
    ),
  )
}
