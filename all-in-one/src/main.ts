// `npm start`: the all-in-one gateway, a control-plane and a session-node in one process, on PGlite and
// in-process coordination unless DATABASE_URL / REDIS_URL are set. `--sim` (or WA_SIM=1) also runs a
// loopback WhatsApp simulator for a demo without a phone.
import { join, resolve } from 'node:path'
import { serve } from '@hono/node-server'
import { createControlPlane, loadConfig } from '@wa-cluster/control-plane'
import { createLogger, createRuntimeBase, loadConfigOrExit, onShutdownSignal } from '@wa-cluster/core'
import {
  createDispatcherFor,
  createSessionNode,
  dispatcherHooks,
  prepareSessionProcess,
} from '@wa-cluster/session-node'
import type { Config } from '@wa-cluster/shared'
import { loadEmbeddedSecrets } from './embedded-secrets.js'

const args = process.argv.slice(2)
let config: Config = loadConfigOrExit(() => loadConfig('all-in-one'))
const dataDir = resolve(config.DATA_DIR)
const secrets = loadEmbeddedSecrets(dataDir, {
  adminApiKey: config.ADMIN_API_KEY,
  authStateKey: config.AUTH_STATE_KEY,
})
// The embedded node keeps one id across restarts, so its sessions are still its own after a crash.
const nodeId = config.NODE_ID ?? 'embedded'
const logger = createLogger(config, { role: 'all-in-one', nodeId })

let simulator: { controlUrl: string; stop(): Promise<void> } | undefined
if (config.WA_SIM || args.includes('--sim')) {
  const { startSimulator } = await import('@wa-cluster/wa-sim')
  const sim = await startSimulator({ port: 0, stateFile: join(dataDir, 'wa-sim.json') })
  simulator = sim
  config = { ...config, WA_WS_URL: sim.url, WA_TRUSTED_ROOT_KEY: sim.rootPublicKey }
  logger.info({ simulator: sim.controlUrl }, 'demo mode: WhatsApp simulator running in this process')
}

prepareSessionProcess(config, logger)
const base = createRuntimeBase({
  config,
  logger,
  authStateKey: secrets.authStateKey,
  pgliteDir: join(dataDir, 'pgdata'),
})
if (base.database.kind === 'pglite') await base.database.migrate()
const controlPlane = createControlPlane(base, { adminApiKey: secrets.adminApiKey })
const dispatcher = createDispatcherFor(base)
const hooks = dispatcherHooks(dispatcher)
const node = createSessionNode({
  ...base,
  nodeId,
  webhookClaimLeaseMs: hooks.webhookClaimLeaseMs,
  onEventCommitted: (sessionId, notice) => {
    hooks.deliverCommitted(notice)
    if (notice.stateChanged) controlPlane.sessionWatcher.notifyLocal(sessionId)
  },
})

await dispatcher.start()
await node.start()
await controlPlane.start()
const server = serve({ fetch: controlPlane.app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
  const url = `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${info.port}`
  logger.info(
    { url, database: base.database.kind, coordinator: base.coordinator.kind },
    'wa-cluster listening',
  )
  // The one place a secret is printed: the operator needs it, and it is never logged as JSON.
  process.stdout.write(
    `\nwa-cluster is running at ${url}\n  API docs:   ${url}/docs\n  admin key:  ${secrets.adminApiKey}\n  data:       ${dataDir}${simulator ? `\n  demo:       simulated WhatsApp at ${simulator.controlUrl} (POST /scan {qr, phone} links a session; see docs/WA-SIM.md)` : ''}\n\n`,
  )
})

onShutdownSignal(logger, async () => {
  server.close()
  await node.stop()
  await controlPlane.stop()
  await dispatcher.stop()
  await base.coordinator.close()
  await base.database.close()
  await simulator?.stop()
})
