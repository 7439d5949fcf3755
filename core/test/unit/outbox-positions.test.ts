import { describe, expect, it } from 'vitest'
import { compareOutboxPositions, parseOutboxAnnouncement } from '../../src/events/outbox-positions.js'

describe('outbox positions', () => {
  it('orders by transaction as a 64-bit number, then by id', () => {
    const positions = [
      { tx: '10', id: 'evt_b' },
      { tx: '9', id: 'evt_z' },
      { tx: '10', id: 'evt_a' },
      { tx: '18446744073709551615', id: 'evt_0' },
      { tx: '10', id: '' },
    ]
    expect([...positions].sort(compareOutboxPositions)).toEqual([
      { tx: '9', id: 'evt_z' },
      { tx: '10', id: '' },
      { tx: '10', id: 'evt_a' },
      { tx: '10', id: 'evt_b' },
      { tx: '18446744073709551615', id: 'evt_0' },
    ])
    expect(compareOutboxPositions({ tx: '10', id: 'evt_a' }, { tx: '10', id: 'evt_a' })).toBe(0)
  })

  it('reads the announcement payload and nothing else', () => {
    expect(parseOutboxAnnouncement('ten_0abc:12345')).toEqual({ tenantId: 'ten_0abc', tx: '12345' })
    expect(parseOutboxAnnouncement('ten_0abc')).toBeUndefined()
    expect(parseOutboxAnnouncement('ten_0abc:12x')).toBeUndefined()
    expect(parseOutboxAnnouncement('')).toBeUndefined()
  })
})
