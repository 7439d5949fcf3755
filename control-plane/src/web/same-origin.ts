import { Forbidden } from '@wa-cluster/shared'
import type { Context, MiddlewareHandler } from 'hono'
import type { AppEnv } from '../http/env.js'

/** Where browsers reach this gateway: PUBLIC_URL when set, else the origin the request was sent to. */
export function publicOrigin(c: Context<AppEnv>): string {
  return c.get('ctx').config.PUBLIC_URL ?? new URL(c.req.url).origin
}

/**
 * CSRF guard for the state-changing requests of the pages (they carry no API key, so the browser's
 * ambient authority is the page URL itself): the request must come from this gateway's own origin and
 * be `application/json`. A cross-site HTML form can send neither a foreign `Origin` we accept nor a
 * JSON content type without a CORS preflight, which this gateway never grants. 403 otherwise.
 */
export const requireSameOriginJson: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header('origin')
  const allowed = new Set([new URL(c.req.url).origin, publicOrigin(c)])
  if (!origin || !allowed.has(origin)) {
    throw new Forbidden('this request must come from the gateway’s own page (Origin header)')
  }
  const mediaType = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase()
  if (mediaType !== 'application/json') {
    throw new Forbidden(
      'this request must be sent as content-type: application/json by the gateway’s own page',
    )
  }
  await next()
}
