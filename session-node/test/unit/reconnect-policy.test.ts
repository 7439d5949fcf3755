import { describe, expect, it } from 'vitest'
import { nextReconnectDelay, RECONNECT_BASE_MS, RECONNECT_CAP_MS } from '../../src/runner/reconnect-policy.js'

describe('reconnect backoff', () => {
  it('grows exponentially and stays within [ceiling/4, ceiling]', () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** attempt)
      expect(nextReconnectDelay(attempt, () => 0)).toBe(ceiling / 4)
      expect(nextReconnectDelay(attempt, () => 1)).toBe(ceiling)
    }
  })
  it('is capped however many attempts failed', () => {
    expect(nextReconnectDelay(1000, () => 1)).toBe(RECONNECT_CAP_MS)
  })
  it('spreads a fleet: jitter gives different delays', () => {
    const delays = new Set(Array.from({ length: 20 }, () => nextReconnectDelay(5)))
    expect(delays.size).toBeGreaterThan(10)
  })
})
