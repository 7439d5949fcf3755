import { describe, expect, it } from 'vitest'
import { webhookRetryDelayMs } from '../../src/webhooks/dispatcher.js'

const options = { backoffBaseMs: 1_000, backoffCapMs: 600_000 }

describe('webhook retry delay', () => {
  it('doubles its ceiling per attempt, starting at the base', () => {
    const ceiling = (attempt: number) => webhookRetryDelayMs(attempt, options, () => 0.999_999)
    expect([1, 2, 3, 4].map(ceiling)).toEqual([999, 1_999, 3_999, 7_999])
  })

  it('never exceeds the cap, however many attempts', () => {
    expect(webhookRetryDelayMs(40, options, () => 0.999_999)).toBe(599_999)
    expect(webhookRetryDelayMs(5_000, options, () => 0.5)).toBe(300_000)
  })

  it('spreads retries over the whole window (full jitter)', () => {
    expect(webhookRetryDelayMs(3, options, () => 0)).toBe(0)
    expect(webhookRetryDelayMs(3, options, () => 0.5)).toBe(2_000)
  })
})
