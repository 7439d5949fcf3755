/**
 * What keeping N session leases alive costs Redis: N leases (default 5,000) with a 15 s TTL held for a
 * bounded time, first renewed the old way (baseline: one interval and one token-checked extend script
 * per lease, as the Redis coordinator did with redlock), then by the lease manager (one timer, one
 * batched call per tick) through the real Redis coordinator. Each way gets a fresh private Redis, so
 * the INFO commandstats and CPU deltas are renewal and nothing else.
 *
 *   npx tsx bench/lease-renewal.ts [--leases 5000] [--ttl-ms 15000] [--seconds 30]
 */
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { coordinationKeys, createRedisCoordinator, type Lease } from '@wa-cluster/core'
import { Redis } from 'ioredis'
import pino from 'pino'
import { startPrivateRedis } from '../test-support/cluster.js'
import { flags, loadAverage, log, onCleanup, runBench, sleep } from './support/common.js'

const options = flags({ leases: '5000', 'ttl-ms': '15000', seconds: '30' })
const leaseCount = Number(options.leases)
const ttlMs = Number(options['ttl-ms'])
const seconds = Number(options.seconds)
/** Leases taken at once while setting up; the set-up is not measured. */
const ACQUIRE_CONCURRENCY = 500
const sessionIds = Array.from({ length: leaseCount }, (_, index) => `bench-${index}`)

/** Keeps the leases; says how many are still held, and gives them up. */
type Holder = { heldCount(): Promise<number>; stop(): Promise<void> }

async function inChunks<T, R>(items: T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = []
  for (let start = 0; start < items.length; start += size)
    results.push(...(await Promise.all(items.slice(start, start + size).map(work))))
  return results
}

/**
 * The way leases were renewed before the lease manager: each lease its own `setInterval` at TTL/3
 * sending its own extend script, which checks the token, then sets the key again with a fresh TTL
 * (what redlock's extend does for one key). Same connection options as the coordinator.
 */
async function holdWithOneTimerPerLease(url: string, namespace: string): Promise<Holder> {
  const client = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true })
  client.on('error', () => {})
  client.defineCommand('extendLease', {
    numberOfKeys: 1,
    lua: `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
  })
  const extend = (
    client as unknown as { extendLease(key: string, token: string, ttl: number): Promise<number> }
  ).extendLease
  const leases = await inChunks(sessionIds, ACQUIRE_CONCURRENCY, async (sessionId) => {
    const key = `${namespace}:${coordinationKeys.sessionLease(sessionId)}`
    const token = randomBytes(16).toString('hex')
    if ((await client.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') throw new Error(`${key} was taken`)
    const timer = setInterval(() => void extend.call(client, key, token, ttlMs).catch(() => {}), ttlMs / 3)
    return { key, token, timer }
  })
  return {
    async heldCount() {
      const holders = await client.mget(leases.map((lease) => lease.key))
      return holders.filter((holder, index) => holder === leases[index]!.token).length
    },
    async stop() {
      for (const lease of leases) clearInterval(lease.timer)
      await client.del(...leases.map((lease) => lease.key))
      await client.quit()
    },
  }
}

/** The lease manager, through the Redis coordinator exactly as a session-node uses it. */
async function holdWithLeaseManager(url: string, namespace: string): Promise<Holder> {
  const coordinator = createRedisCoordinator({ url, namespace, logger: pino({ level: 'silent' }) })
  const leases = await inChunks(sessionIds, ACQUIRE_CONCURRENCY, async (sessionId) => {
    const lease = await coordinator.acquireLease(coordinationKeys.sessionLease(sessionId), { ttlMs })
    if (!lease) throw new Error(`lease of ${sessionId} was taken`)
    return lease
  })
  return {
    async heldCount() {
      return leases.filter((lease: Lease) => lease.isHeld()).length
    },
    async stop() {
      await inChunks(leases, ACQUIRE_CONCURRENCY, (lease) => lease.release())
      await coordinator.close()
    },
  }
}

type Reading = { calls: Map<string, number>; cpuSeconds: number }

async function readRedis(probe: Redis): Promise<Reading> {
  const [commandStats, cpu] = await Promise.all([probe.info('commandstats'), probe.info('cpu')])
  const calls = new Map<string, number>()
  for (const match of commandStats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    calls.set(match[1]!, Number(match[2]))
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0)
  return { calls, cpuSeconds: field('used_cpu_user') + field('used_cpu_sys') }
}

type Figures = {
  name: string
  scriptCallsPerSecond: number
  commandsPerSecond: number
  keysRenewedPerSecond: number
  redisCpuMsPerSecond: number
  processCpuMsPerSecond: number
  heldAtEnd: number
}

async function measure(
  name: string,
  hold: (url: string, namespace: string) => Promise<Holder>,
): Promise<Figures> {
  const redis = await startPrivateRedis()
  onCleanup(() => redis.stop())
  const probe = new Redis(redis.url)
  probe.on('error', () => {})
  log(`${name}: taking ${leaseCount} leases (TTL ${ttlMs} ms)`)
  const holder = await hold(redis.url, `bench-${randomBytes(3).toString('hex')}`)
  log(`${name}: holding them for ${seconds} s`)
  const before = await readRedis(probe)
  const cpuBefore = process.cpuUsage()
  const startedAt = performance.now()
  await sleep(seconds * 1000)
  const after = await readRedis(probe)
  const cpu = process.cpuUsage(cpuBefore)
  const elapsed = (performance.now() - startedAt) / 1000
  const heldAtEnd = await holder.heldCount()
  await holder.stop()
  await probe.quit()
  await redis.stop()

  const delta = (command: string) => (after.calls.get(command) ?? 0) - (before.calls.get(command) ?? 0)
  let commands = 0
  for (const command of after.calls.keys()) if (!command.startsWith('info')) commands += delta(command)
  const figures: Figures = {
    name,
    scriptCallsPerSecond: (delta('eval') + delta('evalsha')) / elapsed,
    commandsPerSecond: commands / elapsed,
    // The baseline sets the key again (SET PX), the manager's script only moves its expiry (PEXPIRE).
    keysRenewedPerSecond: (delta('pexpire') + delta('set')) / elapsed,
    redisCpuMsPerSecond: ((after.cpuSeconds - before.cpuSeconds) * 1000) / elapsed,
    processCpuMsPerSecond: (cpu.user + cpu.system) / 1000 / elapsed,
    heldAtEnd,
  }
  log(
    `${name}: ${figures.scriptCallsPerSecond.toFixed(1)} renewal calls/s, ${figures.commandsPerSecond.toFixed(0)} commands/s, ` +
      `${figures.keysRenewedPerSecond.toFixed(0)} keys renewed/s, held at end ${heldAtEnd}/${leaseCount}`,
  )
  return figures
}

await runBench('lease-renewal', (2 * seconds + 300) * 1000, async () => {
  log(`load average before: ${loadAverage()}`)
  const baseline = await measure('one timer per lease (baseline)', holdWithOneTimerPerLease)
  const manager = await measure('lease manager', holdWithLeaseManager)
  const row = (figures: Figures) =>
    `| ${figures.name} | ${figures.scriptCallsPerSecond.toFixed(1)} | ${figures.commandsPerSecond.toFixed(0)} | ` +
    `${figures.keysRenewedPerSecond.toFixed(0)} | ${figures.redisCpuMsPerSecond.toFixed(1)} | ` +
    `${figures.processCpuMsPerSecond.toFixed(1)} | ${figures.heldAtEnd}/${leaseCount} |`
  const ratio = (key: keyof Omit<Figures, 'name' | 'heldAtEnd'>) =>
    manager[key] > 0 ? `${(baseline[key] / manager[key]).toFixed(1)}×` : 'n/a'
  process.stdout.write(
    [
      '',
      `${leaseCount} leases, TTL ${ttlMs} ms, renewed every ${ttlMs / 3} ms, measured over ${seconds} s each`,
      '',
      '| | renewal calls/s (EVAL/EVALSHA) | commands/s in Redis (incl. inside scripts) | keys renewed/s | Redis CPU ms/s | renewing process CPU ms/s | held at end |',
      '|---|---|---|---|---|---|---|',
      row(baseline),
      row(manager),
      `| ratio baseline / manager | ${ratio('scriptCallsPerSecond')} | ${ratio('commandsPerSecond')} | | ${ratio('redisCpuMsPerSecond')} | ${ratio('processCpuMsPerSecond')} | |`,
      '',
      `load average after: ${loadAverage()}`,
      '',
    ].join('\n'),
  )
})
