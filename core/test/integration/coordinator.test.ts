import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type Coordinator,
  createMemoryCoordinator,
  createRedisCoordinator,
  LockBusy,
} from '../../src/index.js'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const execFileAsync = promisify(execFile)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const logger = pino({ level: 'silent' })

/** The same contract for both coordinators: the embedded mode must behave like the cluster. */
function coordinatorContract(name: string, make: () => Coordinator) {
  describe(`${name} coordinator`, () => {
    const coordinator = make()
    const other = name === 'memory' ? coordinator : make()
    const resource = () => `test:${randomBytes(4).toString('hex')}`
    afterAll(async () => {
      await coordinator.close()
      if (other !== coordinator) await other.close()
    })

    it('grants a lease to one holder at a time and keeps it renewed past its TTL', async () => {
      const key = resource()
      const lease = await coordinator.acquireLease(key, { ttlMs: 300 })
      expect(lease).not.toBeNull()
      expect(await other.acquireLease(key, { ttlMs: 300 })).toBeNull()
      await sleep(700)
      expect(lease!.isHeld()).toBe(true)
      expect(await other.acquireLease(key, { ttlMs: 300 })).toBeNull()
      await lease!.release()
      expect(lease!.signal.aborted).toBe(true)
      const next = await other.acquireLease(key, { ttlMs: 300 })
      expect(next).not.toBeNull()
      await next!.release()
    })

    it('serialises work under withLock and reports a busy lock', async () => {
      const key = resource()
      const order: string[] = []
      const first = coordinator.withLock(key, { ttlMs: 2000, waitMs: 1000 }, async () => {
        order.push('first:start')
        await sleep(100)
        order.push('first:end')
      })
      await sleep(10)
      const second = other.withLock(key, { ttlMs: 2000, waitMs: 1000 }, async () => {
        order.push('second')
      })
      await Promise.all([first, second])
      expect(order).toEqual(['first:start', 'first:end', 'second'])
      const holding = coordinator.withLock(key, { ttlMs: 2000, waitMs: 0 }, () => sleep(200))
      await sleep(10)
      await expect(other.withLock(key, { ttlMs: 2000, waitMs: 20 }, async () => 1)).rejects.toBeInstanceOf(
        LockBusy,
      )
      await holding
    })

    it('delivers published messages to subscribers until they unsubscribe', async () => {
      const channel = resource()
      const received: string[] = []
      const unsubscribe = await other.subscribe(channel, (message) => received.push(message))
      await coordinator.publish(channel, 'one')
      await coordinator.publish(channel, 'two')
      for (let i = 0; i < 50 && received.length < 2; i++) await sleep(10)
      expect(received).toEqual(['one', 'two'])
      await unsubscribe()
      await coordinator.publish(channel, 'three')
      await sleep(50)
      expect(received).toEqual(['one', 'two'])
    })

    it('lists nodes while their heartbeat is fresh', async () => {
      const nodeId = resource()
      await coordinator.heartbeat(
        { nodeId, capacity: 7, sessions: 1, status: 'active', startedAt: new Date().toISOString() },
        200,
      )
      expect((await other.liveNodes()).find((node) => node.nodeId === nodeId)?.capacity).toBe(7)
      await sleep(300)
      expect((await other.liveNodes()).some((node) => node.nodeId === nodeId)).toBe(false)
    })

    it('rate-limits per key across processes and says when to retry', async () => {
      const key = resource()
      const results = []
      for (let i = 0; i < 4; i++) results.push(await (i % 2 ? other : coordinator).rateLimit(key, 3, 10_000))
      expect(results.map((result) => result.allowed)).toEqual([true, true, true, false])
      expect(results[3]!.retryAfterMs).toBeGreaterThan(0)
      expect(results[3]!.retryAfterMs).toBeLessThanOrEqual(10_000)
    })
  })
}

coordinatorContract('memory', createMemoryCoordinator)
const redisPrefix = `wa-test-${randomBytes(3).toString('hex')}`
coordinatorContract('redis', () => createRedisCoordinator({ url: REDIS_URL, logger, namespace: redisPrefix }))

describe('redis leases when the key disappears', () => {
  const coordinator = createRedisCoordinator({ url: REDIS_URL, logger })
  const redis = new Redis(REDIS_URL)
  afterAll(async () => {
    await coordinator.close()
    await redis.quit()
  })

  it('takes the lease again when Redis lost it and the holder still owns the epoch', async () => {
    const name = `test:vanish:${randomBytes(4).toString('hex')}`
    const key = `wa:${name}`
    let checks = 0
    const lease = await coordinator.acquireLease(name, { ttlMs: 600, onReacquired: async () => ++checks > 0 })
    await redis.del(key)
    await sleep(500)
    expect(checks).toBe(1)
    expect(lease!.isHeld()).toBe(true)
    expect(await redis.exists(key)).toBe(1)
    await lease!.release()
  })

  it('keeps a re-taken lease while the ownership check cannot answer, and decides once it can', async () => {
    const name = `test:unsure:${randomBytes(4).toString('hex')}`
    let calls = 0
    const lease = await coordinator.acquireLease(name, {
      ttlMs: 600,
      onReacquired: async () => {
        calls++
        if (calls === 1) throw new Error('database unavailable')
        return true
      },
    })
    await redis.del(`wa:${name}`)
    await sleep(700)
    expect(calls).toBeGreaterThanOrEqual(2)
    expect(lease!.isHeld()).toBe(true)
    await lease!.release()
  })

  it('aborts the lease when someone else took the key, and when the holder refuses to go on', async () => {
    const stolenName = `test:stolen:${randomBytes(4).toString('hex')}`
    const stolen = `wa:${stolenName}`
    const lease = await coordinator.acquireLease(stolenName, { ttlMs: 600 })
    await redis.set(stolen, 'someone-else', 'PX', 5000)
    await sleep(500)
    expect(lease!.signal.aborted).toBe(true)
    expect(lease!.isHeld()).toBe(false)

    const refusedName = `test:refused:${randomBytes(4).toString('hex')}`
    const refused = `wa:${refusedName}`
    const second = await coordinator.acquireLease(refusedName, {
      ttlMs: 600,
      onReacquired: async () => false,
    })
    await redis.del(refused)
    await sleep(500)
    expect(second!.signal.aborted).toBe(true)
    expect(await redis.exists(refused)).toBe(0)
  })
})

describe('redis pub/sub from the first moment', () => {
  it('delivers to a subscription made while a fresh process is still setting up its connection', async () => {
    // A node subscribes to its nudge channel right after start-up. A SUBSCRIBE that overtakes the
    // connection's handshake commands used to lose the subscription silently, and every nudge with it.
    const fixture = fileURLToPath(new URL('./fixtures/fresh-subscriber.ts', import.meta.url))
    const outcomes: string[] = []
    for (const delayMs of [5, 20, 50]) {
      const { stdout } = await execFileAsync(
        process.execPath,
        ['--import', 'tsx', fixture, REDIS_URL, `fresh-${randomBytes(4).toString('hex')}`, String(delayMs)],
        { timeout: 30_000 },
      )
      outcomes.push(`${delayMs} ms: ${stdout.trim()}`)
    }
    expect(outcomes).toEqual(['5 ms: received', '20 ms: received', '50 ms: received'])
  })
})
