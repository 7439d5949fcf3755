import { describe, expect, it } from 'vitest'
import { Counters } from '../../src/counters.js'
import { Faults, parseFaultSettings } from '../../src/faults.js'

describe('counters', () => {
  it('tracks live sockets and the per-device concurrency maximum', () => {
    const counters = new Counters()
    counters.socketLoggedIn('a:1@s.whatsapp.net')
    counters.socketLoggedIn('b:1@s.whatsapp.net')
    expect(counters.snapshot(false).maxConcurrentPerDevice).toBe(1)
    counters.socketLoggedIn('a:1@s.whatsapp.net')
    counters.replacedSocket('a:1@s.whatsapp.net')
    counters.socketClosed('a:1@s.whatsapp.net')
    const stats = counters.snapshot(true)
    expect(stats).toMatchObject({ logins: 3, online: 2, replaced: 1, maxConcurrentPerDevice: 2 })
    expect(stats.perDevice?.['a:1@s.whatsapp.net']).toMatchObject({ live: 1, maxConcurrent: 2, replaced: 1 })
    expect(stats.perDevice?.['b:1@s.whatsapp.net']).toMatchObject({ live: 1, maxConcurrent: 1 })
  })
})

describe('faults', () => {
  it('refuses logins until the window ends', () => {
    const faults = new Faults()
    faults.refuseLogins(503, 1_000)
    const now = Date.now()
    expect(faults.loginRefusalCode(now)).toBe(503)
    expect(faults.loginRefusalCode(now + 2_000)).toBeUndefined()
  })

  it('validates input and names the field', () => {
    expect(parseFaultSettings({ refuseLogins: { code: 503, forMs: 10 } })).toEqual({
      refuseLogins: { code: 503, forMs: 10 },
    })
    expect(() => parseFaultSettings({ refuseLogins: { code: 200 } })).toThrow(/refuseLogins.code/)
    expect(() => parseFaultSettings({ silence: {} })).toThrow(/silence.jid/)
    expect(() => parseFaultSettings({ frameDelayMs: -1 })).toThrow(/frameDelayMs/)
    expect(() => parseFaultSettings(null)).toThrow(/body/)
  })
})
