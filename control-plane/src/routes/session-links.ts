import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireTenant, tenantIdOf } from '../http/auth.js'
import { allowEmptyJsonBody } from '../http/empty-body.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  CreateSessionLinkBody,
  errorResponses,
  jsonBody,
  jsonResponse,
  SessionLinkSchema,
  SessionParams,
} from '../http/schemas.js'
import { createSessionLink } from '../services/session-links.js'
import { publicOrigin } from '../web/same-origin.js'

const createSessionLinkRoute = createRoute({
  tags: ['Sessions'],
  security: [{ bearer: [] }],
  middleware: [requireTenant, acceptJsonBody, allowEmptyJsonBody],
  method: 'post',
  operationId: 'createSessionLink',
  path: '/v1/sessions/{sessionId}/link',
  summary: 'A signed, expiring page that links this session, for your own customer',
  description:
    'The page (`url`) shows your tenant name and the live QR, or a pairing-code form, for this one session; it connects the session when opened, and once the session is CONNECTED it sends the browser to `returnUrl`. It carries no API key: hand it to the person whose phone is to be linked. An expired link shows a page saying so (410). The body may be empty.',
  request: { params: SessionParams, body: jsonBody(CreateSessionLinkBody, false) },
  responses: {
    201: jsonResponse(SessionLinkSchema, 'The page and when it stops working'),
    ...errorResponses(400, 401, 403, 404, 413, 415, 429),
  },
})

export function registerSessionLinkRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createSessionLinkRoute, async (c) => {
    const link = await createSessionLink({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      sessionId: c.req.valid('param').sessionId,
      origin: publicOrigin(c),
      input: c.req.valid('json') ?? {},
    })
    return c.json(link, 201)
  })
}
