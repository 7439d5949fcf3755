import { swaggerUI } from '@hono/swagger-ui'
import { OpenAPIHono } from '@hono/zod-openapi'
import { NotFound } from '@wa-cluster/shared'
import type { ControlPlaneContext } from './context.js'
import type { AppEnv } from './http/env.js'
import { handleError, validationHook } from './http/errors.js'
import { observeRequests } from './http/observability.js'
import { readRequestBody } from './http/request-body.js'
import { registerEventRoutes } from './routes/events.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerMessageRoutes } from './routes/messages.js'
import { registerNodeRoutes } from './routes/nodes.js'
import { registerSessionRoutes } from './routes/sessions.js'
import { registerTenantRoutes } from './routes/tenants.js'
import { registerWebhookRoutes } from './routes/webhook.js'

/** The public HTTP API. Stateless: everything it knows comes from `ctx`. */
export function createApp(ctx: ControlPlaneContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })

  app.use('*', observeRequests(ctx))
  app.use('*', readRequestBody)

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'A tenant API key (`wak_…`) for tenant endpoints, or the operator (admin) key for operator endpoints',
  })

  registerHealthRoutes(app)
  registerTenantRoutes(app)
  registerNodeRoutes(app)
  registerSessionRoutes(app)
  registerMessageRoutes(app)
  registerWebhookRoutes(app)
  registerEventRoutes(app)

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'wa-cluster API',
      version: '1.0.0',
      description:
        'Multi-tenant WhatsApp sessions: connect a number with a QR or pairing code, send messages, receive events on a signed webhook. Errors are `{ error: { code, message, requestId } }`.',
    },
  })
  app.get('/docs', swaggerUI({ url: '/openapi.json' }))

  app.notFound((c) => handleError(new NotFound(`route ${c.req.method} ${c.req.path}`), c))
  app.onError(handleError)
  return app
}
