// `npm run start:session-node`: one session-node process of a cluster (Postgres + Redis).
import { serve } from '@hono/node-server'
import {
  createLogger,
  createRuntimeBase,
  generateNodeId,
  loadConfigOrExit,
  onShutdownSignal,
} from '@wa-cluster/core'
import { sql } from 'drizzle-orm'
import { Hono } from 'hono'
import { loadConfig } from './config.js'
import { createSessionNode } from './node.js'
import { createDispatcherFor, dispatcherHooks, prepareSessionProcess } from './process.js'

const config = loadConfigOrExit(() => loadConfig())
const nodeId = config.NODE_ID ?? generateNodeId()
const logger = createLogger(config, { role: 'session-node', nodeId })
prepareSessionProcess(config, logger)
const base = createRuntimeBase({ config, logger, authStateKey: config.AUTH_STATE_KEY! })
const dispatcher = createDispatcherFor(base)
const hooks = dispatcherHooks(dispatcher)
const node = createSessionNode({
  ...base,
  nodeId,
  webhookClaimLeaseMs: hooks.webhookClaimLeaseMs,
  onEventCommitted: (_sessionId, notice) => hooks.deliverCommitted(notice),
})

// Liveness, readiness (tied to a working heartbeat path) and metrics for orchestrators.
const app = new Hono()
app.get('/health', (c) => c.json({ status: 'ok', nodeId }))
app.get('/ready', async (c) => {
  try {
    await base.coordinator.ping()
    await base.database.rows(sql`SELECT 1`)
    return c.json({ status: 'ready', nodeId, sessions: node.sessionIds().length })
  } catch (error) {
    return c.json({ status: 'not ready', reason: (error as Error).message }, 503)
  }
})
app.get('/metrics', async (c) =>
  c.text(await base.metrics.metrics(), 200, { 'content-type': base.metrics.contentType }),
)

await dispatcher.start()
await node.start()
const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST })
logger.info({ port: config.PORT }, 'session-node ready')

onShutdownSignal(logger, async () => {
  server.close()
  await node.stop()
  await dispatcher.stop()
  await base.coordinator.close()
  await base.database.close()
})
