import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import type { Lease, LeaseOptions } from './coordinator.js'

/** One lease as the store sees it: the resource, the holder's token, the TTL to set. */
export type LeaseClaim = { resource: string; token: string; ttlMs: number }

/** What a renewal found for one lease. */
export type LeaseRenewal = 'renewed' | 'held-elsewhere' | 'missing'

/**
 * Where leases live (Redis, or a map in the embedded mode). Every write is token-checked: a key is
 * extended or deleted only while it still holds the caller's token.
 */
export type LeaseStore = {
  /** Sets the resource's key to the token for `ttlMs` when nobody holds it; false when someone does. */
  take(claim: LeaseClaim): Promise<boolean>
  /**
   * Extends every claim whose key still holds its token, in one round trip. One answer per claim, in
   * order; rejects when the store cannot be reached.
   */
  renew(claims: readonly LeaseClaim[]): Promise<LeaseRenewal[]>
  /** Deletes the resource's key if it still holds the token. */
  drop(claim: LeaseClaim): Promise<void>
}

export type LeaseManager = {
  /** Takes a lease and keeps it renewed until released or lost; null when someone else holds it. */
  acquire(resource: string, options: LeaseOptions): Promise<Lease | null>
  /** Stops renewing. Leases still held are kept until they expire by our clock, then aborted. Idempotent. */
  close(): void
}

export type LeaseManagerOptions = {
  store: LeaseStore
  logger?: Logger
  /** Shortest renewal interval whatever the TTL. Default 50 ms. */
  minimumRenewalIntervalMs?: number
}

/**
 * Our clock may run ahead of the store's: a lease counts as expired this much before its TTL runs out
 * (1 % of the TTL, plus 2 ms for Redis' expiry precision), as redlock reckons it.
 */
const CLOCK_DRIFT_FACTOR = 0.01
const EXPIRY_PRECISION_MS = 2

type HeldLease = LeaseClaim & {
  renewEveryMs: number
  driftMs: number
  /** When the request that last set the key's TTL was sent; the next renewal is due `renewEveryMs` later. */
  renewedAt: number
  /** When the lease runs out by our clock. */
  expiresAt: number
  controller: AbortController
  onReacquired?: () => Promise<boolean>
  /** Re-taken after its key vanished, and ownership not confirmed yet (the check could not answer). */
  verifying: boolean
  /** A re-take or an ownership check is in flight; the lease sits out renewal ticks until it settles. */
  busy: boolean
}

/**
 * Renews every lease of one process with one timer. A tick sends one store call (one pipelined batch
 * of token-checked scripts on Redis) for all leases due, whatever their number, instead of one call
 * per lease. Ticks follow the shortest renewal interval among held leases (TTL/3); each tick renews
 * the leases that would otherwise come due before the next one, so every lease is renewed at most
 * TTL/3 after its previous renewal, and leases with the same TTL share every tick.
 *
 * The timer also wakes when the earliest lease runs out by our clock, so a lease whose renewals do not
 * land (store unreachable, or slower than the TTL) is aborted the moment it expires.
 */
export function createLeaseManager(options: LeaseManagerOptions): LeaseManager {
  const { store, logger } = options
  const minimumIntervalMs = options.minimumRenewalIntervalMs ?? 50
  const held = new Set<HeldLease>()
  let timer: NodeJS.Timeout | undefined
  let wakeAt = Number.POSITIVE_INFINITY
  /** When the last renewal tick started; ticks are at least the shortest renewal interval apart. */
  let lastTickAt = Number.NEGATIVE_INFINITY
  /** A renewal call is in flight; the next tick waits for it. */
  let renewing = false
  let closed = false

  function extendFrom(lease: HeldLease, requestedAt: number): void {
    lease.renewedAt = requestedAt
    lease.expiresAt = requestedAt + lease.ttlMs - lease.driftMs
  }

  /** Deletes a lease's key if it still holds our token; if that fails, the key runs out by its TTL. */
  async function dropKey(lease: HeldLease): Promise<void> {
    try {
      await store.drop(lease)
    } catch (error) {
      logger?.debug(
        { resource: lease.resource, err: (error as Error).message },
        'could not delete a lease key; it expires by its TTL',
      )
    }
  }

  function lose(lease: HeldLease, reason: string): void {
    if (!held.delete(lease)) return
    logger?.warn({ resource: lease.resource, reason }, 'lease lost')
    lease.controller.abort(new Error(`lease lost: ${reason}`))
  }

  /** Arms the one timer for `at` unless it already wakes earlier. */
  function wakeUpBy(at: number): void {
    if (at >= wakeAt) return
    if (timer) clearTimeout(timer)
    wakeAt = at
    timer = setTimeout(wake, Math.max(0, at - Date.now()))
    timer.unref()
  }

  /** The next renewal tick and its window (the shortest renewal interval), and the earliest expiry. */
  function plan(): { tickAt: number; windowMs: number; earliestExpiry: number } {
    let windowMs = Number.POSITIVE_INFINITY
    let earliestDue = Number.POSITIVE_INFINITY
    let earliestExpiry = Number.POSITIVE_INFINITY
    for (const lease of held) {
      windowMs = Math.min(windowMs, lease.renewEveryMs)
      earliestExpiry = Math.min(earliestExpiry, lease.expiresAt)
      if (!lease.busy) earliestDue = Math.min(earliestDue, lease.renewedAt + lease.renewEveryMs)
    }
    const tickAt =
      renewing || closed ? Number.POSITIVE_INFINITY : Math.max(earliestDue, lastTickAt + windowMs)
    return { tickAt, windowMs, earliestExpiry }
  }

  function reschedule(): void {
    if (timer) clearTimeout(timer)
    timer = undefined
    wakeAt = Number.POSITIVE_INFINITY
    const { tickAt, earliestExpiry } = plan()
    const at = Math.min(tickAt, earliestExpiry)
    if (at !== Number.POSITIVE_INFINITY) wakeUpBy(at)
  }

  function wake(): void {
    timer = undefined
    wakeAt = Number.POSITIVE_INFINITY
    const now = Date.now()
    for (const lease of held) if (now >= lease.expiresAt) lose(lease, 'expired before renewal')
    const { tickAt, windowMs } = plan()
    if (now >= tickAt) void renewDue(now, windowMs)
    reschedule()
  }

  async function renewDue(now: number, windowMs: number): Promise<void> {
    lastTickAt = now
    // Everything that would come due before the next tick goes now, so leases with one TTL share ticks.
    const due = [...held].filter(
      (lease) => !lease.busy && lease.renewedAt + lease.renewEveryMs < now + windowMs,
    )
    if (due.length === 0) return
    renewing = true
    const requestedAt = Date.now()
    let answers: LeaseRenewal[] | undefined
    try {
      answers = await store.renew(due)
    } catch (error) {
      // Unreachable: each lease is kept until it expires by our clock; the next tick tries again.
      logger?.warn({ err: (error as Error).message, leases: due.length }, 'lease renewal failed')
    }
    renewing = false
    if (answers) for (const [index, lease] of due.entries()) settleRenewal(lease, answers[index], requestedAt)
    reschedule()
  }

  function settleRenewal(lease: HeldLease, answer: LeaseRenewal | undefined, requestedAt: number): void {
    // Released or lost while the call was in flight, or no answer for it: the next tick decides.
    if (!held.has(lease) || answer === undefined) return
    if (Date.now() >= lease.expiresAt) lose(lease, 'expired before renewal')
    else if (answer === 'renewed') {
      extendFrom(lease, requestedAt)
      if (lease.verifying) void reclaim(lease, { retake: false })
    } else if (answer === 'missing') void reclaim(lease, { retake: true })
    else lose(lease, 'held by another owner')
  }

  /**
   * The key vanished (Redis restarted empty): take it again, then ask the holder whether it still owns
   * the work. While the check cannot answer the lease is kept and the check is asked again after the
   * next renewal.
   */
  async function reclaim(lease: HeldLease, { retake }: { retake: boolean }): Promise<void> {
    lease.busy = true
    try {
      if (retake) {
        const requestedAt = Date.now()
        let taken: boolean
        try {
          taken = await store.take(lease)
        } catch (error) {
          // Unreachable: kept until it expires by our clock; the next tick finds the key missing again.
          logger?.debug(
            { resource: lease.resource, err: (error as Error).message },
            'could not re-take a lease',
          )
          return
        }
        if (!held.has(lease) || Date.now() >= lease.expiresAt) {
          // Released or lost meanwhile: the key we just set is nobody's.
          if (taken) await dropKey(lease)
          lose(lease, 'expired before renewal')
          return
        }
        if (!taken) {
          lose(lease, 'renewal failed')
          return
        }
        extendFrom(lease, requestedAt)
        lease.verifying = true
        logger?.info({ resource: lease.resource }, 'lease re-taken after its key vanished')
      }
      let owner: boolean | undefined
      try {
        owner = await (lease.onReacquired?.() ?? true)
      } catch (error) {
        // No answer (e.g. Postgres down): keep the lease and ask again after the next renewal.
        logger?.debug(
          { resource: lease.resource, err: (error as Error).message },
          'ownership check could not answer after re-taking a lease',
        )
        owner = undefined
      }
      if (!held.has(lease)) return
      if (owner === false) {
        await dropKey(lease)
        lose(lease, 'ownership check failed after re-taking the lease')
      } else if (owner === true) lease.verifying = false
    } finally {
      lease.busy = false
      if (held.has(lease)) wakeUpBy(lease.renewedAt + lease.renewEveryMs)
    }
  }

  return {
    async acquire(resource, leaseOptions) {
      const { ttlMs } = leaseOptions
      const claim: LeaseClaim = { resource, token: randomBytes(16).toString('hex'), ttlMs }
      const requestedAt = Date.now()
      try {
        if (!(await store.take(claim))) return null
      } catch (error) {
        // To the caller an unreachable store is a lease it cannot have now; the connection's own errors
        // are logged where it is opened.
        logger?.debug({ resource, err: (error as Error).message }, 'could not take a lease')
        return null
      }
      const lease: HeldLease = {
        ...claim,
        renewEveryMs: Math.max(minimumIntervalMs, Math.floor(ttlMs / 3)),
        driftMs: Math.round(CLOCK_DRIFT_FACTOR * ttlMs) + EXPIRY_PRECISION_MS,
        renewedAt: requestedAt,
        expiresAt: requestedAt,
        controller: new AbortController(),
        onReacquired: leaseOptions.onReacquired,
        verifying: false,
        busy: false,
      }
      extendFrom(lease, requestedAt)
      held.add(lease)
      wakeUpBy(lease.renewedAt + lease.renewEveryMs)
      let released = false
      return {
        resource,
        signal: lease.controller.signal,
        isHeld: () => !lease.controller.signal.aborted && Date.now() < lease.expiresAt,
        async release() {
          if (released) return
          released = true
          held.delete(lease)
          if (!lease.controller.signal.aborted) lease.controller.abort(new Error('lease released'))
          await dropKey(lease)
        },
      }
    },
    close() {
      if (closed) return
      closed = true
      reschedule()
    },
  }
}
