import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './env.js'

/**
 * For routes whose body is optional (`connect`, `rebalance`…): clients often send
 * `Content-Type: application/json` with no body at all. Treat that as `{}` instead of invalid JSON.
 */
export const allowEmptyJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.header('content-type') && (await c.req.text()).trim() === '') {
    // hono parses JSON from its cached text, so replacing the cache is enough. The cache holds
    // promises at run time although its type names the resolved values.
    c.req.bodyCache.text = Promise.resolve('{}') as never
  }
  await next()
}
