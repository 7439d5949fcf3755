import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireAdmin, requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import {
  errorResponses,
  jsonResponse,
  SessionParams,
  StatsQuery,
  StatsSchema,
  TenantParams,
} from '../http/schemas.js'
import { readSessionStats, readTenantStats } from '../services/stats.js'

const description =
  "Counted from counters kept as messages are written (not a scan of messages), so they are correct after a restart or a failover and survive the deletion of old messages. Each outbound message is in exactly one of `queued`, `sent` and `failed` by its current status; `delivered` and `read` are the part of `sent` that got that far. `from`/`until` select messages by creation time at hour resolution; `groupBy=day` uses the tenant's `timeZone`."

const tenantStatsRoute = createRoute({
  tags: ['Statistics'],
  security: [{ bearer: [] }],
  middleware: [requireTenant],
  method: 'get',
  operationId: 'getStats',
  path: '/v1/stats',
  summary: "Your messages' statistics: sent, delivered, read, failed, success rate, inbound",
  description,
  request: { query: StatsQuery },
  responses: { 200: jsonResponse(StatsSchema, 'The counts'), ...errorResponses(400, 401, 403, 429) },
})

const sessionStatsRoute = createRoute({
  tags: ['Statistics'],
  security: [{ bearer: [] }],
  middleware: [requireTenant],
  method: 'get',
  operationId: 'getSessionStats',
  path: '/v1/sessions/{sessionId}/stats',
  summary: "One session's message statistics",
  description,
  request: { params: SessionParams, query: StatsQuery },
  responses: { 200: jsonResponse(StatsSchema, 'The counts'), ...errorResponses(400, 401, 403, 404, 429) },
})

const operatorStatsRoute = createRoute({
  tags: ['Operator: tenants'],
  security: [{ bearer: [] }],
  middleware: [requireAdmin],
  method: 'get',
  operationId: 'getTenantStats',
  path: '/v1/tenants/{tenantId}/stats',
  summary: "A tenant's message statistics",
  description,
  request: { params: TenantParams, query: StatsQuery },
  responses: { 200: jsonResponse(StatsSchema, 'The counts'), ...errorResponses(400, 401, 403, 404) },
})

export function registerStatsRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(tenantStatsRoute, async (c) =>
    c.json(
      await readTenantStats({ ctx: c.get('ctx'), tenantId: tenantIdOf(c), query: c.req.valid('query') }),
      200,
    ),
  )
  app.openapi(sessionStatsRoute, async (c) =>
    c.json(
      await readSessionStats({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        sessionId: c.req.valid('param').sessionId,
        query: c.req.valid('query'),
      }),
      200,
    ),
  )
  app.openapi(operatorStatsRoute, async (c) =>
    c.json(
      await readTenantStats({
        ctx: c.get('ctx'),
        tenantId: c.req.valid('param').tenantId,
        query: c.req.valid('query'),
      }),
      200,
    ),
  )
}
