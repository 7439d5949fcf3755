import { describe, expect, it } from 'vitest'
import { isWindowOpen, nextWindowOpening, type SendWindow, sendWindowProblem } from '../../src/send-window.js'

const at = (iso: string) => Date.parse(iso)
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString())

describe('send window', () => {
  // Jakarta is UTC+7 all year, Monday to Friday 08:00-17:00.
  const jakarta: SendWindow = {
    days: [1, 2, 3, 4, 5],
    from: '08:00',
    until: '17:00',
    timeZone: 'Asia/Jakarta',
  }

  it('is open inside the local hours of a listed day, closed outside them', () => {
    // Wednesday 2026-12-02 09:00 in Jakarta = 02:00Z.
    expect(isWindowOpen(jakarta, at('2026-12-02T02:00:00Z'))).toBe(true)
    // 07:59 local.
    expect(isWindowOpen(jakarta, at('2026-12-02T00:59:00Z'))).toBe(false)
    // 17:00 local: `until` is exclusive.
    expect(isWindowOpen(jakarta, at('2026-12-02T10:00:00Z'))).toBe(false)
    // Saturday 10:00 local.
    expect(isWindowOpen(jakarta, at('2026-12-05T03:00:00Z'))).toBe(false)
  })

  it('reads the weekday in the window zone, not in UTC', () => {
    // Sunday 2026-12-06 20:00Z is Monday 03:00 in Jakarta: a Monday-only night window is open.
    const mondayNight: SendWindow = { days: [1], from: '00:00', until: '06:00', timeZone: 'Asia/Jakarta' }
    expect(isWindowOpen(mondayNight, at('2026-12-06T20:00:00Z'))).toBe(true)
    expect(isWindowOpen(mondayNight, at('2026-12-06T16:00:00Z'))).toBe(false)
  })

  it('the next opening is now when open, else the next listed day at `from`', () => {
    const open = at('2026-12-02T02:00:00Z')
    expect(nextWindowOpening(jakarta, open)).toBe(open)
    // Wednesday 18:00 local → Thursday 08:00 local = 01:00Z.
    expect(iso(nextWindowOpening(jakarta, at('2026-12-02T11:00:00Z')))).toBe('2026-12-03T01:00:00.000Z')
    // Friday evening → Monday 08:00 local.
    expect(iso(nextWindowOpening(jakarta, at('2026-12-04T12:00:00Z')))).toBe('2026-12-07T01:00:00.000Z')
    // Early Wednesday → the same day at 08:00.
    expect(iso(nextWindowOpening(jakarta, at('2026-12-01T20:00:00Z')))).toBe('2026-12-02T01:00:00.000Z')
  })

  it('follows daylight-saving changes: the same local hour is a different UTC hour', () => {
    const newYork: SendWindow = {
      days: [1, 2, 3, 4, 5, 6, 7],
      from: '09:00',
      until: '10:00',
      timeZone: 'America/New_York',
    }
    // Before the spring change (EST, UTC-5) and after it (EDT, UTC-4).
    expect(iso(nextWindowOpening(newYork, at('2026-03-07T20:00:00Z')))).toBe('2026-03-08T13:00:00.000Z')
    expect(iso(nextWindowOpening(newYork, at('2026-03-06T20:00:00Z')))).toBe('2026-03-07T14:00:00.000Z')
    // Autumn: back to UTC-5 on 2026-11-01.
    expect(iso(nextWindowOpening(newYork, at('2026-10-31T20:00:00Z')))).toBe('2026-11-01T14:00:00.000Z')
    expect(isWindowOpen(newYork, at('2026-11-01T13:30:00Z'))).toBe(false)
    expect(isWindowOpen(newYork, at('2026-11-01T14:30:00Z'))).toBe(true)
  })

  it('an opening inside a skipped hour starts when the wall clock gets there', () => {
    // 2026-03-08 02:00-03:00 does not exist in New York: a window from 02:30 opens once the clock has jumped.
    const night: SendWindow = { days: [7], from: '02:30', until: '04:00', timeZone: 'America/New_York' }
    const opening = nextWindowOpening(night, at('2026-03-08T05:00:00Z'))
    expect(opening).toBeDefined()
    expect(isWindowOpen(night, opening!)).toBe(true)
    expect(opening!).toBeGreaterThan(at('2026-03-08T05:00:00Z'))
    expect(opening!).toBeLessThanOrEqual(at('2026-03-08T07:30:00Z'))
  })

  it('an opening inside a repeated hour is its first occurrence', () => {
    // 01:00-02:00 happens twice in New York on 2026-11-01 (EDT 05:00Z, then EST 06:00Z).
    const early: SendWindow = { days: [7], from: '01:30', until: '03:00', timeZone: 'America/New_York' }
    expect(iso(nextWindowOpening(early, at('2026-11-01T03:00:00Z')))).toBe('2026-11-01T05:30:00.000Z')
  })

  it('works east of UTC across the date line and in half-hour zones', () => {
    const kolkata: SendWindow = { days: [1], from: '08:00', until: '09:00', timeZone: 'Asia/Kolkata' }
    // Monday 2026-12-07 08:00 IST = 02:30Z.
    expect(iso(nextWindowOpening(kolkata, at('2026-12-03T00:00:00Z')))).toBe('2026-12-07T02:30:00.000Z')
    const auckland: SendWindow = { days: [2], from: '08:00', until: '09:00', timeZone: 'Pacific/Auckland' }
    // Tuesday 2026-12-08 08:00 NZDT (UTC+13) = Monday 19:00Z.
    expect(iso(nextWindowOpening(auckland, at('2026-12-03T00:00:00Z')))).toBe('2026-12-07T19:00:00.000Z')
  })

  it('names what is wrong with a window', () => {
    expect(sendWindowProblem(jakarta)).toBeUndefined()
    expect(sendWindowProblem({ ...jakarta, days: [] })?.field).toBe('days')
    expect(sendWindowProblem({ ...jakarta, days: [0] })?.field).toBe('days')
    expect(sendWindowProblem({ ...jakarta, from: '8:00' })?.field).toBe('from')
    expect(sendWindowProblem({ ...jakarta, until: '24:00' })?.field).toBe('until')
    expect(sendWindowProblem({ ...jakarta, from: '17:00', until: '08:00' })?.field).toBe('until')
    expect(sendWindowProblem({ ...jakarta, timeZone: 'Mars/Olympus' })?.field).toBe('timeZone')
  })
})
