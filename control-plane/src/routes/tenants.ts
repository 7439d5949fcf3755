import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireAdmin, requireTenant, tenantIdOf } from '../http/auth.js'
import { allowEmptyJsonBody } from '../http/empty-body.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  ApiKeyCreatedSchema,
  ApiKeyListQuery,
  ApiKeyListSchema,
  ApiKeyParams,
  ApiKeySchema,
  CreateApiKeyBody,
  CreateTenantBody,
  errorResponses,
  jsonBody,
  jsonResponse,
  TenantCreatedSchema,
  TenantDetailSchema,
  TenantListQuery,
  TenantListSchema,
  TenantParams,
  UpdateTenantBody,
} from '../http/schemas.js'
import { createApiKey, listApiKeys, revokeApiKey } from '../services/api-keys.js'
import { createTenant, deleteTenant, getTenant, listTenants, updateTenant } from '../services/tenants.js'

const operator = {
  tags: ['Operator: tenants'],
  security: [{ bearer: [] }],
  middleware: [requireAdmin, acceptJsonBody],
}

const createTenantRoute = createRoute({
  ...operator,
  method: 'post',
  operationId: 'createTenant',
  path: '/v1/tenants',
  summary: 'Create a tenant and its first API key',
  request: { body: jsonBody(CreateTenantBody) },
  responses: {
    201: jsonResponse(TenantCreatedSchema, 'The tenant; `apiKey` is shown only here'),
    ...errorResponses(400, 401, 403, 413, 415),
  },
})

const listTenantsRoute = createRoute({
  ...operator,
  method: 'get',
  operationId: 'listTenants',
  path: '/v1/tenants',
  summary: 'List tenants, a page at a time',
  description: 'Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { query: TenantListQuery },
  responses: {
    200: jsonResponse(TenantListSchema, 'A page of tenants, newest first'),
    ...errorResponses(400, 401, 403),
  },
})

const getTenantRoute = createRoute({
  ...operator,
  method: 'get',
  operationId: 'getTenant',
  path: '/v1/tenants/{tenantId}',
  summary: 'Get a tenant with its limits and usage',
  request: { params: TenantParams },
  responses: {
    200: jsonResponse(TenantDetailSchema, 'The tenant, its limits in force and its usage'),
    ...errorResponses(401, 403, 404),
  },
})

const updateTenantRoute = createRoute({
  ...operator,
  operationId: 'updateTenant',
  method: 'patch',
  path: '/v1/tenants/{tenantId}',
  summary: "Change a tenant's limits, status or settings",
  description:
    'Only the limits named change; `null` goes back to the configured default. Lowering `sessions` below the current count deletes nothing, it only refuses new sessions. `messagesPerMinutePerSession` and `messagesPerDay` answer sends past them with 429 and Retry-After (broadcasts slow down instead). `status: "suspended"` answers every send, broadcast and connect with 403 `tenant_suspended` and holds broadcasts; the sessions keep their credentials.',
  request: { params: TenantParams, body: jsonBody(UpdateTenantBody) },
  responses: {
    200: jsonResponse(TenantDetailSchema, 'The tenant with its limits in force and its usage'),
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
})

const getOwnTenantRoute = createRoute({
  tags: ['Tenant'],
  security: [{ bearer: [] }],
  middleware: [requireTenant],
  method: 'get',
  operationId: 'getOwnTenant',
  path: '/v1/tenant',
  summary: 'Your tenant: its limits, settings (`defaultCountry`, `timeZone`) and usage',
  description: 'The operator sets limits and settings with `PATCH /v1/tenants/{tenantId}`.',
  responses: {
    200: jsonResponse(TenantDetailSchema, 'The tenant of the API key'),
    ...errorResponses(401, 403),
  },
})

const deleteTenantRoute = createRoute({
  ...operator,
  method: 'delete',
  operationId: 'deleteTenant',
  path: '/v1/tenants/{tenantId}',
  summary: 'Delete a tenant, logging out and deleting its sessions first',
  request: { params: TenantParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
})

const createApiKeyRoute = createRoute({
  ...operator,
  middleware: [requireAdmin, acceptJsonBody, allowEmptyJsonBody],
  method: 'post',
  operationId: 'createApiKey',
  path: '/v1/tenants/{tenantId}/api-keys',
  summary: 'Create another API key for a tenant',
  request: { params: TenantParams, body: jsonBody(CreateApiKeyBody, false) },
  responses: {
    201: jsonResponse(ApiKeyCreatedSchema, 'The key; `apiKey` is shown only here'),
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
})

const listApiKeysRoute = createRoute({
  ...operator,
  method: 'get',
  operationId: 'listApiKeys',
  path: '/v1/tenants/{tenantId}/api-keys',
  summary: "List a tenant's API keys (without secrets), a page at a time",
  description: 'Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { params: TenantParams, query: ApiKeyListQuery },
  responses: {
    200: jsonResponse(ApiKeyListSchema, 'A page of keys, newest first'),
    ...errorResponses(400, 401, 403, 404),
  },
})

const revokeApiKeyRoute = createRoute({
  ...operator,
  method: 'delete',
  operationId: 'revokeApiKey',
  path: '/v1/tenants/{tenantId}/api-keys/{apiKeyId}',
  summary: 'Revoke an API key (it answers 401 from then on)',
  request: { params: ApiKeyParams },
  responses: { 200: jsonResponse(ApiKeySchema, 'The revoked key'), ...errorResponses(401, 403, 404) },
})

export function registerTenantRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(createTenantRoute, async (c) => {
    const tenant = await createTenant({ ctx: c.get('ctx'), input: c.req.valid('json') })
    c.set('tenantId', tenant.id)
    return c.json(tenant, 201)
  })
  app.openapi(listTenantsRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    return c.json(await listTenants({ ctx: c.get('ctx'), page: { limit, ...(after ? { after } : {}) } }), 200)
  })
  app.openapi(getTenantRoute, async (c) =>
    c.json(await getTenant({ ctx: c.get('ctx'), tenantId: c.req.valid('param').tenantId }), 200),
  )
  app.openapi(updateTenantRoute, async (c) =>
    c.json(
      await updateTenant({
        ctx: c.get('ctx'),
        tenantId: c.req.valid('param').tenantId,
        input: c.req.valid('json'),
      }),
      200,
    ),
  )
  app.openapi(getOwnTenantRoute, async (c) =>
    c.json(await getTenant({ ctx: c.get('ctx'), tenantId: tenantIdOf(c) }), 200),
  )
  app.openapi(deleteTenantRoute, async (c) => {
    await deleteTenant({ ctx: c.get('ctx'), tenantId: c.req.valid('param').tenantId })
    return c.body(null, 204)
  })
  app.openapi(createApiKeyRoute, async (c) => {
    const key = await createApiKey({
      ctx: c.get('ctx'),
      tenantId: c.req.valid('param').tenantId,
      input: c.req.valid('json'),
    })
    return c.json(key, 201)
  })
  app.openapi(listApiKeysRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    const page = await listApiKeys({
      ctx: c.get('ctx'),
      tenantId: c.req.valid('param').tenantId,
      page: { limit, ...(after ? { after } : {}) },
    })
    return c.json(page, 200)
  })
  app.openapi(revokeApiKeyRoute, async (c) => {
    const { tenantId, apiKeyId } = c.req.valid('param')
    return c.json(await revokeApiKey({ ctx: c.get('ctx'), tenantId, apiKeyId }), 200)
  })
}
