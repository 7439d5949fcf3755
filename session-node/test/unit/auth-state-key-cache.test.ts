import { describe, expect, it } from 'vitest'
import { createKeyCache } from '../../src/auth-state/key-cache.js'

describe('key cache', () => {
  it('returns what it remembered, including known-absent ids, and forgets on request', () => {
    const cache = createKeyCache(10_000)
    cache.remember('session/a.0', '{"x":1}')
    cache.remember('identity-key/b.0', null)
    expect(cache.read('session/a.0')).toBe('{"x":1}')
    expect(cache.read('identity-key/b.0')).toBeNull()
    expect(cache.read('session/unknown.0')).toBeUndefined()
    cache.forget('session/a.0')
    expect(cache.read('session/a.0')).toBeUndefined()
    expect(cache.entries).toBe(1)
  })

  it('stays within its byte budget by evicting the least recently used entries', () => {
    const cache = createKeyCache(4_000)
    const value = 'v'.repeat(500)
    for (let index = 0; index < 20; index++) {
      cache.remember(`session/${index}.0`, value)
      if (index >= 1) cache.read('session/0.0') // keeps the first entry hot
    }
    expect(cache.sizeBytes).toBeLessThanOrEqual(4_000)
    expect(cache.read('session/0.0')).toBe(value)
    expect(cache.read('session/19.0')).toBe(value)
    expect(cache.read('session/1.0')).toBeUndefined()
  })

  it('does not keep a value too large for its budget, nor an older copy of it', () => {
    const cache = createKeyCache(4_000)
    cache.remember('app-state-sync-version/regular', 'small')
    cache.remember('app-state-sync-version/regular', 'x'.repeat(3_000))
    expect(cache.read('app-state-sync-version/regular')).toBeUndefined()
    expect(cache.sizeBytes).toBe(0)
  })

  it('accounts replaced values once', () => {
    const cache = createKeyCache(100_000)
    cache.remember('session/a.0', 'x'.repeat(1_000))
    const once = cache.sizeBytes
    cache.remember('session/a.0', 'x'.repeat(1_000))
    expect(cache.sizeBytes).toBe(once)
    cache.clear()
    expect(cache.sizeBytes).toBe(0)
  })
})
