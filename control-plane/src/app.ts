import { OpenAPIHono } from '@hono/zod-openapi'
import { NotFound } from '@wa-cluster/shared'
import type { ControlPlaneContext } from './context.js'
import type { AppEnv } from './http/env.js'
import { handleError, validationHook } from './http/errors.js'
import { observeRequests } from './http/observability.js'
import { describeApi, OPENAPI_DOCUMENT_CONFIG, OPENAPI_DOCUMENT_PATH } from './http/openapi.js'
import { readRequestBody } from './http/request-body.js'
import { registerBroadcastRoutes } from './routes/broadcasts.js'
import { registerDeadLetterRoutes } from './routes/dead-letters.js'
import { registerEventStreamRoutes } from './routes/event-streams.js'
import { registerEventRoutes } from './routes/events.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerHistoryRoutes } from './routes/history.js'
import { registerLiveSessionRoutes } from './routes/live-session.js'
import { registerMessageMediaRoutes } from './routes/message-media.js'
import { registerMessageRoutes } from './routes/messages.js'
import { registerNodeRoutes } from './routes/nodes.js'
import { registerSessionLinkRoutes } from './routes/session-links.js'
import { registerSessionRoutes } from './routes/sessions.js'
import { registerStatsRoutes } from './routes/stats.js'
import { registerTemplateRoutes } from './routes/templates.js'
import { registerTenantRoutes } from './routes/tenants.js'
import { registerWebhookRoutes } from './routes/webhook.js'
import { registerWebhookEndpointRoutes } from './routes/webhook-endpoints.js'
import { registerConsolePage } from './web/console-page.js'
import { registerDocsPage } from './web/docs-page.js'
import { registerLinkPage } from './web/link-page.js'
import { pageHeaders } from './web/page.js'
import { registerStaticAssets } from './web/static-assets.js'

/** Every route of the API, and what the OpenAPI document says besides them. */
function registerApi(app: OpenAPIHono<AppEnv>): void {
  describeApi(app)
  registerHealthRoutes(app)
  registerTenantRoutes(app)
  registerNodeRoutes(app)
  registerSessionRoutes(app)
  registerSessionLinkRoutes(app)
  registerMessageRoutes(app)
  registerMessageMediaRoutes(app)
  registerHistoryRoutes(app)
  registerLiveSessionRoutes(app)
  registerStatsRoutes(app)
  registerBroadcastRoutes(app)
  registerTemplateRoutes(app)
  registerWebhookRoutes(app)
  registerWebhookEndpointRoutes(app)
  // Before the event routes: `/v1/events/stream` must not be read as `/v1/events/{eventId}`.
  registerEventStreamRoutes(app)
  registerEventRoutes(app)
  registerDeadLetterRoutes(app)
}

/**
 * The OpenAPI document that `GET /openapi.json` serves, built from the same routes without a context:
 * no handler runs, so nothing opens a database or a socket (the client generator and the lint use it).
 */
export function openApiDocument(): ReturnType<OpenAPIHono['getOpenAPI31Document']> {
  const app = new OpenAPIHono<AppEnv>()
  registerApi(app)
  return app.getOpenAPI31Document(OPENAPI_DOCUMENT_CONFIG)
}

/** The public HTTP API. Stateless: everything it knows comes from `ctx`. */
export function createApp(ctx: ControlPlaneContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  app.use('*', observeRequests(ctx))
  app.use('*', readRequestBody)
  app.use('*', pageHeaders)

  registerApi(app)
  app.doc31(OPENAPI_DOCUMENT_PATH, OPENAPI_DOCUMENT_CONFIG)
  registerStaticAssets(app)
  registerDocsPage(app)
  registerConsolePage(app)
  registerLinkPage(app)

  app.notFound((c) => handleError(new NotFound(`route ${c.req.method} ${c.req.path}`), c))
  app.onError(handleError)
  return app
}
