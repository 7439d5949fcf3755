import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { LockBusy } from '@wa-cluster/shared'
import type { Coordinator, Lease, LeaseOptions, NodeHeartbeat } from './coordinator.js'
import { createLeaseManager } from './lease-manager.js'

type Held = { token: string; expiresAt: number }

/** In-process coordination for the embedded single-process mode; same semantics as the Redis one. */
export function createMemoryCoordinator(): Coordinator {
  const locks = new Map<string, Held>()
  const nodes = new Map<string, { heartbeat: NodeHeartbeat; expiresAt: number }>()
  const windows = new Map<string, { count: number; resetAt: number }>()
  const bus = new EventEmitter()
  bus.setMaxListeners(0)

  /** The entry holding `resource` now; an expired one counts as gone, like a Redis key past its TTL. */
  function holder(resource: string): Held | undefined {
    const held = locks.get(resource)
    return held && held.expiresAt > Date.now() ? held : undefined
  }
  function tryTake(resource: string, ttlMs: number, token: string = randomUUID()): string | null {
    if (holder(resource)) return null
    locks.set(resource, { token, expiresAt: Date.now() + ttlMs })
    return token
  }
  function drop(resource: string, token: string): void {
    if (locks.get(resource)?.token === token) locks.delete(resource)
  }
  // Leases share one renewal timer, with the same semantics as on Redis.
  const leases = createLeaseManager({
    minimumRenewalIntervalMs: 10,
    store: {
      async take({ resource, token, ttlMs }) {
        return tryTake(resource, ttlMs, token) !== null
      },
      async renew(claims) {
        return claims.map(({ resource, token, ttlMs }) => {
          const held = holder(resource)
          if (!held) return 'missing'
          if (held.token !== token) return 'held-elsewhere'
          held.expiresAt = Date.now() + ttlMs
          return 'renewed'
        })
      },
      async drop({ resource, token }) {
        drop(resource, token)
      },
    },
  })

  return {
    kind: 'memory',
    acquireLease(resource: string, options: LeaseOptions): Promise<Lease | null> {
      return leases.acquire(resource, options)
    },
    async withLock(resource, options, work) {
      const deadline = Date.now() + options.waitMs
      let token = tryTake(resource, options.ttlMs)
      while (!token) {
        if (Date.now() >= deadline) throw new LockBusy(resource)
        await sleep(10)
        token = tryTake(resource, options.ttlMs)
      }
      try {
        return await work()
      } finally {
        drop(resource, token)
      }
    },
    async publish(channel, message) {
      // Asynchronous like a real broker, so publishers never run subscribers inside their own stack.
      queueMicrotask(() => bus.emit(channel, message))
    },
    async subscribe(channel, onMessage) {
      bus.on(channel, onMessage)
      return async () => {
        bus.off(channel, onMessage)
      }
    },
    async heartbeat(node, ttlMs) {
      nodes.set(node.nodeId, {
        heartbeat: { ...node, at: new Date().toISOString() },
        expiresAt: Date.now() + ttlMs,
      })
    },
    async forgetNode(nodeId) {
      nodes.delete(nodeId)
    },
    async liveNodes() {
      const now = Date.now()
      return [...nodes.values()].filter((entry) => entry.expiresAt > now).map((entry) => entry.heartbeat)
    },
    async rateLimit(key, limit, windowMs) {
      const now = Date.now()
      let window = windows.get(key)
      if (!window || window.resetAt <= now) {
        window = { count: 0, resetAt: now + windowMs }
        windows.set(key, window)
      }
      window.count += 1
      return {
        allowed: window.count <= limit,
        retryAfterMs: window.count <= limit ? 0 : window.resetAt - now,
      }
    },
    async ping() {},
    async close() {
      bus.removeAllListeners()
    },
  }
}
