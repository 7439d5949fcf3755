import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually, sleep } from '../../../test-support/wait.js'
import {
  type Coordinator,
  createMemoryCoordinator,
  createRedisCoordinator,
  LockBusy,
} from '../../src/index.js'
import { abortReason } from '../support/lease-waits.js'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const execFileAsync = promisify(execFile)
/** A promise and the function that settles it, so a test can say when something may go on. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}
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
      // Time has to pass for this one: more than two TTLs, so it holds only if renewals landed. Waiting
      // longer on a slow machine can only make the check harder.
      await sleep(700)
      expect(lease!.signal.aborted).toBe(false)
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
      const firstStarted = gate()
      const firstMayEnd = gate()
      const first = coordinator.withLock(key, { ttlMs: 5000, waitMs: 5000 }, async () => {
        order.push('first:start')
        firstStarted.open()
        await firstMayEnd.opened
        order.push('first:end')
      })
      await firstStarted.opened
      const second = other.withLock(key, { ttlMs: 5000, waitMs: 5000 }, async () => {
        order.push('second')
      })
      // Give the second caller time to try while the first still works. The order check below decides
      // the outcome either way: a shorter wait could only let a broken lock go unnoticed, never fail.
      await sleep(100)
      firstMayEnd.open()
      await Promise.all([first, second])
      expect(order).toEqual(['first:start', 'first:end', 'second'])

      const holdingStarted = gate()
      const holdingMayEnd = gate()
      const holding = coordinator.withLock(key, { ttlMs: 5000, waitMs: 0 }, async () => {
        holdingStarted.open()
        await holdingMayEnd.opened
      })
      await holdingStarted.opened
      await expect(other.withLock(key, { ttlMs: 5000, waitMs: 20 }, async () => 1)).rejects.toBeInstanceOf(
        LockBusy,
      )
      holdingMayEnd.open()
      await holding
    })

    it('delivers published messages to subscribers until they unsubscribe', async () => {
      const channel = resource()
      const received: string[] = []
      const unsubscribe = await other.subscribe(channel, (message) => received.push(message))
      await coordinator.publish(channel, 'one')
      await coordinator.publish(channel, 'two')
      await eventually('both messages', () => received.length >= 2, 10_000, 10)
      expect(received).toEqual(['one', 'two'])
      await unsubscribe()
      // A later subscriber on the same channel gets 'three' in the same delivery the first one would
      // have: once it has, the first one's silence is decided.
      const later: string[] = []
      const unsubscribeLater = await other.subscribe(channel, (message) => later.push(message))
      await coordinator.publish(channel, 'three')
      await eventually('the later subscriber got the message', () => later.length >= 1, 10_000, 10)
      expect(later).toEqual(['three'])
      expect(received).toEqual(['one', 'two'])
      await unsubscribeLater()
    })

    it('lists nodes while their heartbeat is fresh', async () => {
      const nodeId = resource()
      await coordinator.heartbeat(
        { nodeId, capacity: 7, sessions: 1, status: 'active', startedAt: new Date().toISOString() },
        200,
      )
      expect((await other.liveNodes()).find((node) => node.nodeId === nodeId)?.capacity).toBe(7)
      await eventually(
        'the heartbeat expired',
        async () => !(await other.liveNodes()).some((node) => node.nodeId === nodeId),
        10_000,
        20,
      )
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
  const namespace = `wa-test-${randomBytes(3).toString('hex')}`
  const coordinator = createRedisCoordinator({ url: REDIS_URL, logger, namespace })
  const redis = new Redis(REDIS_URL)
  afterAll(async () => {
    await coordinator.close()
    await redis.quit()
  })

  it('takes the lease again when Redis lost it and the holder still owns the epoch', async () => {
    const name = `test:vanish:${randomBytes(4).toString('hex')}`
    const key = `${namespace}:${name}`
    let checks = 0
    const lease = await coordinator.acquireLease(name, { ttlMs: 600, onReacquired: async () => ++checks > 0 })
    await redis.del(key)
    await eventually(
      'the lease re-taken and checked',
      async () => checks >= 1 && (await redis.exists(key)) === 1,
    )
    expect(checks).toBe(1)
    expect(lease!.isHeld()).toBe(true)
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
    await redis.del(`${namespace}:${name}`)
    await eventually('the ownership check asked again', () => calls >= 2, 10_000, 10)
    expect(lease!.signal.aborted).toBe(false)
    expect(lease!.isHeld()).toBe(true)
    await lease!.release()
  })

  it('aborts the lease when someone else took the key, and when the holder refuses to go on', async () => {
    const stolenName = `test:stolen:${randomBytes(4).toString('hex')}`
    const stolen = `${namespace}:${stolenName}`
    const lease = await coordinator.acquireLease(stolenName, { ttlMs: 600 })
    await redis.set(stolen, 'someone-else', 'PX', 5000)
    expect(await abortReason(lease!.signal)).toBe('lease lost: held by another owner')
    expect(lease!.isHeld()).toBe(false)

    const refusedName = `test:refused:${randomBytes(4).toString('hex')}`
    const refused = `${namespace}:${refusedName}`
    const second = await coordinator.acquireLease(refusedName, {
      ttlMs: 600,
      onReacquired: async () => false,
    })
    await redis.del(refused)
    expect(await abortReason(second!.signal)).toBe(
      'lease lost: ownership check failed after re-taking the lease',
    )
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
