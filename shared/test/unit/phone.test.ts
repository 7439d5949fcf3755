import { describe, expect, it } from 'vitest'
import { normalizeRecipient, phoneFromJid } from '../../src/phone.js'

describe('normalizeRecipient', () => {
  const ok = (input: string, country = '62') => {
    const result = normalizeRecipient(input, country)
    if (!result.ok) throw new Error(`expected ${input} to be accepted: ${result.reason}`)
    return result.jid
  }
  const reason = (input: string) => {
    const result = normalizeRecipient(input, '62')
    if (result.ok) throw new Error(`expected ${input} to be rejected, got ${result.jid}`)
    return result.reason
  }

  it('accepts the three number forms and gives one JID', () => {
    expect(ok('+6281234567890')).toBe('6281234567890@s.whatsapp.net')
    expect(ok('6281234567890')).toBe('6281234567890@s.whatsapp.net')
    expect(ok('081234567890')).toBe('6281234567890@s.whatsapp.net')
    expect(ok('+62 812-3456-7890')).toBe('6281234567890@s.whatsapp.net')
    expect(ok('0044 20 7946 0958')).toBe('442079460958@s.whatsapp.net')
  })

  it('uses the configured default country code for national numbers', () => {
    expect(ok('0812345678', '60')).toBe('60812345678@s.whatsapp.net')
  })

  it('accepts JIDs and strips the device part of a user JID', () => {
    expect(ok('6281234567890@s.whatsapp.net')).toBe('6281234567890@s.whatsapp.net')
    expect(ok('6281234567890:3@s.whatsapp.net')).toBe('6281234567890@s.whatsapp.net')
    expect(ok('123456789012345@lid')).toBe('123456789012345@lid')
    expect(ok('120363025246125486@g.us')).toBe('120363025246125486@g.us')
  })

  it('rejects everything else with a reason', () => {
    expect(reason('')).toMatch(/empty/)
    expect(reason('abc')).toMatch(/characters/)
    expect(reason('+')).toMatch(/too short/)
    expect(reason('0812')).toMatch(/too short/)
    expect(reason('62+812345678')).toMatch(/\+/)
    expect(reason('1234567890123456')).toMatch(/15 digits/)
    expect(reason('user@example.com')).toMatch(/JID/)
  })

  it('reads the phone out of a device JID', () => {
    expect(phoneFromJid('628123456789:1@s.whatsapp.net')).toBe('628123456789')
    expect(phoneFromJid('123@lid')).toBeUndefined()
    expect(phoneFromJid(undefined)).toBeUndefined()
  })
})
