import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Lease } from '../../src/coordination/coordinator.js'
import {
  createLeaseManager,
  type LeaseClaim,
  type LeaseRenewal,
  type LeaseStore,
} from '../../src/coordination/lease-manager.js'

// The manager's timing on a simulated clock: every time below is simulated, so the assertions are
// exact and no test waits for real time to pass.

type RenewCall = { at: number; resources: string[] }

/** A store in a map (no TTLs: the tests decide what is lost) that records every renewal call. */
function recordingStore() {
  const keys = new Map<string, string>()
  const renewals: RenewCall[] = []
  let answer: ((claims: readonly LeaseClaim[]) => Promise<LeaseRenewal[]>) | undefined
  const store: LeaseStore = {
    async take({ resource, token }) {
      if (keys.has(resource)) return false
      keys.set(resource, token)
      return true
    },
    async renew(claims) {
      renewals.push({ at: Date.now(), resources: claims.map((claim) => claim.resource) })
      if (answer) return answer(claims)
      return claims.map(({ resource, token }) => {
        const holder = keys.get(resource)
        if (holder === undefined) return 'missing'
        return holder === token ? 'renewed' : 'held-elsewhere'
      })
    },
    async drop({ resource, token }) {
      if (keys.get(resource) === token) keys.delete(resource)
    },
  }
  return {
    store,
    keys,
    renewals,
    /** Replaces the store's renewal answer (e.g. a call that never lands). */
    answerWith(next: typeof answer) {
      answer = next
    },
    renewalsOf(resource: string) {
      return renewals.filter((call) => call.resources.includes(resource)).map((call) => call.at)
    },
  }
}

const gaps = (times: number[]) => times.slice(1).map((time, index) => time - times[index]!)

describe('lease manager', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('renews any number of leases with one store call per tick, every TTL/3', async () => {
    const recording = recordingStore()
    const manager = createLeaseManager({ store: recording.store })
    const leases = await Promise.all(
      Array.from({ length: 500 }, (_, index) => manager.acquire(`lease:${index}`, { ttlMs: 3000 })),
    )
    await vi.advanceTimersByTimeAsync(10_000)
    expect(recording.renewals.map((call) => call.at - 1_000_000)).toEqual([
      1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000,
    ])
    expect(recording.renewals.every((call) => call.resources.length === 500)).toBe(true)
    expect(leases.every((lease) => lease?.isHeld())).toBe(true)
  })

  it('renews each lease at most TTL/3 after the last time, and no more often than it must, whatever the mix of TTLs', async () => {
    const recording = recordingStore()
    const manager = createLeaseManager({ store: recording.store })
    const ttls = { short: 300, medium: 1200, long: 15_000 }
    for (const [name, ttlMs] of Object.entries(ttls)) await manager.acquire(name, { ttlMs })
    // A lease taken between two ticks joins the next tick.
    await vi.advanceTimersByTimeAsync(1250)
    await manager.acquire('late', { ttlMs: 15_000 })
    await vi.advanceTimersByTimeAsync(30_000)

    // One call per tick; ticks follow the shortest renewal interval (100 ms).
    expect(new Set(gaps(recording.renewals.map((call) => call.at)))).toEqual(new Set([100]))
    for (const [name, ttlMs] of [...Object.entries(ttls), ['late', 15_000] as const]) {
      const renewEvery = Math.floor(ttlMs / 3)
      const times = recording.renewalsOf(name)
      expect(times.length).toBeGreaterThan(1)
      for (const gap of gaps(times)) {
        expect(gap).toBeLessThanOrEqual(renewEvery)
        expect(gap).toBeGreaterThan(renewEvery - 100)
      }
    }
    expect(recording.renewalsOf('late')[0]! - (1_000_000 + 1250)).toBeLessThanOrEqual(5000)
  })

  it('aborts a lease the moment it expires by our clock while renewals do not land', async () => {
    const recording = recordingStore()
    const manager = createLeaseManager({ store: recording.store })
    recording.answerWith(() => Promise.reject(new Error('connection refused')))
    const unreachable = (await manager.acquire('unreachable', { ttlMs: 3000 }))!
    // 1 % of the TTL plus 2 ms is kept as margin for clock drift: the lease runs out at 2968 ms.
    await vi.advanceTimersByTimeAsync(2967)
    expect(recording.renewalsOf('unreachable').length).toBe(2)
    expect(unreachable.isHeld()).toBe(true)
    expect(unreachable.signal.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(unreachable.signal.aborted).toBe(true)
    expect(unreachable.isHeld()).toBe(false)
    expect((unreachable.signal.reason as Error).message).toBe('lease lost: expired before renewal')

    recording.answerWith(() => new Promise(() => {}))
    const stuck = (await manager.acquire('stuck', { ttlMs: 3000 }))!
    await vi.advanceTimersByTimeAsync(2967)
    expect(stuck.isHeld()).toBe(true)
    await vi.advanceTimersByTimeAsync(1)
    expect((stuck.signal.reason as Error).message).toBe('lease lost: expired before renewal')
  })

  it('aborts a lease held by another token at the next tick and keeps renewing the others', async () => {
    const recording = recordingStore()
    const manager = createLeaseManager({ store: recording.store })
    const [first, taken, last] = (await Promise.all(
      ['first', 'taken', 'last'].map((name) => manager.acquire(name, { ttlMs: 3000 })),
    )) as Lease[]
    recording.keys.set('taken', 'someone-else')
    await vi.advanceTimersByTimeAsync(1000)
    expect((taken!.signal.reason as Error).message).toBe('lease lost: held by another owner')
    expect(recording.keys.get('taken')).toBe('someone-else')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(first!.isHeld() && last!.isHeld()).toBe(true)
    expect(recording.renewals.at(-1)!.resources).toEqual(['first', 'last'])
  })

  it('stops renewing a released lease and only that one; release is idempotent', async () => {
    const recording = recordingStore()
    const manager = createLeaseManager({ store: recording.store })
    const [kept, released] = (await Promise.all(
      ['kept', 'released'].map((name) => manager.acquire(name, { ttlMs: 3000 })),
    )) as Lease[]
    await vi.advanceTimersByTimeAsync(1000)
    await released!.release()
    await released!.release()
    expect((released!.signal.reason as Error).message).toBe('lease released')
    expect(recording.keys.has('released')).toBe(false)
    await vi.advanceTimersByTimeAsync(5000)
    expect(recording.renewals.length).toBe(6)
    expect(recording.renewalsOf('released').length).toBe(1)
    expect(recording.renewalsOf('kept').length).toBe(6)
    expect(kept!.isHeld()).toBe(true)
  })

  it('takes a vanished key again and asks the holder; keeps the lease while the answer is unknown', async () => {
    const recording = recordingStore()
    const manager = createLeaseManager({ store: recording.store })
    const answers: (boolean | Error)[] = [new Error('database unavailable'), new Error('still down'), true]
    let asked = 0
    const lease = (await manager.acquire('vanishing', {
      ttlMs: 3000,
      onReacquired: async () => {
        const next = answers[asked++]
        if (next instanceof Error) throw next
        return next ?? true
      },
    }))!
    const token = recording.keys.get('vanishing')
    recording.keys.clear()
    await vi.advanceTimersByTimeAsync(1000)
    expect(recording.keys.get('vanishing')).toBe(token)
    expect(asked).toBe(1)
    // Asked again after each renewal until it answers.
    await vi.advanceTimersByTimeAsync(2000)
    expect(asked).toBe(3)
    await vi.advanceTimersByTimeAsync(5000)
    expect(asked).toBe(3)
    expect(lease.isHeld()).toBe(true)

    const refused = (await manager.acquire('refused', { ttlMs: 3000, onReacquired: async () => false }))!
    recording.keys.delete('refused')
    await vi.advanceTimersByTimeAsync(1000)
    expect((refused.signal.reason as Error).message).toBe(
      'lease lost: ownership check failed after re-taking the lease',
    )
    expect(recording.keys.has('refused')).toBe(false)
    expect(lease.isHeld()).toBe(true)
  })

  it('stops renewing when closed and lets the leases run out by our clock', async () => {
    const recording = recordingStore()
    const manager = createLeaseManager({ store: recording.store })
    const lease = (await manager.acquire('closing', { ttlMs: 3000 }))!
    manager.close()
    manager.close()
    await vi.advanceTimersByTimeAsync(2967)
    expect(lease.isHeld()).toBe(true)
    await vi.advanceTimersByTimeAsync(1)
    expect(lease.signal.aborted).toBe(true)
    expect(recording.renewals).toEqual([])
  })
})
