import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { BadRequest, type EventType, Forbidden } from '@wa-cluster/shared'
import type { Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import { requireStreamReader, requireTenant, tenantIdOf } from '../http/auth.js'
import { allowEmptyJsonBody } from '../http/empty-body.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  CreateStreamTokenBody,
  EventStreamHeaders,
  EventStreamQuery,
  errorResponses,
  jsonBody,
  jsonResponse,
  StreamTokenSchema,
} from '../http/schemas.js'
import { type PlannedStream, planEventStream } from '../services/event-streams.js'
import { createStreamToken } from '../services/stream-tokens.js'
import { serveNodeSse, serveWebSse } from '../streams/sse.js'
import { serveWebSocketStream } from '../streams/websocket.js'

const streamReader = {
  tags: ['Events'],
  security: [{ bearer: [] }],
  middleware: [requireStreamReader, acceptJsonBody],
}

const streamRequest = { query: EventStreamQuery, headers: EventStreamHeaders }

const streamEventsRoute = createRoute({
  ...streamReader,
  method: 'get',
  operationId: 'streamEvents',
  path: '/v1/events/stream',
  summary: 'Live events as Server-Sent Events: replays from a cursor, then streams as they commit',
  description:
    'Each event is one SSE message: `id:` is the event id (the resume cursor), `data:` the webhook envelope (JSON). Resume with `Last-Event-ID` (EventSource sends it on reconnect) or `?after=`: no gap, no duplicate. A comment line `: heartbeat` comes every STREAM_HEARTBEAT_MS (15 s) while idle; `: ready` once the replay is done. Events come in commit order (per session also `seq` order). A client that stops reading is disconnected once STREAM_BUFFER_BYTES are waiting for it. Authenticate with the tenant key or `?token=` (see `POST /v1/stream-tokens`).',
  request: streamRequest,
  responses: {
    200: {
      description: 'An endless `text/event-stream`',
      content: { 'text/event-stream': { schema: z.string() } },
    },
    ...errorResponses(400, 401, 403, 429),
  },
})

const eventWebSocketRoute = createRoute({
  ...streamReader,
  method: 'get',
  operationId: 'streamEventsWebSocket',
  path: '/v1/events/ws',
  summary: 'Live events over a WebSocket (the same events as the SSE stream)',
  description:
    'Connect with `Upgrade: websocket`. Each text message is one webhook envelope (JSON), in commit order; the server pings every STREAM_HEARTBEAT_MS and closes a connection that does not answer. Resume with `?after=` (the last `id` received). Messages from the client are ignored. A plain GET (no upgrade) is answered 400.',
  request: streamRequest,
  responses: {
    101: { description: 'Switching protocols: the WebSocket is open' },
    ...errorResponses(400, 401, 403, 429),
  },
})

const createStreamTokenRoute = createRoute({
  tags: ['Events'],
  security: [{ bearer: [] }],
  middleware: [requireTenant, acceptJsonBody, allowEmptyJsonBody],
  method: 'post',
  operationId: 'createStreamToken',
  path: '/v1/stream-tokens',
  summary: 'A short-lived, read-only token for the event streams (`?token=`), for browsers',
  description:
    'EventSource cannot send an Authorization header. The token opens `/v1/events/stream` and `/v1/events/ws` for this tenant (or one session of it) until it expires, and no other endpoint. A stream opened with it ends when it expires; connect again with a new token and `?after=` the last event id.',
  request: { body: jsonBody(CreateStreamTokenBody, false) },
  responses: {
    201: jsonResponse(StreamTokenSchema, 'The token and when it expires'),
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
})

type StreamQuery = z.infer<typeof EventStreamQuery>
type StreamHeaders = z.infer<typeof EventStreamHeaders>

/** Checks the request against the stream token's scope and fixes where the stream starts. */
async function planFrom(
  c: Context<AppEnv>,
  query: StreamQuery,
  headers: StreamHeaders,
): Promise<PlannedStream> {
  const grant = c.get('streamGrant')
  if (grant?.sessionId && query.sessionId !== undefined && query.sessionId !== grant.sessionId) {
    throw new Forbidden(`this stream token reads session ${grant.sessionId} only`)
  }
  const sessionId = grant?.sessionId ?? query.sessionId
  const types = query.types ? ([...new Set(query.types.split(','))] as EventType[]) : undefined
  const lastEventId = headers['last-event-id']
  return planEventStream({
    ctx: c.get('ctx'),
    tenantId: tenantIdOf(c),
    filter: { ...(sessionId ? { sessionId } : {}), ...(types ? { types } : {}) },
    ...(lastEventId
      ? { resumeAfter: { eventId: lastEventId, field: 'header.last-event-id' } }
      : query.after
        ? { resumeAfter: { eventId: query.after, field: 'query.after' } }
        : {}),
    ...(grant ? { expiresAt: grant.expiresAt } : {}),
  })
}

export function registerEventStreamRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(streamEventsRoute, async (c) => {
    const plan = await planFrom(c, c.req.valid('query'), c.req.valid('header'))
    const ctx = c.get('ctx')
    const outgoing = c.env?.outgoing
    if (outgoing) {
      // The stream writes its own head and body on the Node response; the server sends nothing more.
      void serveNodeSse(ctx, plan, outgoing, c.get('requestId')).catch(() => outgoing.destroy())
      return RESPONSE_ALREADY_SENT as never
    }
    return streamSSE(c, (sse) => serveWebSse(ctx, plan, sse, c.env?.incoming)) as never
  })

  app.openapi(eventWebSocketRoute, async (c) => {
    const upgrade = c.env?.wsUpgrade
    if (!upgrade) {
      throw new BadRequest(
        'this endpoint is a WebSocket: connect with Upgrade: websocket (GET /v1/events/stream serves the same events as SSE)',
      )
    }
    const plan = await planFrom(c, c.req.valid('query'), c.req.valid('header'))
    const ctx = c.get('ctx')
    upgrade.accept = (socket) => serveWebSocketStream(ctx, plan, socket)
    return c.body(null, 200) as never
  })

  app.openapi(createStreamTokenRoute, async (c) => {
    const principal = c.get('principal')
    const body = c.req.valid('json') ?? {}
    const token = await createStreamToken({
      ctx: c.get('ctx'),
      tenantId: tenantIdOf(c),
      apiKeyId: principal?.kind === 'tenant' ? principal.apiKeyId : '',
      input: {
        ...(body.sessionId !== undefined ? { sessionId: body.sessionId } : {}),
        ...(body.ttlSeconds !== undefined ? { ttlSeconds: body.ttlSeconds } : {}),
      },
    })
    return c.json(token, 201)
  })
}
