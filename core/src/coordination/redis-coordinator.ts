import { LockBusy, Unavailable } from '@wa-cluster/shared'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import Redlock, { type Lock } from 'redlock'
import type { Coordinator, Lease, LeaseOptions, NodeHeartbeat } from './coordinator.js'
import { coordinationKeys as keys } from './keys.js'
import { createLeaseManager } from './lease-manager.js'
import { createRedisLeaseStore } from './redis-lease-store.js'

/** What ioredis says when the server went away under a command. */
const REDIS_CONNECTION_ERROR =
  /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|max retries|Stream isn't writeable/i

export type RedisCoordinatorOptions = {
  url: string
  logger: Logger
  /** Prefix of every key and channel, so tests and several clusters can share one Redis. Default `wa`. */
  namespace?: string
}

/**
 * Redis coordination. Leases are token-checked keys kept by one lease manager per coordinator: one
 * timer renews every lease of the process at a third of its TTL, and a renewal that finds the lease
 * lost aborts its signal at once, so the holder must stop. withLock uses redlock; this is the only
 * module that imports it.
 */
export function createRedisCoordinator(options: RedisCoordinatorOptions): Coordinator {
  const namespace = `${options.namespace ?? 'wa'}:`
  const named = (name: string) => namespace + name
  const logger = options.logger
  const redisOptions = {
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    // Reconnect fast: a restarted Redis should cost a cluster seconds, not minutes.
    retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1000),
  }
  const client = new Redis(options.url, redisOptions)
  // The subscriber sends no handshake commands (client info, the INFO ready check): a SUBSCRIBE issued
  // while they are pending is written before them, the server then refuses them (subscriber mode),
  // ioredis fails its ready check, and the subscription is silently gone. A node subscribes right after
  // start-up, so without this every nudge to it could be lost and it would act only on its timer.
  const subscriber = new Redis(options.url, {
    ...redisOptions,
    enableReadyCheck: false,
    disableClientInfo: true,
  })
  for (const connection of [client, subscriber]) {
    connection.on('error', (error) => logger.warn({ err: error.message }, 'redis connection error'))
  }
  // Every lease of this process is renewed by one timer, in one batched call per tick.
  const leases = createLeaseManager({ store: createRedisLeaseStore(client, named), logger })
  // retryCount 0: a lock is either free now or someone else's; withLock sets its own wait.
  const locks = new Redlock([client], { retryCount: 0, driftFactor: 0.01 })
  const handlers = new Map<string, Set<(message: string) => void>>()
  subscriber.on('message', (channel: string, message: string) => {
    for (const handler of handlers.get(channel.slice(namespace.length)) ?? []) handler(message)
  })

  const redisUnreachable = () => new Unavailable('coordination (Redis) is unreachable; try again shortly', 5)

  /**
   * Runs a command the API waits on. Redis going away under it is an outage (Unavailable: 503 with
   * Retry-After), not a bug (500); any other error stays what it is.
   */
  async function duringOutageUnavailable<T>(
    command: () => Promise<T>,
    options: { failFast: boolean } = { failFast: false },
  ): Promise<T> {
    // failFast: refuse at once while not connected, rather than wait in ioredis' offline queue (a
    // request that waits on it); otherwise a command sent while connecting is queued as usual.
    if (options.failFast && client.status !== 'ready') throw redisUnreachable()
    try {
      return await command()
    } catch (error) {
      if (REDIS_CONNECTION_ERROR.test((error as Error).message ?? '')) throw redisUnreachable()
      throw error
    }
  }

  async function tryLock(
    resource: string,
    ttlMs: number,
    settings?: Partial<Redlock['settings']>,
  ): Promise<Lock | null> {
    try {
      return await locks.acquire([named(resource)], ttlMs, settings)
    } catch (error) {
      // redlock throws alike when the lock is held elsewhere and when Redis is unreachable. Only the
      // first is contention (LockBusy, worth a retry in a moment); the second is an outage.
      if (client.status === 'ready') return null
      logger.warn({ resource, err: (error as Error).message }, 'lock not taken: Redis unreachable')
      throw redisUnreachable()
    }
  }

  return {
    kind: 'redis',
    acquireLease(resource: string, leaseOptions: LeaseOptions): Promise<Lease | null> {
      return leases.acquire(resource, leaseOptions)
    },
    async withLock(resource, lockOptions, work) {
      // Each of redlock's attempts would wait out ioredis' reconnect retries: fail at once instead.
      if (client.status !== 'ready') throw redisUnreachable()
      const retryDelay = 25
      const lock = await tryLock(resource, lockOptions.ttlMs, {
        retryCount: Math.max(0, Math.ceil(lockOptions.waitMs / retryDelay)),
        retryDelay,
        retryJitter: 10,
      })
      if (!lock) throw new LockBusy(resource)
      try {
        return await work()
      } finally {
        // Not released (Redis gone meanwhile): the lock expires after its short TTL.
        await lock
          .release()
          .catch((error) => logger.warn({ resource, err: (error as Error).message }, 'lock release failed'))
      }
    },
    async publish(channel, message) {
      await duringOutageUnavailable(() => client.publish(named(channel), message))
    },
    async subscribe(channel, onMessage) {
      let set = handlers.get(channel)
      if (!set) {
        set = new Set()
        handlers.set(channel, set)
        await subscriber.subscribe(named(channel))
      }
      set.add(onMessage)
      return async () => {
        const current = handlers.get(channel)
        current?.delete(onMessage)
        if (current && current.size === 0) {
          handlers.delete(channel)
          await subscriber
            .unsubscribe(named(channel))
            .catch((error) => logger.warn({ channel, err: (error as Error).message }, 'unsubscribe failed'))
        }
      }
    },
    async heartbeat(node: NodeHeartbeat, ttlMs: number) {
      const value = JSON.stringify({ ...node, at: new Date().toISOString() })
      await client
        .multi()
        .set(named(keys.node(node.nodeId)), value, 'PX', ttlMs)
        .sadd(named(keys.nodeSet()), node.nodeId)
        .exec()
    },
    async forgetNode(nodeId) {
      await client
        .multi()
        .del(named(keys.node(nodeId)))
        .srem(named(keys.nodeSet()), nodeId)
        .exec()
    },
    async liveNodes() {
      const ids = await duringOutageUnavailable(() => client.smembers(named(keys.nodeSet())))
      if (ids.length === 0) return []
      const values = await duringOutageUnavailable(() => client.mget(ids.map((id) => named(keys.node(id)))))
      const live: NodeHeartbeat[] = []
      const gone: string[] = []
      values.forEach((value, index) => {
        if (value) live.push(JSON.parse(value) as NodeHeartbeat)
        else gone.push(ids[index]!)
      })
      if (gone.length > 0) await client.srem(named(keys.nodeSet()), ...gone)
      return live
    },
    async rateLimit(key, limit, windowMs) {
      // A limit that cannot be counted is an outage (503 with Retry-After), not a bug (500).
      const result = await duringOutageUnavailable(
        () => client.multi().incr(named(key)).pexpire(named(key), windowMs, 'NX').pttl(named(key)).exec(),
        { failFast: true },
      )
      const count = Number(result?.[0]?.[1] ?? 0)
      const ttl = Number(result?.[2]?.[1] ?? windowMs)
      return { allowed: count <= limit, retryAfterMs: count <= limit ? 0 : Math.max(ttl, 1) }
    },
    async ping() {
      await client.ping()
    },
    async close() {
      leases.close()
      handlers.clear()
      await Promise.allSettled([client.quit(), subscriber.quit()])
    },
  }
}
