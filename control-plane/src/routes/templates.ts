import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  errorResponses,
  jsonBody,
  jsonResponse,
  PutTemplateBody,
  TemplateListQuery,
  TemplateListSchema,
  TemplateParams,
  TemplateSchema,
} from '../http/schemas.js'
import { deleteTemplate, getTemplate, listTemplates, putTemplate } from '../services/templates.js'

const tenant = {
  tags: ['Templates'],
  security: [{ bearer: [] }],
  middleware: [requireTenant, acceptJsonBody],
}

const putTemplateRoute = createRoute({
  ...tenant,
  method: 'put',
  operationId: 'putTemplate',
  path: '/v1/templates/{name}',
  summary: 'Create or replace a message template',
  description:
    "The tenant's own template (not a Meta-approved one): `{{variable}}` placeholders are filled in from `variables` when a send or a broadcast recipient names it with `template`. A missing variable is a 400 naming it; the rendered text is what is stored. A media template (`type` `image`, `video`, `audio`, `document` or `sticker` with `media.url`) sends that file with the rendered body as its caption; the URL is fetched at each send (once per broadcast), so a file that changes behind it goes out as it is then.",
  request: { params: TemplateParams, body: jsonBody(PutTemplateBody) },
  responses: {
    200: jsonResponse(TemplateSchema, 'The template, replaced'),
    201: jsonResponse(TemplateSchema, 'The template, created'),
    ...errorResponses(400, 401, 403, 413, 415),
  },
})

const listTemplatesRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'listTemplates',
  path: '/v1/templates',
  summary: 'List templates by name, a page at a time',
  description: 'Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { query: TemplateListQuery },
  responses: {
    200: jsonResponse(TemplateListSchema, 'A page of templates'),
    ...errorResponses(400, 401, 403),
  },
})

const getTemplateRoute = createRoute({
  ...tenant,
  method: 'get',
  operationId: 'getTemplate',
  path: '/v1/templates/{name}',
  summary: 'Get a template',
  request: { params: TemplateParams },
  responses: { 200: jsonResponse(TemplateSchema, 'The template'), ...errorResponses(401, 403, 404) },
})

const deleteTemplateRoute = createRoute({
  ...tenant,
  method: 'delete',
  operationId: 'deleteTemplate',
  path: '/v1/templates/{name}',
  summary: 'Delete a template (messages already rendered from it keep their text)',
  request: { params: TemplateParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
})

export function registerTemplateRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(putTemplateRoute, async (c) => {
    const { template, created } = await putTemplate({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      name: c.req.valid('param').name,
      input: c.req.valid('json'),
    })
    return created ? c.json(template, 201) : c.json(template, 200)
  })
  app.openapi(listTemplatesRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    const page = await listTemplates({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      page: { limit, ...(after ? { after } : {}) },
    })
    return c.json(page, 200)
  })
  app.openapi(getTemplateRoute, async (c) =>
    c.json(
      await getTemplate({ ctx: c.get('ctx'), tenantId: tenantIdOf(c), name: c.req.valid('param').name }),
      200,
    ),
  )
  app.openapi(deleteTemplateRoute, async (c) => {
    await deleteTemplate({ ctx: c.get('ctx'), tenantId: tenantIdOf(c), name: c.req.valid('param').name })
    return c.body(null, 204)
  })
}
