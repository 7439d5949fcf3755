// `npm start`: the all-in-one gateway (control-plane + session-node in one process; PGlite and in-process
// coordination unless DATABASE_URL / REDIS_URL are set). `--role control-plane` runs only the public API.
// `--sim` (or WA_SIM=1) also runs a loopback WhatsApp simulator for a demo without a phone.
import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import { serve } from '@hono/node-server'
import {
  createDispatcherFor,
  createFailoverLeader,
  createLogger,
  createRuntimeBase,
  createSessionNode,
  createSessionWatcher,
  dispatcherHooks,
  loadConfigOrExit,
  onShutdownSignal,
  type SessionNode,
} from '@wa-cluster/session-node'
import type { Config, Role } from '@wa-cluster/shared'
import { createApp } from './app.js'
import { loadConfig } from './config.js'
import type { ControlPlaneContext } from './context.js'
import { loadEmbeddedSecrets } from './embedded-secrets.js'

const args = process.argv.slice(2)
const role: Role =
  args.includes('--role') && args[args.indexOf('--role') + 1] === 'control-plane'
    ? 'control-plane'
    : 'all-in-one'

let config: Config = loadConfigOrExit(() => loadConfig(role))
const embedded = role === 'all-in-one'
const dataDir = resolve(config.DATA_DIR)
const secrets = embedded
  ? loadEmbeddedSecrets(dataDir, { adminApiKey: config.ADMIN_API_KEY, authStateKey: config.AUTH_STATE_KEY })
  : { adminApiKey: config.ADMIN_API_KEY!, authStateKey: config.AUTH_STATE_KEY!, generated: false }
// The embedded node keeps one id across restarts, so its sessions are still its own after a crash.
const nodeId = config.NODE_ID ?? 'embedded'
const logger = createLogger(config, { role, ...(embedded ? { nodeId } : {}) })

let simulator: { controlUrl: string; stop(): Promise<void> } | undefined
if (embedded && (config.WA_SIM || args.includes('--sim'))) {
  const { startSimulator } = await import('@wa-cluster/wa-sim')
  const sim = await startSimulator({ port: 0, stateFile: join(dataDir, 'wa-sim.json') })
  simulator = sim
  config = { ...config, WA_WS_URL: sim.url, WA_TRUSTED_ROOT_KEY: sim.rootPublicKey }
  logger.info({ simulator: sim.controlUrl }, 'demo mode: WhatsApp simulator running in this process')
}

const base = createRuntimeBase({
  config,
  logger,
  authStateKey: secrets.authStateKey,
  pgliteDir: join(dataDir, 'pgdata'),
})
if (base.database.kind === 'pglite') await base.database.migrate()
const sessionWatcher = createSessionWatcher(base.coordinator)
const ctx: ControlPlaneContext = {
  ...base,
  sessionWatcher,
  adminKeyHash: createHash('sha256').update(secrets.adminApiKey).digest('hex'),
}
const dispatcher = createDispatcherFor(base)
const hooks = dispatcherHooks(dispatcher)
const node: SessionNode | undefined = embedded
  ? createSessionNode({
      ...base,
      nodeId,
      webhookClaimLeaseMs: hooks.webhookClaimLeaseMs,
      onEventCommitted: (sessionId, notice) => {
        hooks.deliverCommitted(notice)
        if (notice.stateChanged) sessionWatcher.notifyLocal(sessionId)
      },
    })
  : undefined
const leader = createFailoverLeader({
  database: base.database,
  coordinator: base.coordinator,
  logger,
  config,
})

await sessionWatcher.start()
await dispatcher.start()
await node?.start()
await leader.start()
const app = createApp(ctx)
const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
  const url = `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${info.port}`
  logger.info(
    { url, database: base.database.kind, coordinator: base.coordinator.kind },
    'wa-cluster listening',
  )
  if (embedded) {
    // The one place a secret is printed: the operator needs it, and it is never logged as JSON.
    process.stdout.write(
      `\nwa-cluster is running at ${url}\n  API docs:   ${url}/docs\n  admin key:  ${secrets.adminApiKey}\n  data:       ${dataDir}${simulator ? `\n  demo:       simulated WhatsApp at ${simulator.controlUrl} (POST /scan {qr, phone} links a session; see docs/WA-SIM.md)` : ''}\n\n`,
    )
  }
})

onShutdownSignal(logger, async () => {
  server.close()
  await node?.stop()
  await leader.stop()
  await dispatcher.stop()
  await sessionWatcher.stop()
  await base.coordinator.close()
  await base.database.close()
  await simulator?.stop()
})
