import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { activeTenantOf, requireTenant, tenantIdOf } from '../http/auth.js'
import { allowEmptyJsonBody } from '../http/empty-body.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  ConnectBody,
  ConnectResultSchema,
  CreatedSessionSchema,
  CreateSessionBody,
  errorResponses,
  jsonBody,
  jsonResponse,
  SessionListQuery,
  SessionListSchema,
  SessionParams,
  SessionSchema,
} from '../http/schemas.js'
import {
  connectSession,
  createSession,
  deleteSession,
  disconnectSession,
  getSession,
  getSessionQr,
  listSessions,
  logoutSession,
  qrPngOf,
} from '../services/sessions.js'

const tenant = {
  tags: ['Sessions'],
  security: [{ bearer: [] }],
  middleware: [requireTenant, acceptJsonBody],
}
const tenantWithOptionalBody = { ...tenant, middleware: [requireTenant, acceptJsonBody, allowEmptyJsonBody] }

const createSessionRoute = createRoute({
  ...tenantWithOptionalBody,
  method: 'post',
  operationId: 'createSession',
  path: '/v1/sessions',
  summary: 'Create a session (one WhatsApp number)',
  description:
    'A tenant may have at most `limits.sessions` sessions (default TENANT_MAX_SESSIONS); one more is `409 session_limit_reached`.',
  request: { body: jsonBody(CreateSessionBody, false) },
  responses: {
    201: jsonResponse(CreatedSessionSchema, 'The new session, DISCONNECTED'),
    ...errorResponses(400, 401, 403, 409, 413, 415, 429),
  },
})

const listSessionsRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'listSessions',
  path: '/v1/sessions',
  summary: "List the tenant's sessions, a page at a time",
  description: 'Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { query: SessionListQuery },
  responses: {
    200: jsonResponse(SessionListSchema, 'A page of sessions, newest first'),
    ...errorResponses(400, 401, 403, 429),
  },
})

const getSessionRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'getSession',
  path: '/v1/sessions/{sessionId}',
  summary: 'Get a session (poll this for state changes, or use the webhook)',
  request: { params: SessionParams },
  responses: { 200: jsonResponse(SessionSchema, 'The session'), ...errorResponses(401, 403, 404) },
})

const deleteSessionRoute = createRoute({
  ...tenant,
  method: 'delete',
  operationId: 'deleteSession',
  path: '/v1/sessions/{sessionId}',
  summary: 'Log out and delete a session with its credentials and messages',
  request: { params: SessionParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
})

const connectSessionRoute = createRoute({
  ...tenantWithOptionalBody,
  method: 'post',
  operationId: 'connectSession',
  path: '/v1/sessions/{sessionId}/connect',
  summary: 'Connect: answers with a QR (or a pairing code, or CONNECTED when already linked)',
  description:
    'Waits up to 10 s for the first QR. Send `pairingPhone` to link with a pairing code instead. The body may be empty.',
  request: { params: SessionParams, body: jsonBody(ConnectBody, false) },
  responses: {
    200: jsonResponse(ConnectResultSchema, 'The QR, pairing code or state'),
    ...errorResponses(400, 401, 403, 404, 413, 415, 503),
  },
})

const qrRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'getSessionQr',
  path: '/v1/sessions/{sessionId}/qr',
  summary: 'The current QR as JSON, or as PNG with `Accept: image/png`',
  request: { params: SessionParams },
  responses: {
    200: {
      description: 'The QR',
      content: {
        'application/json': { schema: ConnectResultSchema },
        'image/png': { schema: z.string().openapi({ format: 'binary' }) },
      },
    },
    ...errorResponses(401, 403, 404, 409),
  },
})

const disconnectRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'disconnectSession',
  path: '/v1/sessions/{sessionId}/disconnect',
  summary: 'Close the socket and keep the credentials (the next connect needs no QR)',
  request: { params: SessionParams },
  responses: { 200: jsonResponse(SessionSchema, 'The session'), ...errorResponses(401, 403, 404) },
})

const logoutRoute = createRoute({
  ...tenant,
  method: 'post',
  operationId: 'logoutSession',
  path: '/v1/sessions/{sessionId}/logout',
  summary: 'Unlink the device and wipe the credentials (the next connect shows a QR)',
  request: { params: SessionParams },
  responses: {
    200: jsonResponse(SessionSchema, 'The session, LOGGED_OUT'),
    ...errorResponses(401, 403, 404),
  },
})

/** True when the client prefers PNG over JSON (a bare `image/*` or `image/png` in Accept). */
function wantsPng(accept: string | undefined): boolean {
  if (!accept) return false
  return accept
    .split(',')
    .map((part) => part.split(';')[0]!.trim().toLowerCase())
    .some((type) => type === 'image/png' || type === 'image/*')
}

export function registerSessionRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createSessionRoute, async (c) => {
    const session = await createSession({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      input: c.req.valid('json'),
    })
    c.set('sessionId', session.id)
    return c.json(session, 201)
  })
  app.openapi(listSessionsRoute, async (c) => {
    const { limit, after, externalId } = c.req.valid('query')
    const page = await listSessions({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      page: { limit, ...(after ? { after } : {}) },
      filter: externalId === undefined ? {} : { externalId },
    })
    return c.json(page, 200)
  })
  app.openapi(getSessionRoute, async (c) =>
    c.json(
      await getSession({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        sessionId: c.req.valid('param').sessionId,
      }),
      200,
    ),
  )
  app.openapi(deleteSessionRoute, async (c) => {
    await deleteSession({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      sessionId: c.req.valid('param').sessionId,
    })
    return c.body(null, 204)
  })
  app.openapi(connectSessionRoute, async (c) => {
    const { tenantId, defaultCountry } = activeTenantOf(c)
    const result = await connectSession({
      ctx: c.get('ctx'),
      tenantId,
      defaultCountry,
      sessionId: c.req.valid('param').sessionId,
      input: c.req.valid('json'),
    })
    return c.json(result, 200)
  })
  app.openapi(qrRoute, async (c) => {
    const qr = await getSessionQr({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      sessionId: c.req.valid('param').sessionId,
    })
    if (wantsPng(c.req.header('accept'))) {
      const png = qrPngOf(qr)
      return c.body(new Uint8Array(png), 200, { 'content-type': 'image/png', 'cache-control': 'no-store' })
    }
    return c.json(qr, 200)
  })
  app.openapi(disconnectRoute, async (c) =>
    c.json(
      await disconnectSession({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        sessionId: c.req.valid('param').sessionId,
      }),
      200,
    ),
  )
  app.openapi(logoutRoute, async (c) =>
    c.json(
      await logoutSession({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        sessionId: c.req.valid('param').sessionId,
      }),
      200,
    ),
  )
}
