import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateRedis } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/wait.js'
import { type Coordinator, createRedisCoordinator, type Lease } from '../../src/index.js'
import {
  abortReason,
  callsBetween,
  commandCalls,
  renewedOnce,
  scriptCallsBetween,
} from '../support/lease-waits.js'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const logger = pino({ level: 'silent' })
const uniqueNamespace = (label: string) => `wa-test-${label}-${randomBytes(4).toString('hex')}`

async function acquireAll(coordinator: Coordinator, names: string[], ttlMs: number): Promise<Lease[]> {
  const leases = await Promise.all(names.map((name) => coordinator.acquireLease(name, { ttlMs })))
  if (leases.some((lease) => lease === null)) throw new Error('a fresh lease was refused')
  return leases as Lease[]
}

// Command counts and FLUSHALL are server-wide, so these run on a Redis of their own: other test files
// (and other checkouts) use the shared one at the same time.
describe('lease manager on a private Redis', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>
  let probe: Redis
  // Each test closes its coordinator, so no lease of an earlier test is renewed while the next counts.
  let coordinator: Coordinator | undefined
  const coordinatorFor = (namespace: string) => {
    coordinator = createRedisCoordinator({ url: redis.url, logger, namespace })
    return coordinator
  }
  beforeAll(async () => {
    redis = await startPrivateRedis()
    probe = new Redis(redis.url)
    probe.on('error', () => {}) // the restart test takes the server away for a moment
  })
  afterEach(async () => {
    await coordinator?.close()
    coordinator = undefined
  })
  afterAll(async () => {
    await probe?.quit()
    await redis?.stop()
  })

  it('renews N leases with one script call per tick', async () => {
    const coordinator = coordinatorFor(uniqueNamespace('tick'))
    const count = 200
    const leases = await acquireAll(
      coordinator,
      Array.from({ length: count }, (_, index) => `lease:${index}`),
      900,
    )
    const before = await commandCalls(probe)
    await eventually(
      'three renewal ticks',
      async () => scriptCallsBetween(before, await commandCalls(probe)) >= 3,
      30_000,
      20,
    )
    const after = await commandCalls(probe)
    const scripts = scriptCallsBetween(before, after)
    // A script runs whole between two INFO readings, and each renewed every lease: one PEXPIRE per
    // lease per call. One renewal call per lease (the old way) would be `count` calls per tick.
    expect(callsBetween(before, after, 'pexpire')).toBe(count * scripts)
    expect(leases.every((lease) => lease.isHeld())).toBe(true)
  })

  it('stops renewing a released lease and only that one', async () => {
    const namespace = uniqueNamespace('release')
    const coordinator = coordinatorFor(namespace)
    const leases = await acquireAll(coordinator, ['lease:a', 'lease:b', 'lease:c', 'lease:d'], 900)
    await leases[1]!.release()
    await leases[1]!.release()
    expect(leases[1]!.signal.aborted).toBe(true)
    expect(await probe.exists(`${namespace}:lease:b`)).toBe(0)
    const before = await commandCalls(probe)
    await eventually(
      'two renewal ticks',
      async () => scriptCallsBetween(before, await commandCalls(probe)) >= 2,
      30_000,
      20,
    )
    const after = await commandCalls(probe)
    expect(callsBetween(before, after, 'pexpire')).toBe(3 * scriptCallsBetween(before, after))
    expect([leases[0], leases[2], leases[3]].every((lease) => lease!.isHeld())).toBe(true)
  })

  it('after FLUSHALL takes every lease again and asks its holder, keeping it while the check cannot answer', async () => {
    const namespace = uniqueNamespace('flush')
    const coordinator = coordinatorFor(namespace)
    const asked = new Map<string, number>()
    const ask = (name: string) => {
      const times = (asked.get(name) ?? 0) + 1
      asked.set(name, times)
      return times
    }
    const owners = ['lease:1', 'lease:2', 'lease:3']
    const ownerLeases = await Promise.all(
      owners.map((name) =>
        coordinator.acquireLease(name, { ttlMs: 900, onReacquired: async () => ask(name) > 0 }),
      ),
    )
    const unsure = await coordinator.acquireLease('lease:unsure', {
      ttlMs: 900,
      onReacquired: async () => {
        if (ask('lease:unsure') === 1) throw new Error('database unavailable')
        return true
      },
    })
    const refused = await coordinator.acquireLease('lease:refused', {
      ttlMs: 900,
      onReacquired: async () => ask('lease:refused') < 0,
    })
    const tokens = await probe.mget(owners.map((name) => `${namespace}:${name}`))

    await probe.flushall()

    expect(await abortReason(refused!.signal)).toBe(
      'lease lost: ownership check failed after re-taking the lease',
    )
    expect(await probe.exists(`${namespace}:lease:refused`)).toBe(0)
    await eventually(
      'every owner re-took its lease and was asked once',
      async () =>
        owners.every((name) => asked.get(name) === 1) &&
        (await probe.exists(...owners.map((name) => `${namespace}:${name}`))) === owners.length,
      30_000,
      20,
    )
    // Taken again with the same token, so the holder's later renewals and release still match.
    expect(await probe.mget(owners.map((name) => `${namespace}:${name}`))).toEqual(tokens)
    expect(ownerLeases.every((lease) => lease!.isHeld())).toBe(true)
    await eventually('the unsure lease asked again', () => (asked.get('lease:unsure') ?? 0) >= 2, 30_000, 20)
    expect(unsure!.isHeld()).toBe(true)
    await renewedOnce(probe, `${namespace}:lease:unsure`)
    expect(unsure!.signal.aborted).toBe(false)
    expect(asked.get('lease:unsure')).toBe(2)
  })

  it('after Redis restarted empty takes the lease again on the new connection', async () => {
    const namespace = uniqueNamespace('restart')
    const coordinator = coordinatorFor(namespace)
    let asked = 0
    const lease = await coordinator.acquireLease('lease:restart', {
      ttlMs: 6000,
      onReacquired: async () => ++asked > 0,
    })
    await redis.restart(100)
    await eventually('the lease re-taken and checked', async () => asked === 1, 30_000, 20)
    expect(await probe.exists(`${namespace}:lease:restart`)).toBe(1)
    expect(lease!.isHeld()).toBe(true)
  })
})

describe('lease manager while Redis is unreachable', () => {
  it('keeps the lease until it expires by our clock, then aborts it', async () => {
    const redis = await startPrivateRedis()
    const coordinator = createRedisCoordinator({ url: redis.url, logger, namespace: uniqueNamespace('down') })
    try {
      const lease = await coordinator.acquireLease('lease:down', { ttlMs: 3000 })
      await redis.stop()
      expect(lease!.isHeld()).toBe(true)
      expect(await abortReason(lease!.signal)).toBe('lease lost: expired before renewal')
      expect(lease!.isHeld()).toBe(false)
    } finally {
      await coordinator.close()
      await redis.stop()
    }
  })
})

describe('lease manager on the shared Redis', () => {
  const namespace = uniqueNamespace('takeover')
  const coordinator = createRedisCoordinator({ url: REDIS_URL, logger, namespace })
  const redis = new Redis(REDIS_URL)
  afterAll(async () => {
    await coordinator.close()
    await redis.quit()
  })

  it('aborts a lease taken over by another token at the next tick while the others stay held', async () => {
    const [first, taken, last] = await acquireAll(
      coordinator,
      ['lease:first', 'lease:taken', 'lease:last'],
      600,
    )
    await redis.set(`${namespace}:lease:taken`, 'someone-else', 'PX', 10_000)
    expect(await abortReason(taken!.signal)).toBe('lease lost: held by another owner')
    expect(taken!.isHeld()).toBe(false)
    // The others keep being renewed after the loss, and the new holder's key is left alone.
    await renewedOnce(redis, `${namespace}:lease:first`)
    await renewedOnce(redis, `${namespace}:lease:last`)
    expect(first!.isHeld() && last!.isHeld()).toBe(true)
    expect(await redis.get(`${namespace}:lease:taken`)).toBe('someone-else')
    await Promise.all([first!.release(), taken!.release(), last!.release()])
    expect(await redis.get(`${namespace}:lease:taken`)).toBe('someone-else')
    expect(await redis.exists(`${namespace}:lease:first`, `${namespace}:lease:last`)).toBe(0)
  })
})
