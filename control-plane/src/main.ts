// `npm run start:control-plane`: one stateless control-plane of a cluster (Postgres + Redis): the
// public API, the session watcher and the failover leader. Runs no sessions and no webhook dispatcher.
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import {
  createLogger,
  createRuntimeBase,
  httpOrigin,
  loadConfigOrExit,
  type MetricsServer,
  onShutdownSignal,
  serveMetrics,
} from '@wa-cluster/core'
import { loadConfig } from './config.js'
import { createControlPlane } from './control-plane.js'

const config = loadConfigOrExit(() => loadConfig('control-plane'))
const logger = createLogger(config, { role: 'control-plane' })
const base = createRuntimeBase({ config, logger, authStateKey: config.AUTH_STATE_KEY! })
const controlPlane = createControlPlane(base, { adminApiKey: config.ADMIN_API_KEY! })

await controlPlane.start()
// Prometheus scrapes a port of its own; the public API port does not serve /metrics.
const metricsServer: MetricsServer | undefined =
  config.METRICS_PORT === undefined
    ? undefined
    : await serveMetrics(base.metrics, { port: config.METRICS_PORT, host: config.HOST })
const server = serve({ fetch: controlPlane.app.fetch, port: config.PORT, hostname: config.HOST }, (info) =>
  logger.info(
    {
      url: httpOrigin(info),
      metrics: metricsServer?.url,
      database: base.database.kind,
      coordinator: base.coordinator.kind,
    },
    'wa-cluster listening',
  ),
)

controlPlane.acceptWebSockets(server as Server)

onShutdownSignal(logger, async () => {
  server.close()
  await metricsServer?.close()
  await controlPlane.stop()
  await base.coordinator.close()
  await base.database.close()
})
