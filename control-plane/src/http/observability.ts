import { randomUUID } from 'node:crypto'
import { registeredMetric } from '@wa-cluster/core'
import type { Context, MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { ControlPlaneContext } from '../context.js'
import type { AppEnv } from './env.js'

/** @hono/node-server's mark on a response the handler has already written to the socket. */
const RESPONSE_WRITTEN_BY_HANDLER = 'x-hono-already-sent'

/** A client-supplied request id is echoed only when it is safe to put in headers and log lines. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

type HttpMetrics = {
  requests: Counter<'route' | 'method' | 'status'>
  duration: Histogram<'route' | 'method' | 'status'>
}

/** Registers the HTTP metrics once per registry (several apps may share one in tests and all-in-one). */
function httpMetrics(registry: Registry): HttpMetrics {
  const requests = registeredMetric(
    registry,
    'http_requests_total',
    () =>
      new Counter({
        name: 'http_requests_total',
        help: 'HTTP requests answered, by route template, method and status',
        labelNames: ['route', 'method', 'status'],
        registers: [registry],
      }),
  )
  const duration = registeredMetric(
    registry,
    'http_request_duration_seconds',
    () =>
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'HTTP request duration, by route template, method and status',
        labelNames: ['route', 'method', 'status'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
  )
  return { requests, duration }
}

/**
 * First middleware: assigns the request id, a child logger, and on the way out one log line plus the
 * metrics. Route labels are templates (`/v1/sessions/:sessionId`), never raw paths, so ids do not
 * explode the metric cardinality.
 */
export function observeRequests(ctx: ControlPlaneContext): MiddlewareHandler<AppEnv> {
  const metrics = httpMetrics(ctx.metrics)
  return async (c, next) => {
    const startedAt = performance.now()
    const given = c.req.header('x-request-id')
    const requestId = given && SAFE_REQUEST_ID.test(given) ? given : `req_${randomUUID().replaceAll('-', '')}`
    c.set('ctx', ctx)
    c.set('requestId', requestId)
    c.set('logger', ctx.logger.child({ requestId }))
    c.header('x-request-id', requestId)
    await next()
    // Errors were turned into responses by onError before this point; the status is final. A response
    // the handler wrote itself on the Node socket (a live event stream, whose head carries the id) is
    // left alone: touching its headers rebuilds it, and the server would then write a second head.
    if (!c.res.headers.has(RESPONSE_WRITTEN_BY_HANDLER)) c.header('x-request-id', requestId)
    const status = c.res.status
    const route = routeLabel(c, status)
    const labels = { route, method: c.req.method, status: String(status) }
    const seconds = (performance.now() - startedAt) / 1000
    metrics.requests.inc(labels)
    metrics.duration.observe(labels, seconds)
    const tenantId = c.get('tenantId')
    const sessionId = c.get('sessionId')
    const level = status >= 500 ? 'error' : 'info'
    // Only these fields: the Authorization header and bodies (which may carry secrets) are never logged.
    c.get('logger')[level](
      {
        method: c.req.method,
        route,
        path: loggedPath(c.req.path),
        status,
        durationMs: Math.round(seconds * 1000),
        ...(tenantId ? { tenantId } : {}),
        ...(sessionId ? { sessionId } : {}),
      },
      'request',
    )
  }
}

/** A link page's token is its only credential: the log line shows where it was used, never the token. */
const LINK_TOKEN_IN_PATH = /^\/link\/[^/]+/

function loggedPath(path: string): string {
  return path.replace(LINK_TOKEN_IN_PATH, '/link/***')
}

/** The template of the route the request matched, even when a middleware before it answered. */
function routeLabel(c: Context<AppEnv>, status: number): string {
  // The last matched handler is the route's own; middleware registered with '*' come first.
  const template = routePath(c, -1)
  if (template === '/*' || template === '*' || template === '')
    return status === 404 ? 'unmatched' : 'middleware'
  return template
}
