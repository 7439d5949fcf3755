// Shared plumbing for the gateway-* and cluster-* benchmarks: flags, figures, process stats, cleanup,
// the simulator as a separate process, an all-in-one gateway process, a cluster of real processes, an
// indexing webhook receiver and linking sessions through the public API + the simulator's scan.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { generateSecretBoxKey } from '@wa-cluster/shared'
import { SimControlClient } from '@wa-cluster/wa-sim'
import postgres from 'postgres'
import { startPrivateRedis } from '../../test-support/cluster.js'
import { createTestDatabase, TEST_POSTGRES_URL } from '../../test-support/postgres.js'
import {
  eventually,
  freePort,
  type ManagedProcess,
  REPO_ROOT,
  startProcess,
} from '../../test-support/processes.js'
import { sleep } from '../../test-support/wait.js'

export {
  createClient,
  eventually,
  freePort,
  type ManagedProcess,
  REPO_ROOT,
  sleep,
  startProcess,
  type WaClusterClient,
}

export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results')
mkdirSync(RESULTS_DIR, { recursive: true })

// ------------------------------------------------------------------ flags and output

export function flags<T extends Record<string, string>>(defaults: T): { [K in keyof T]: string } {
  // Defaults 'true'/'false' make boolean switches (`--reuse`); the rest take a value (`--sessions 500`).
  const isSwitch = (v: string) => v === 'true' || v === 'false'
  const { values } = parseArgs({
    options: Object.fromEntries(
      Object.entries(defaults).map(([k, v]) =>
        isSwitch(v) ? [k, { type: 'boolean', default: v === 'true' }] : [k, { type: 'string', default: v }],
      ),
    ),
    allowPositionals: false,
    strict: true,
  })
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)])) as {
    [K in keyof T]: string
  }
}
export const flagBool = (value: string) => value === '1' || value === 'true' || value === 'yes'

const t0 = Date.now()
export function log(message: string): void {
  process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${message}\n`)
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}
export function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b)
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    min: sorted[0] ?? Number.NaN,
  }
}
export const ms = (value: number) => `${value.toFixed(1)} ms`
export const loadAverage = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' / ')
export const verdict = (ok: boolean) => (ok ? 'MET' : 'MISSED')

/** RSS (VmRSS) and CPU seconds (utime+stime) of a process from /proc. */
export function procStats(pid: number): {
  rssMb: number
  cpuSeconds: number
  userSeconds: number
  systemSeconds: number
} {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const user = Number(stat[11]) / 100
  const system = Number(stat[12]) / 100
  return { rssMb: rssKb / 1024, cpuSeconds: user + system, userSeconds: user, systemSeconds: system }
}

/** CPU seconds used so far by every PostgreSQL server process on this machine (all backends). */
export function postgresCpuSeconds(): number {
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (!stat.includes('(postgres)')) continue
      const fields = stat.split(') ')[1]!.split(' ')
      total += (Number(fields[11]) + Number(fields[12])) / 100
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total
}

/** Reads a gauge/counter (first sample, any labels) from a Prometheus /metrics endpoint. */
export async function scrapeMetric(
  metricsUrl: string,
  name: string,
  mode: 'first' | 'sum' = 'first',
): Promise<number | undefined> {
  try {
    const text = await (await fetch(metricsUrl)).text()
    let sum: number | undefined
    for (const line of text.split('\n')) {
      if (line.startsWith('#')) continue
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
        const value = Number(line.split(' ').at(-1))
        if (mode === 'first') return value
        sum = (sum ?? 0) + value
      }
    }
    return sum
  } catch {}
  return undefined
}

// ------------------------------------------------------------------ cleanup (also on SIGINT)

const cleanups: (() => Promise<unknown> | unknown)[] = []
export function onCleanup(fn: () => Promise<unknown> | unknown): void {
  cleanups.push(fn)
}
let cleaning: Promise<void> | undefined
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await Promise.race([fn(), sleep(60_000)])
      } catch (error) {
        process.stderr.write(`cleanup step failed: ${(error as Error).message}\n`)
      }
    }
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`)
    void cleanup().then(() => process.exit(130))
  })
}

/** Runs `main`, then always cleans up; exits 1 on error. A hard deadline stops a hung run. */
export async function runBench(name: string, deadlineMs: number, main: () => Promise<void>): Promise<void> {
  const deadline = setTimeout(() => {
    log(`${name}: hard deadline of ${deadlineMs / 1000} s reached, aborting`)
    void cleanup().then(() => process.exit(2))
  }, deadlineMs)
  deadline.unref()
  let failed = false
  try {
    await main()
  } catch (error) {
    failed = true
    process.stderr.write(`${name} failed: ${(error as Error).stack ?? error}\n`)
  }
  await cleanup()
  clearTimeout(deadline)
  process.exit(failed ? 1 : 0)
}

// ------------------------------------------------------------------ databases

/** A fresh migrated database, dropped at cleanup. */
export async function benchDatabase(label: string) {
  const database = await createTestDatabase(`bench_${label}`)
  onCleanup(() => database.drop())
  return database
}

/** A named database kept between runs (for --reuse): created and migrated on first use. */
export async function persistentDatabase(name: string): Promise<{ url: string; existed: boolean }> {
  const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} })
  const rows = await admin`SELECT 1 FROM pg_database WHERE datname = ${name}`
  const existed = rows.length > 0
  if (!existed) await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(TEST_POSTGRES_URL)
  url.pathname = `/${name}`
  if (!existed) {
    const { openDatabase } = await import('@wa-cluster/db')
    const handle = openDatabase({ url: url.toString() })
    await handle.migrate()
    await handle.close()
  }
  return { url: url.toString(), existed }
}
export async function dropDatabase(name: string): Promise<void> {
  const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await admin.end()
}

// ------------------------------------------------------------------ simulator process

export type SimProcess = {
  url: string
  controlUrl: string
  rootPublicKey: string
  /** The PEM of the simulator's media server CA (WA_MEDIA_CA). */
  mediaCa: string
  control: SimControlClient
  process: ManagedProcess
}

/** wa-sim as its own process (`npm run sim -- --port 0`), so its CPU never competes in our event loop. */
export async function startSimProcess(options: { stateFile?: string; logLevel?: string } = {}) {
  const args = ['--port', '0', '--host', '127.0.0.1', '--log-level', options.logLevel ?? 'warn']
  if (options.stateFile) args.push('--state-file', options.stateFile)
  const proc = startProcess('wa-sim', 'wa-sim/src/main.ts', {}, args)
  onCleanup(() => proc.stop('SIGTERM', 10_000))
  const line = await proc.waitForLine(/"rootPublicKey"/, 60_000)
  const info = JSON.parse(line) as {
    url: string
    control: string
    rootPublicKey: string
    env?: { WA_MEDIA_CA?: string }
  }
  return {
    url: info.url,
    controlUrl: info.control,
    rootPublicKey: info.rootPublicKey,
    mediaCa: info.env?.WA_MEDIA_CA ?? '',
    control: new SimControlClient(info.control),
    process: proc,
  } satisfies SimProcess
}

// ------------------------------------------------------------------ webhook receiver

export type Hook = {
  id: string
  type: string
  sessionId: string
  seq: number
  occurredAt: string
  data: any
  /** performance.timeOrigin + performance.now() at arrival (ms, sub-ms resolution). */
  receivedAt: number
}

/**
 * A lean tenant endpoint for benches: answers 204 at once, de-duplicates by id, records the arrival time
 * and hands each event to listeners (no linear scans: benches index what they need).
 * It does not verify signatures (the integration tests do); verification would only add receiver CPU.
 */
export async function startHookReceiver() {
  const listeners = new Set<(event: Hook) => void>()
  const seen = new Set<string>()
  let deliveries = 0
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const receivedAt = performance.timeOrigin + performance.now()
      deliveries++
      response.writeHead(204).end()
      let event: Hook
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        return
      }
      if (seen.has(event.id)) return
      seen.add(event.id)
      event.receivedAt = receivedAt
      for (const listener of listeners) listener(event)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const receiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    get deliveries() {
      return deliveries
    },
    get unique() {
      return seen.size
    },
    on(listener: (event: Hook) => void) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  onCleanup(() => receiver.close())
  return receiver
}
export type HookReceiver = Awaited<ReturnType<typeof startHookReceiver>>

/** Latest connection state per session, as announced by webhooks (ordered by seq). */
export function trackStates(receiver: HookReceiver) {
  const states = new Map<string, { state: string; seq: number; at: number }>()
  const waiters = new Map<string, { state: string; resolve: () => void }[]>()
  receiver.on((event) => {
    if (event.type !== 'connection.update') return
    const previous = states.get(event.sessionId)
    if (previous && previous.seq > event.seq) return
    states.set(event.sessionId, { state: event.data.state, seq: event.seq, at: event.receivedAt })
    const list = waiters.get(event.sessionId)
    if (!list) return
    for (const waiter of [...list]) {
      if (waiter.state === event.data.state) {
        list.splice(list.indexOf(waiter), 1)
        waiter.resolve()
      }
    }
  })
  return {
    states,
    count(state: string) {
      let n = 0
      for (const value of states.values()) if (value.state === state) n++
      return n
    },
    /** Resolves when a connection.update with `state` arrives for the session (or it already is). */
    waitFor(sessionId: string, state: string, timeoutMs: number): Promise<void> {
      if (states.get(sessionId)?.state === state) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const list = waiters.get(sessionId) ?? []
          list.splice(list.indexOf(waiter), 1)
          reject(
            new Error(
              `${sessionId}: no ${state} webhook within ${timeoutMs} ms (last: ${states.get(sessionId)?.state})`,
            ),
          )
        }, timeoutMs)
        const waiter = {
          state,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        }
        const list = waiters.get(sessionId) ?? []
        list.push(waiter)
        waiters.set(sessionId, list)
      })
    },
  }
}

// ------------------------------------------------------------------ tenants and linking

/** The error to throw for an API call that did not answer as expected: its status and error body. */
export function apiFailure(what: string, result: { response: Response; error?: unknown }): Error {
  return new Error(`${what}: ${result.response.status} ${JSON.stringify(result.error ?? null).slice(0, 300)}`)
}

export async function createTenant(baseUrl: string, adminKey: string, receiverUrl: string, name = 'bench') {
  const admin = createClient({ baseUrl, apiKey: adminKey })
  const created = await admin.POST('/v1/tenants', { body: { name } })
  if (!created.data) throw apiFailure('create tenant', created)
  const tenantKey = created.data.apiKey
  const tenant = createClient({ baseUrl, apiKey: tenantKey })
  const webhook = await tenant.PUT('/v1/webhook', { body: { url: receiverUrl } })
  if (!webhook.data) throw apiFailure('put webhook', webhook)
  return { admin, tenant, tenantKey, tenantId: created.data.id }
}

export type Linked = { id: string; phone: string; jid: string }

/** Session phone numbers: stable per index, distinct per bench (`prefix` is 5 digits, e.g. 62857). */
export const sessionPhone = (prefix: string, index: number) => `${prefix}${String(index).padStart(7, '0')}`

/**
 * Links `count` sessions in parallel with bounded concurrency: create → connect (QR) → the simulated
 * phone scans → wait for the CONNECTED webhook. `clients` are tried round-robin (one per control-plane).
 */
export async function linkSessions(options: {
  clients: WaClusterClient[]
  sim: { scan(input: { qr: string; phone: string; pushName?: string }): Promise<{ jid: string }> }
  tracker: ReturnType<typeof trackStates>
  count: number
  concurrency: number
  phonePrefix: string
  firstIndex?: number
  timeoutPerSessionMs?: number
  label?: string
  /** performance.now() after which no new link is started (those in flight finish). */
  deadlineAt?: number
  /** Called after each success (e.g. to persist the list). */
  onLinked?: (linked: Linked) => void
}): Promise<{ linked: Linked[]; elapsedMs: number; failures: string[]; phases: string }> {
  const started = performance.now()
  let slowConnects = 0
  const phase = {
    create: [] as number[],
    connect: [] as number[],
    scan: [] as number[],
    connected: [] as number[],
  }
  const linked: Linked[] = []
  const failures: string[] = []
  let next = 0
  let lastProgress = 0
  const first = options.firstIndex ?? 0
  async function linkOne(index: number): Promise<void> {
    const client = options.clients[index % options.clients.length]!
    const phone = sessionPhone(options.phonePrefix, first + index)
    const t0 = performance.now()
    const created = await client.POST('/v1/sessions', { body: { name: `bench-${first + index}` } })
    if (!created.data) throw apiFailure('create session', created)
    const id = created.data.id
    const path = { path: { sessionId: id } }
    const t1 = performance.now()
    let connect = await client.POST('/v1/sessions/{sessionId}/connect', { params: path })
    for (let attempt = 0; !connect.data && attempt < 5; attempt++) {
      await sleep(1000)
      connect = await client.POST('/v1/sessions/{sessionId}/connect', { params: path })
    }
    let qr = connect.data?.state === 'QR_READY' ? connect.data.qr : undefined
    if (connect.data && connect.data.state !== 'QR_READY' && connect.data.state !== 'CONNECTED') {
      // The control-plane answers with the current state when no QR came within its wait (10 s): a
      // client then polls GET /qr. Counted, since it means the node was slow to start the socket.
      slowConnects++
      const deadline = performance.now() + 60_000
      while (performance.now() < deadline) {
        await sleep(250)
        const current = await client.GET('/v1/sessions/{sessionId}/qr', { params: path })
        if (typeof current.data === 'object' && current.data.qr) {
          qr = current.data.qr
          break
        }
      }
    }
    if (!qr) throw apiFailure(`connect ${id} (state ${connect.data?.state})`, connect)
    const connected = options.tracker.waitFor(id, 'CONNECTED', options.timeoutPerSessionMs ?? 120_000)
    const t2 = performance.now()
    const { jid } = await options.sim.scan({ qr, phone, pushName: `Bench ${first + index}` })
    const t3 = performance.now()
    await connected
    const t4 = performance.now()
    phase.create.push(t1 - t0)
    phase.connect.push(t2 - t1)
    phase.scan.push(t3 - t2)
    phase.connected.push(t4 - t3)
    linked.push({ id, phone, jid })
    options.onLinked?.({ id, phone, jid })
  }
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency, options.count) }, async () => {
      while (next < options.count && performance.now() < (options.deadlineAt ?? Number.POSITIVE_INFINITY)) {
        const index = next++
        try {
          await linkOne(index)
        } catch (error) {
          failures.push((error as Error).message)
        }
        const now = performance.now()
        if (now - lastProgress > 5000) {
          lastProgress = now
          const done = linked.length + failures.length
          log(
            `${options.label ?? 'linking'}: ${linked.length}/${options.count} linked, ${failures.length} failed, ` +
              `${((done / (now - started)) * 1000).toFixed(1)}/s, load ${loadAverage()}`,
          )
        }
      }
    }),
  )
  const fmt = (values: number[]) => {
    const x = summary(values)
    return `p50 ${x.p50.toFixed(0)} p95 ${x.p95.toFixed(0)} ms`
  }
  const phases = `per-session phases: create ${fmt(phase.create)}; connect→QR ${fmt(phase.connect)}; sim scan call ${fmt(phase.scan)}; scan done→CONNECTED webhook ${fmt(phase.connected)}; connects answered without a QR (then polled GET /qr): ${slowConnects}`
  return { linked, elapsedMs: performance.now() - started, failures, phases }
}

// ------------------------------------------------------------------ gateway and cluster processes

/** A benchmark is one tenant linking thousands of sessions at full speed: no per-tenant limits. */
/**
 * What every benchmarked gateway process is given: tenant limits out of the way, and the webhook
 * receivers on this machine allowed as targets (the outbound guard refuses loopback otherwise).
 */
const BENCH_SETTINGS = {
  TENANT_MAX_SESSIONS: '1000000',
  TENANT_REQUESTS_PER_MINUTE: '100000000',
  ALLOW_PRIVATE_NETWORKS: '127.0.0.0/8,::1/128,localhost',
}

export type GatewayOptions = {
  simUrl: string
  simRootKey: string
  databaseUrl: string
  env?: Record<string, string>
}

/** An all-in-one gateway process on real Postgres + the shared Redis (own key prefix). */
export async function startGateway(options: GatewayOptions) {
  const port = await freePort()
  const metricsPort = await freePort()
  const adminKey = `admin-${generateSecretBoxKey()}`
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const dataDir = mkdtempSync(join(tmpdir(), 'wa-bench-gw-'))
  const env = {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `bench-${port}-${Date.now()}`,
    ADMIN_API_KEY: adminKey,
    AUTH_STATE_KEY: generateSecretBoxKey(),
    WA_WS_URL: options.simUrl,
    WA_TRUSTED_ROOT_KEY: options.simRootKey,
    LOG_LEVEL: 'info',
    BAILEYS_LOG_LEVEL: 'error',
    NODE_ID: 'bench-gw',
    METRICS_PORT: String(metricsPort),
    ...BENCH_SETTINGS,
    ...options.env,
  }
  const proc = startProcess('gateway', 'all-in-one/src/main.ts', env)
  onCleanup(() => dumpLogs(proc))
  onCleanup(async () => {
    await proc.stop('SIGTERM', 15_000)
    rmSync(dataDir, { recursive: true, force: true })
  })
  await proc.waitForLine(/wa-cluster listening/, 90_000)
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    adminKey,
    process: proc,
    pid: proc.child.pid!,
  }
}

/**
 * The single-gateway setup: wa-sim in its own process, a fresh database, a webhook receiver with a
 * state tracker, and an all-in-one gateway pointed at the simulator.
 */
export async function gatewayWithSim(label: string, env: Record<string, string> = {}) {
  log(`load average at start: ${loadAverage()}`)
  const sim = await startSimProcess()
  const database = await benchDatabase(label)
  const receiver = await startHookReceiver()
  const tracker = trackStates(receiver)
  const gateway = await startGateway({
    simUrl: sim.url,
    simRootKey: sim.rootPublicKey,
    databaseUrl: database.url,
    env: { WA_MEDIA_CA: sim.mediaCa, ...env },
  })
  log(`gateway pid ${gateway.pid} at ${gateway.baseUrl}; sim ${sim.controlUrl}; db ${database.name}`)
  return { sim, database, receiver, tracker, gateway }
}

/** Writes a child's captured output to bench/results/logs/<bench>-<name>.log (for timing forensics). */
export function dumpLogs(proc: ManagedProcess): void {
  const dir = join(RESULTS_DIR, 'logs')
  mkdirSync(dir, { recursive: true })
  const bench = (process.argv[1] ?? 'bench').split('/').at(-1)!.replace(/\.ts$/, '')
  writeFileSync(join(dir, `${bench}-${proc.name}.log`), `${proc.lines.join('\n')}\n`)
}

export type BenchClusterOptions = {
  controlPlanes: number
  sessionNodes: number
  simUrl: string
  simRootKey: string
  /** Existing database (for --reuse); default: a fresh one dropped at cleanup. */
  databaseUrl?: string
  adminKey?: string
  authStateKey?: string
  env?: Record<string, string>
  /** How cleanup stops session-nodes: SIGKILL (default) or SIGTERM (graceful, for --reuse runs). */
  nodeStopSignal?: NodeJS.Signals
}

/**
 * Like test-support/cluster.ts (real processes, private Redis), but can reuse a kept database and keys,
 * keeps node processes addressable by id and exposes each node's metrics port.
 */
export async function startBenchCluster(options: BenchClusterOptions) {
  const databaseUrl = options.databaseUrl ?? (await benchDatabase('cluster')).url
  const redis = await startPrivateRedis()
  onCleanup(() => redis.stop())
  const adminKey = options.adminKey ?? `admin-${generateSecretBoxKey()}`
  const common: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    AUTH_STATE_KEY: options.authStateKey ?? generateSecretBoxKey(),
    ADMIN_API_KEY: adminKey,
    WA_WS_URL: options.simUrl,
    WA_TRUSTED_ROOT_KEY: options.simRootKey,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    BAILEYS_LOG_LEVEL: 'error',
    ...BENCH_SETTINGS,
    ...options.env,
  }
  const controlPlanes: { url: string; process: ManagedProcess }[] = []
  const nodes = new Map<string, { process: ManagedProcess; port: number }>()
  async function startControlPlane(index: number) {
    const port = await freePort()
    const proc = startProcess(`cp${index}`, 'control-plane/src/main.ts', { ...common, PORT: String(port) })
    onCleanup(() => proc.stop('SIGKILL'))
    onCleanup(() => dumpLogs(proc))
    await proc.waitForLine(/wa-cluster listening/, 90_000)
    controlPlanes[index] = { url: `http://127.0.0.1:${port}`, process: proc }
  }
  async function startNode(nodeId: string, extraEnv: Record<string, string> = {}) {
    const port = await freePort()
    const proc = startProcess(nodeId, 'session-node/src/main.ts', {
      ...common,
      PORT: String(port),
      NODE_ID: nodeId,
      ...extraEnv,
    })
    onCleanup(() => proc.stop(options.nodeStopSignal ?? 'SIGKILL', 30_000))
    onCleanup(() => dumpLogs(proc))
    await proc.waitForLine(/session-node ready/, 90_000)
    nodes.set(nodeId, { process: proc, port })
    return proc
  }
  await Promise.all(Array.from({ length: options.controlPlanes }, (_, i) => startControlPlane(i)))
  for (let i = 0; i < options.sessionNodes; i++) await startNode(`node-${i + 1}`)
  return {
    databaseUrl,
    adminKey,
    authStateKey: common.AUTH_STATE_KEY!,
    redis,
    controlPlanes,
    nodes,
    startNode,
    admin: () => createClient({ baseUrl: controlPlanes[0]!.url, apiKey: adminKey }),
  }
}
export type BenchCluster = Awaited<ReturnType<typeof startBenchCluster>>

/** Sessions per node from GET /v1/nodes. */
export async function nodeLoad(admin: WaClusterClient): Promise<Record<string, number>> {
  const nodes = await admin.GET('/v1/nodes', { params: { query: { limit: 200 } } })
  if (!nodes.data) throw apiFailure('list nodes', nodes)
  return Object.fromEntries(nodes.data.data.map((n) => [n.id, n.sessions]))
}

/** All sessions of a tenant (GET /v1/sessions, every page). */
export async function listSessions(
  tenant: WaClusterClient,
): Promise<{ id: string; state: string; nodeId: string | null }[]> {
  type Listed = { id: string; state: string; nodeId: string | null }
  const sessions: Listed[] = []
  let after: string | undefined
  do {
    const response = await tenant.GET('/v1/sessions', { params: { query: { limit: 200, after } } })
    if (!response.data) throw apiFailure('list sessions', response)
    sessions.push(...response.data.data)
    after = response.data.nextCursor ?? undefined
  } while (after)
  return sessions
}
