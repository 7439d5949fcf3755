import { LockBusy } from '@wa-cluster/shared'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import Redlock, { type Lock } from 'redlock'
import type { Coordinator, Lease, LeaseOptions, NodeHeartbeat } from './coordinator.js'
import { coordinationKeys as keys } from './keys.js'

export type RedisCoordinatorOptions = {
  url: string
  logger: Logger
  /** Prefix of every key and channel, so tests and several clusters can share one Redis. Default `wa`. */
  namespace?: string
}

/**
 * Redis coordination. The only module that imports redlock. Leases are redlock locks renewed at a
 * third of their TTL; a renewal that fails aborts the lease's signal at once, and the holder must stop.
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
  // retryCount 0: a lease is either free now or someone else's; waiting is the caller's decision.
  const leaseLock = new Redlock([client], { retryCount: 0, driftFactor: 0.01 })
  const handlers = new Map<string, Set<(message: string) => void>>()
  subscriber.on('message', (channel: string, message: string) => {
    for (const handler of handlers.get(channel.slice(namespace.length)) ?? []) handler(message)
  })

  async function tryAcquire(
    resource: string,
    ttlMs: number,
    settings?: Partial<Redlock['settings']>,
  ): Promise<Lock | null> {
    try {
      return await leaseLock.acquire([named(resource)], ttlMs, settings)
    } catch {
      return null
    }
  }

  return {
    kind: 'redis',
    async acquireLease(resource: string, leaseOptions: LeaseOptions): Promise<Lease | null> {
      let lock = await tryAcquire(resource, leaseOptions.ttlMs)
      if (!lock) return null
      const controller = new AbortController()
      let released = false
      const lose = (reason: string) => {
        if (controller.signal.aborted) return
        clearInterval(timer)
        logger.warn({ resource, reason }, 'lease lost')
        controller.abort(new Error(`lease lost: ${reason}`))
      }
      let renewing = false
      /** Set when we re-took a vanished key but could not yet confirm ownership (e.g. Postgres was down). */
      let verifying = false
      const verify = async (): Promise<boolean | undefined> => {
        try {
          return await (leaseOptions.onReacquired?.() ?? Promise.resolve(true))
        } catch {
          return undefined
        }
      }
      const renew = async () => {
        if (renewing || released || !lock) return
        renewing = true
        try {
          try {
            lock = await lock.extend(leaseOptions.ttlMs)
          } catch {
            if (released) return
            let holder: string | null | undefined
            try {
              holder = await client.get(named(resource))
            } catch {
              // Redis unreachable: keep the lease while it is still valid by our clock, retry next tick.
              return
            }
            if (holder !== null) {
              lose('held by another owner')
              return
            }
            // The key is gone (Redis restarted empty): take it again, then prove we still own the session.
            const again = await tryAcquire(resource, leaseOptions.ttlMs)
            if (!again) {
              lose('renewal failed')
              return
            }
            lock = again
            verifying = true
            logger.info({ resource }, 'lease re-taken after its key vanished')
          }
          if (verifying) {
            const owner = await verify()
            if (owner === false) {
              await lock.release().catch(() => {})
              lose('ownership check failed after re-taking the lease')
            } else if (owner === true) verifying = false
          }
        } finally {
          renewing = false
        }
      }
      const timer = setInterval(
        () => {
          if (lock && Date.now() >= lock.expiration) lose('expired before renewal')
          else void renew()
        },
        Math.max(50, Math.floor(leaseOptions.ttlMs / 3)),
      )
      timer.unref()
      return {
        resource,
        signal: controller.signal,
        isHeld: () => !controller.signal.aborted && !!lock && Date.now() < lock.expiration,
        async release() {
          if (released) return
          released = true
          clearInterval(timer)
          if (!controller.signal.aborted) controller.abort(new Error('lease released'))
          await lock?.release().catch(() => {})
        },
      }
    },
    async withLock(resource, lockOptions, work) {
      const retryDelay = 25
      const lock = await tryAcquire(resource, lockOptions.ttlMs, {
        retryCount: Math.max(0, Math.ceil(lockOptions.waitMs / retryDelay)),
        retryDelay,
        retryJitter: 10,
      })
      if (!lock) throw new LockBusy(resource)
      try {
        return await work()
      } finally {
        await lock.release().catch(() => {})
      }
    },
    async publish(channel, message) {
      await client.publish(named(channel), message)
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
          await subscriber.unsubscribe(named(channel)).catch(() => {})
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
      const ids = await client.smembers(named(keys.nodeSet()))
      if (ids.length === 0) return []
      const values = await client.mget(ids.map((id) => named(keys.node(id))))
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
      const result = await client
        .multi()
        .incr(named(key))
        .pexpire(named(key), windowMs, 'NX')
        .pttl(named(key))
        .exec()
      const count = Number(result?.[0]?.[1] ?? 0)
      const ttl = Number(result?.[2]?.[1] ?? windowMs)
      return { allowed: count <= limit, retryAfterMs: count <= limit ? 0 : Math.max(ttl, 1) }
    },
    async ping() {
      await client.ping()
    },
    async close() {
      handlers.clear()
      await Promise.allSettled([client.quit(), subscriber.quit()])
    },
  }
}
