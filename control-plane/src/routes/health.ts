import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { sql } from 'drizzle-orm'
import type { AppEnv } from '../http/env.js'
import { PUBLIC } from '../http/openapi.js'

/** A readiness check that hangs is a failed check: probes must answer quickly. */
const READY_CHECK_TIMEOUT_MS = 2_000

const CheckResult = z.enum(['ok', 'failed'])
const ReadySchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({ database: CheckResult, coordinator: CheckResult }),
  })
  .openapi('Readiness')

const healthRoute = createRoute({
  tags: ['Operations'],
  method: 'get',
  operationId: 'getHealth',
  ...PUBLIC,
  path: '/health',
  summary: 'Liveness: the process answers',
  responses: {
    200: {
      description: 'Alive',
      content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
    },
  },
})

const readyRoute = createRoute({
  tags: ['Operations'],
  method: 'get',
  operationId: 'getReadiness',
  ...PUBLIC,
  path: '/ready',
  summary: 'Readiness: Postgres and the coordinator (Redis) are reachable',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: ReadySchema } } },
    503: {
      description: 'Not ready; `checks` says which dependency failed',
      content: { 'application/json': { schema: ReadySchema } },
    },
  },
})

async function check(
  name: string,
  probe: () => Promise<unknown>,
  log: (error: unknown, name: string) => void,
): Promise<'ok' | 'failed'> {
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${READY_CHECK_TIMEOUT_MS} ms`)),
          READY_CHECK_TIMEOUT_MS,
        )
      }),
    ])
    return 'ok'
  } catch (error) {
    log(error, name)
    return 'failed'
  } finally {
    clearTimeout(timer)
  }
}

export function registerHealthRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200))
  app.openapi(readyRoute, async (c) => {
    const ctx = c.get('ctx')
    const log = (error: unknown, name: string) =>
      c.get('logger').warn({ err: error, check: name }, 'readiness check failed')
    const [database, coordinator] = await Promise.all([
      check('database', () => ctx.database.rows(sql`SELECT 1`), log),
      check('coordinator', () => ctx.coordinator.ping(), log),
    ])
    const ready = database === 'ok' && coordinator === 'ok'
    return ready
      ? c.json({ status: 'ready' as const, checks: { database, coordinator } }, 200)
      : c.json({ status: 'not_ready' as const, checks: { database, coordinator } }, 503)
  })
}
