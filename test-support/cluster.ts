import { spawn } from 'node:child_process'
import type { WaClusterClient } from '@wa-cluster/client'
import { generateSecretBoxKey } from '@wa-cluster/shared'
import { createTestDatabase, type TestDatabase } from './postgres.js'
import { eventually, freePort, type ManagedProcess, startProcess } from './processes.js'
import { TEST_ALLOW_PRIVATE_NETWORKS } from './seed.js'

/** A Redis server of the test's own, so the test may restart it without touching anyone else's. */
export async function startPrivateRedis() {
  const port = await freePort()
  const start = () => {
    const child = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    )
    return child
  }
  let child = start()
  const url = `redis://127.0.0.1:${port}`
  const ready = async () => {
    const { Redis } = await import('ioredis')
    await eventually(
      'private redis up',
      async () => {
        const client = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        })
        client.on('error', () => {})
        try {
          await client.connect()
          return (await client.ping()) === 'PONG'
        } finally {
          client.disconnect()
        }
      },
      10_000,
    )
  }
  await ready()
  return {
    url,
    /** Kills Redis (all keys are lost: it keeps nothing on disk) and starts it again after `downMs`. */
    async restart(downMs = 1000) {
      child.kill('SIGKILL')
      await new Promise((resolve) => child.once('exit', resolve))
      await new Promise((resolve) => setTimeout(resolve, downMs))
      child = start()
      await ready()
    },
    async stop() {
      child.kill('SIGKILL')
    },
  }
}

export type ClusterOptions = {
  controlPlanes: number
  sessionNodes: number
  simUrl: string
  simRootKey: string
  /** Extra environment for every process (lease/heartbeat timings). */
  env?: Record<string, string>
}

/**
 * Real processes: N control-planes and M session-nodes on a fresh Postgres database and a private
 * Redis, pointed at a wa-sim. Each process can be killed, paused, resumed or restarted by the test.
 */
export async function startCluster(options: ClusterOptions) {
  const database: TestDatabase = await createTestDatabase('cluster')
  const redis = await startPrivateRedis()
  const adminKey = `admin-${generateSecretBoxKey()}`
  const common: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: redis.url,
    AUTH_STATE_KEY: generateSecretBoxKey(),
    ADMIN_API_KEY: adminKey,
    WA_WS_URL: options.simUrl,
    WA_TRUSTED_ROOT_KEY: options.simRootKey,
    HOST: '127.0.0.1',
    // Receivers listen on loopback, which the outbound guard refuses unless allowed.
    ALLOW_PRIVATE_NETWORKS: TEST_ALLOW_PRIVATE_NETWORKS,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    ...options.env,
  }
  const controlPlanes: { url: string; process: ManagedProcess; env: Record<string, string> }[] = []
  const nodes = new Map<string, { process: ManagedProcess; env: Record<string, string> }>()

  async function startControlPlane(index: number) {
    const port = await freePort()
    const env = { ...common, PORT: String(port) }
    const process = startProcess(`cp${index}`, 'control-plane/src/main.ts', env)
    const entry = { url: `http://127.0.0.1:${port}`, process, env }
    controlPlanes[index] = entry
    await process.waitForLine(/wa-cluster listening/)
    return entry
  }
  async function startNode(nodeId: string) {
    const env = { ...common, PORT: String(await freePort()), NODE_ID: nodeId }
    const process = startProcess(nodeId, 'session-node/src/main.ts', env)
    nodes.set(nodeId, { process, env })
    await process.waitForLine(/session-node ready/)
    return process
  }

  async function stopAll() {
    await Promise.all([...nodes.values()].map((entry) => entry.process.stop('SIGKILL')))
    await Promise.all(controlPlanes.map((entry) => entry?.process.stop('SIGKILL')))
    await redis.stop()
    await database.drop()
  }

  try {
    await Promise.all(Array.from({ length: options.controlPlanes }, (_, index) => startControlPlane(index)))
    await Promise.all(
      Array.from({ length: options.sessionNodes }, (_, index) => startNode(`node-${index + 1}`)),
    )
  } catch (error) {
    // A process that did not come up fails the test; the ones that did must not outlive it.
    await stopAll().catch(() => {})
    throw error
  }

  return {
    database,
    redis,
    adminKey,
    controlPlanes,
    nodes,
    startControlPlane,
    startNode,
    /**
     * Postgres goes away for this database for `downMs`: new connections are refused and every open one
     * is terminated, then connections are allowed again.
     */
    async postgresOutage(downMs: number) {
      const allowAgain = await database.refuseConnections()
      try {
        await new Promise((resolve) => setTimeout(resolve, downMs))
      } finally {
        await allowAgain()
      }
    },
    node(nodeId: string): ManagedProcess {
      const entry = nodes.get(nodeId)
      if (!entry) throw new Error(`no node ${nodeId}`)
      return entry.process
    },
    stop: stopAll,
  }
}
export type Cluster = Awaited<ReturnType<typeof startCluster>>

/**
 * Links a new session through the API as a tenant would: create, connect, the simulated phone scans
 * the QR, then wait until the API says CONNECTED. Returns the session id and the device jid.
 */
export async function linkSessionThroughApi(
  tenant: WaClusterClient,
  sim: { scan(input: { qr: string; phone: string; pushName?: string }): Promise<{ jid: string }> },
  phone: string,
  confirmVia: WaClusterClient = tenant,
  /** The session's fields (`name` defaults to the phone) and the push name the phone shows. */
  details: { name?: string; externalId?: string; pushName?: string } = {},
): Promise<{ id: string; phone: string; jid: string }> {
  const { pushName = phone, ...fields } = details
  const session = (await tenant.POST('/v1/sessions', { body: { name: phone, ...fields } })).data!
  const path = { sessionId: session.id }
  const connect = await tenant.POST('/v1/sessions/{sessionId}/connect', { params: { path } })
  if (connect.data?.state !== 'QR_READY')
    throw new Error(`connect answered ${JSON.stringify(connect.data ?? connect.error)}`)
  const { jid } = await sim.scan({ qr: connect.data.qr!, phone, pushName })
  await eventually(
    `${phone} CONNECTED`,
    async () =>
      (await confirmVia.GET('/v1/sessions/{sessionId}', { params: { path } })).data?.state === 'CONNECTED',
  )
  return { id: session.id, phone, jid }
}
