import type { Redis } from 'ioredis'
import { eventually } from '../../../test-support/wait.js'

/**
 * Resolves with the message a lease was aborted with, as soon as it is aborted. The timeout only
 * bounds a test that would otherwise hang; it decides nothing.
 */
export function abortReason(signal: AbortSignal, timeoutMs = 20_000): Promise<string> {
  const reasonOf = () => (signal.reason instanceof Error ? signal.reason.message : String(signal.reason))
  if (signal.aborted) return Promise.resolve(reasonOf())
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      reject(new Error(`lease not aborted within ${timeoutMs} ms`))
    }, timeoutMs)
    const onAbort = () => {
      clearTimeout(timer)
      resolve(reasonOf())
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Resolves once `key`'s TTL went up, i.e. someone renewed it: a key's remaining TTL only ever falls
 * between renewals.
 */
export async function renewedOnce(redis: Redis, key: string, timeoutMs = 20_000): Promise<void> {
  let lowest = await redis.pttl(key)
  if (lowest < 0) throw new Error(`${key} has no TTL (${lowest})`)
  await eventually(
    `a renewal of ${key}`,
    async () => {
      const ttl = await redis.pttl(key)
      if (ttl > lowest) return true
      lowest = Math.min(lowest, ttl)
      return false
    },
    timeoutMs,
    5,
  )
}

/** Calls per command since the server started (or the last CONFIG RESETSTAT), from INFO commandstats. */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats')
  const calls = new Map<string, number>()
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]))
  return calls
}

/** Lua script calls (EVAL, and EVALSHA once the connection has the script) between two readings. */
export function scriptCallsBetween(before: Map<string, number>, after: Map<string, number>): number {
  return callsBetween(before, after, 'eval') + callsBetween(before, after, 'evalsha')
}

export function callsBetween(
  before: Map<string, number>,
  after: Map<string, number>,
  command: string,
): number {
  return (after.get(command) ?? 0) - (before.get(command) ?? 0)
}
