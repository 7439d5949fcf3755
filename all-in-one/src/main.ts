// `npm start`: the all-in-one gateway, a control-plane and a session-node in one process, on PGlite and
// in-process coordination unless DATABASE_URL / REDIS_URL are set. `--sim` (or WA_SIM=1) also runs a
// loopback WhatsApp simulator for a demo without a phone.
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { serve } from '@hono/node-server'
import { createControlPlane, loadConfig } from '@wa-cluster/control-plane'
import {
  createLogger,
  createRuntimeBase,
  httpOrigin,
  loadConfigOrExit,
  type MetricsServer,
  onShutdownSignal,
  resealSecrets,
  serveMetrics,
} from '@wa-cluster/core'
import {
  createDispatcherFor,
  createSessionNode,
  dispatcherHooks,
  prepareSessionProcess,
} from '@wa-cluster/session-node'
import type { Config } from '@wa-cluster/shared'
import { type AdminKeySource, forgetPreviousAuthStateKeys, loadEmbeddedSecrets } from './embedded-secrets.js'

// Everything this process creates (DATA_DIR, PGlite's files, secrets.json, the simulator's state) is
// readable by its owner only. Set before the first file is written.
process.umask(0o077)

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
  config = {
    ...config,
    WA_WS_URL: sim.url,
    WA_TRUSTED_ROOT_KEY: sim.rootPublicKey,
    WA_MEDIA_CA: sim.mediaCa,
    // Received media is downloaded through the outbound guard, and the simulator's media server is on
    // loopback: in demo mode that one address is allowed.
    ALLOW_PRIVATE_NETWORKS: [config.ALLOW_PRIVATE_NETWORKS, '127.0.0.1/32'].filter(Boolean).join(','),
  }
  logger.info({ simulator: sim.controlUrl }, 'demo mode: WhatsApp simulator running in this process')
}

prepareSessionProcess(config, logger)
const base = createRuntimeBase({
  config,
  logger,
  authStateKey: secrets.authStateKey,
  previousAuthStateKeys: [...new Set([...config.AUTH_STATE_PREVIOUS_KEYS, ...secrets.previousAuthStateKeys])],
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
if (secrets.previousAuthStateKeys.length > 0 || config.AUTH_STATE_PREVIOUS_KEYS.length > 0)
  void finishKeyRotation()
const metricsServer: MetricsServer | undefined =
  config.METRICS_PORT === undefined
    ? undefined
    : await serveMetrics(base.metrics, { port: config.METRICS_PORT, host: config.HOST })
const server = serve({ fetch: controlPlane.app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
  const listening = describeListening(info)
  logger.info(
    {
      url: listening.url,
      address: info.address,
      port: info.port,
      metrics: metricsServer?.url,
      database: base.database.kind,
      coordinator: base.coordinator.kind,
    },
    'wa-cluster listening',
  )
  process.stdout.write(
    [
      '',
      `wa-cluster is running at ${listening.url}`,
      `  listening:  ${listening.scope}`,
      `  console:    ${listening.url}/console (sign in with the admin key)`,
      `  API docs:   ${listening.url}/docs`,
      `  admin key:  ${adminKeyLine(secrets.adminKeySource)}`,
      `  data:       ${dataDir}`,
      ...(metricsServer ? [`  metrics:    ${metricsServer.url}`] : []),
      ...(simulator
        ? [
            `  demo:       simulated WhatsApp at ${simulator.controlUrl} (POST /scan {qr, phone} links a session; see docs/WA-SIM.md)`,
          ]
        : []),
      '',
      '',
    ].join('\n'),
  )
})

controlPlane.acceptWebSockets(server as Server)

/** The URL to use from this machine, and who else can reach the port. */
function describeListening(info: AddressInfo): { url: string; scope: string } {
  const wildcard = info.address === '0.0.0.0' || info.address === '::'
  if (!wildcard) {
    const loopback = info.address === '::1' || info.address.startsWith('127.')
    return {
      url: httpOrigin(info),
      scope: loopback
        ? `${info.address} port ${info.port}: this machine only (HOST=0.0.0.0 listens on every interface)`
        : `${info.address} port ${info.port}`,
    }
  }
  return {
    url: httpOrigin({ address: info.address === '::' ? '::1' : '127.0.0.1', port: info.port }),
    scope: `every network interface (HOST=${info.address}) port ${info.port}: other machines can reach it`,
  }
}

/**
 * The admin key is printed once, on the start that generated it (it is a secret: terminal scroll-back
 * and captured logs keep it). Later starts say where it is kept. Never logged as JSON.
 */
function adminKeyLine(source: AdminKeySource): string {
  if (source === 'generated') return `${secrets.adminApiKey}   (new; shown once, kept in ${secrets.file})`
  if (source === 'environment') return 'from ADMIN_API_KEY'
  return `kept in ${secrets.file} (shown only on the first start)`
}

/**
 * AUTH_STATE_KEY changed (or previous keys were given): re-seal every stored secret with the new key
 * while serving, then drop the replaced keys from secrets.json.
 */
async function finishKeyRotation(): Promise<void> {
  try {
    const result = await resealSecrets({
      database: base.database,
      secretBox: base.secretBox,
      onProgress: (progress) => logger.info(progress, 're-seal progress'),
    })
    if (result.remaining === 0 && result.unreadable === 0) {
      forgetPreviousAuthStateKeys(secrets.file)
      logger.info(
        { tables: result.tables },
        'key rotation finished: every secret is sealed with AUTH_STATE_KEY',
      )
    } else {
      logger.warn(
        { remaining: result.remaining, unreadable: result.unreadable },
        'key rotation not finished: the previous keys are kept; it runs again at the next start',
      )
    }
  } catch (error) {
    logger.error({ err: (error as Error).message }, 're-seal failed; the previous keys are kept')
  }
}

onShutdownSignal(logger, async () => {
  server.close()
  await metricsServer?.close()
  await node.stop()
  await controlPlane.stop()
  await dispatcher.stop()
  await base.coordinator.close()
  await base.database.close()
  await simulator?.stop()
})
