import type { Redis } from 'ioredis'
import type { LeaseClaim, LeaseRenewal, LeaseStore } from './lease-manager.js'

/**
 * Keys per renewal script call. A tick for 5,000 leases is one pipeline of five calls: one round trip,
 * and no single script holds Redis for long.
 */
const KEYS_PER_RENEWAL_CALL = 1000

/**
 * KEYS: lease keys. ARGV: for each key in order, its token and its TTL in ms.
 * Extends each key that still holds its token. Returns per key: 1 renewed, 0 missing, -1 held by
 * another token.
 */
const RENEW_LEASES = `
local answers = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == ARGV[2 * i - 1] then
    redis.call('PEXPIRE', key, ARGV[2 * i])
    answers[i] = 1
  elseif holder then
    answers[i] = -1
  else
    answers[i] = 0
  end
end
return answers
`

/** KEYS[1]: a lease key. ARGV[1]: our token. Deletes the key only while it holds our token. */
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

type LeaseScripts = {
  renewLeases(numberOfKeys: number, ...keysThenArguments: (string | number)[]): Promise<number[]>
  releaseLease(key: string, token: string): Promise<number>
}
type LeaseScriptPipeline = {
  renewLeases(numberOfKeys: number, ...keysThenArguments: (string | number)[]): unknown
  exec(): Promise<[Error | null, unknown][] | null>
}

const ANSWERS: Record<number, LeaseRenewal> = { 1: 'renewed', 0: 'missing', [-1]: 'held-elsewhere' }

/**
 * Leases in Redis: a key holding the holder's random token with a TTL. Taking is `SET NX PX`;
 * renewing and releasing are token-checked Lua scripts. `keyOf` turns a resource into its Redis key.
 */
export function createRedisLeaseStore(client: Redis, keyOf: (resource: string) => string): LeaseStore {
  client.defineCommand('renewLeases', { lua: RENEW_LEASES })
  client.defineCommand('releaseLease', { lua: RELEASE_LEASE, numberOfKeys: 1 })
  const scripts = client as unknown as LeaseScripts

  const renewalArguments = (claims: readonly LeaseClaim[]): [number, ...(string | number)[]] => {
    const args: [number, ...(string | number)[]] = [claims.length]
    for (const claim of claims) args.push(keyOf(claim.resource))
    for (const claim of claims) args.push(claim.token, claim.ttlMs)
    return args
  }

  return {
    async take(claim) {
      return (await client.set(keyOf(claim.resource), claim.token, 'PX', claim.ttlMs, 'NX')) === 'OK'
    },
    async renew(claims) {
      const batches: (readonly LeaseClaim[])[] = []
      for (let start = 0; start < claims.length; start += KEYS_PER_RENEWAL_CALL)
        batches.push(claims.slice(start, start + KEYS_PER_RENEWAL_CALL))
      let codes: number[]
      if (batches.length <= 1) {
        codes = claims.length === 0 ? [] : await scripts.renewLeases(...renewalArguments(claims))
      } else {
        const pipeline = client.pipeline() as unknown as LeaseScriptPipeline
        for (const batch of batches) pipeline.renewLeases(...renewalArguments(batch))
        const results = (await pipeline.exec()) ?? []
        codes = results.flatMap(([error, value]) => {
          if (error) throw error
          return value as number[]
        })
      }
      return codes.map((code) => ANSWERS[code] ?? 'held-elsewhere')
    },
    async drop(claim) {
      await scripts.releaseLease(keyOf(claim.resource), claim.token)
    },
  }
}
