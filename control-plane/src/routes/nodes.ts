import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireAdmin } from '../http/auth.js'
import { allowEmptyJsonBody } from '../http/empty-body.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  DrainResultSchema,
  errorResponses,
  jsonBody,
  jsonResponse,
  MoveSessionBody,
  NodeListQuery,
  NodeListSchema,
  NodeParams,
  NodeSchema,
  NodeSessionListQuery,
  NodeSessionListSchema,
  RebalanceBody,
  RebalancePlanSchema,
  SessionParams,
  SessionSchema,
} from '../http/schemas.js'
import { activateNode, drainNode, listNodeSessions, listNodes, rebalance } from '../services/nodes.js'
import { moveSession } from '../services/sessions.js'

const operator = {
  tags: ['Operator: cluster'],
  security: [{ bearer: [] }],
  middleware: [requireAdmin, acceptJsonBody],
}

const listNodesRoute = createRoute({
  ...operator,
  method: 'get',
  operationId: 'listNodes',
  path: '/v1/nodes',
  summary: 'List session-nodes with their status and load, a page at a time',
  description: 'Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { query: NodeListQuery },
  responses: {
    200: jsonResponse(NodeListSchema, 'A page of nodes, by id'),
    ...errorResponses(400, 401, 403),
  },
})

const listNodeSessionsRoute = createRoute({
  ...operator,
  method: 'get',
  operationId: 'listNodeSessions',
  path: '/v1/nodes/{nodeId}/sessions',
  summary: 'List the sessions assigned to a node, of every tenant, a page at a time',
  description:
    'Newest first. Pass `nextCursor` as `after` to read the next page; it is null on the last page.',
  request: { params: NodeParams, query: NodeSessionListQuery },
  responses: {
    200: jsonResponse(NodeSessionListSchema, 'A page of sessions, newest first'),
    ...errorResponses(400, 401, 403, 404),
  },
})

const drainNodeRoute = createRoute({
  ...operator,
  method: 'post',
  operationId: 'drainNode',
  path: '/v1/nodes/{nodeId}/drain',
  summary:
    'Stop placing sessions on a node and hand its sessions to others (no QR re-scan); 409 no_capacity_elsewhere when they have no room',
  request: { params: NodeParams },
  responses: {
    200: jsonResponse(DrainResultSchema, 'The node, now draining; its sessions are being handed over'),
    ...errorResponses(401, 403, 404, 409),
  },
})

const activateNodeRoute = createRoute({
  ...operator,
  method: 'post',
  operationId: 'activateNode',
  path: '/v1/nodes/{nodeId}/activate',
  summary: 'Undo a drain: the node takes new sessions again',
  request: { params: NodeParams },
  responses: {
    200: jsonResponse(NodeSchema, 'The node, active again'),
    ...errorResponses(401, 403, 404, 409),
  },
})

const rebalanceRoute = createRoute({
  ...operator,
  middleware: [requireAdmin, acceptJsonBody, allowEmptyJsonBody],
  method: 'post',
  operationId: 'rebalanceSessions',
  path: '/v1/rebalance',
  summary: 'Even load across nodes with the fewest moves (dryRun: plan only)',
  request: { body: jsonBody(RebalanceBody, false) },
  responses: {
    200: jsonResponse(RebalancePlanSchema, 'The plan (executed unless dryRun)'),
    ...errorResponses(400, 401, 403, 413, 415),
  },
})

const moveSessionRoute = createRoute({
  ...operator,
  method: 'post',
  operationId: 'moveSession',
  path: '/v1/sessions/{sessionId}/move',
  summary: 'Hand a session over to a given node',
  request: { params: SessionParams, body: jsonBody(MoveSessionBody) },
  responses: {
    200: jsonResponse(SessionSchema, 'The session, now assigned to the node'),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415),
  },
})

export function registerNodeRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listNodesRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    return c.json(await listNodes({ ctx: c.get('ctx'), page: { limit, ...(after ? { after } : {}) } }), 200)
  })
  app.openapi(listNodeSessionsRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    const page = { limit, ...(after ? { after } : {}) }
    return c.json(
      await listNodeSessions({ ctx: c.get('ctx'), nodeId: c.req.valid('param').nodeId, page }),
      200,
    )
  })
  app.openapi(drainNodeRoute, async (c) =>
    c.json(await drainNode({ ctx: c.get('ctx'), nodeId: c.req.valid('param').nodeId }), 200),
  )
  app.openapi(activateNodeRoute, async (c) =>
    c.json(await activateNode({ ctx: c.get('ctx'), nodeId: c.req.valid('param').nodeId }), 200),
  )
  app.openapi(rebalanceRoute, async (c) =>
    c.json(await rebalance({ ctx: c.get('ctx'), dryRun: c.req.valid('json').dryRun ?? false }), 200),
  )
  app.openapi(moveSessionRoute, async (c) => {
    const { sessionId } = c.req.valid('param')
    return c.json(
      await moveSession({ ctx: c.get('ctx'), sessionId, nodeId: c.req.valid('json').nodeId }),
      200,
    )
  })
}
