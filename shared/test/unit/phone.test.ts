import { describe, expect, it } from 'vitest'
import { countryOfSetting, normalizeRecipient, phoneFromJid } from '../../src/phone.js'

describe('normalizeRecipient', () => {
  const accepted = (input: string, country = 'ID') => {
    const result = normalizeRecipient(input, country)
    if (!result.ok) throw new Error(`expected ${input} to be accepted: ${result.reason}`)
    return { jid: result.jid, phone: result.phone }
  }
  const reason = (input: string, country = 'ID') => {
    const result = normalizeRecipient(input, country)
    if (result.ok) throw new Error(`expected ${input} to be rejected, got ${result.jid}`)
    return result.reason
  }
  const indonesianMobile = { jid: '6281234567890@s.whatsapp.net', phone: '+6281234567890' }

  it.each([
    ['national with trunk 0', '081234567890'],
    ['national without trunk 0 (not Japan)', '81234567890'],
    ['international with + and separators', '+62 812-3456-7890'],
    ['international without +', '6281234567890'],
    ['international with 00', '0062 812 3456 7890'],
    ['whatsapp-web.js JID', '6281234567890@c.us'],
    ['Baileys JID', '6281234567890@s.whatsapp.net'],
    ['Baileys JID with a device', '6281234567890:12@s.whatsapp.net'],
    ['whatsapp-web.js JID with a device', '6281234567890:3@c.us'],
    ['surrounding spaces', '  0812.3456.7890  '],
  ])('resolves %s (%s) with the default country', (_label, input) => {
    expect(accepted(input)).toEqual(indonesianMobile)
  })

  it('reads a landline written with its area code in brackets', () => {
    expect(accepted('(021) 555-1234')).toEqual({ jid: '62215551234@s.whatsapp.net', phone: '+62215551234' })
  })

  it('keeps groups and LIDs as JIDs without a phone, dropping a LID device', () => {
    expect(accepted('120363025246125486@g.us')).toEqual({ jid: '120363025246125486@g.us', phone: null })
    expect(accepted('6281234567890-1600000000@g.us')).toEqual({
      jid: '6281234567890-1600000000@g.us',
      phone: null,
    })
    expect(accepted('123456789012345@lid')).toEqual({ jid: '123456789012345@lid', phone: null })
    expect(accepted('123456789012345:4@lid')).toEqual({ jid: '123456789012345@lid', phone: null })
  })

  it('applies the default country, given as ISO or as a calling code', () => {
    expect(accepted('012-345 6789', 'MY').phone).toBe('+60123456789')
    expect(accepted('012-345 6789', '60').phone).toBe('+60123456789')
    expect(accepted('(202) 555-0143', '1').phone).toBe('+12025550143')
    expect(accepted('90 1234 5678', '81').phone).toBe('+819012345678')
  })

  it('reads digits that are not a valid national number as international', () => {
    expect(accepted('6281234567890', 'MY')).toEqual(indonesianMobile)
    expect(accepted('0044 20 7946 0958').phone).toBe('+442079460958')
    expect(accepted('442079460958').phone).toBe('+442079460958')
    expect(accepted('+44 20 7946 0958', 'US').jid).toBe('442079460958@s.whatsapp.net')
  })

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['abc', /not part of a phone number/],
    ['0812-ABC', /not part of a phone number/],
    ['+', /too short/],
    ['0812', /too short/],
    ['62+812345678', /'\+'/],
    ['++6281234567890', /'\+'/],
    ['+62 812 3456 7890 1234 5', /too long/],
    ['123456789012345678', /too long/],
    ['+62 12345678', /not a valid number for ID \(\+62\)/],
    ['+999 1234 5678', /country code no country uses/],
    ['user@example.com', /not a WhatsApp JID/],
    ['6281234567890@s.whatsapp.com', /not a WhatsApp JID/],
    ['12@c.us', /not a WhatsApp JID/],
    ['62123@s.whatsapp.net', /user part that is too short/],
  ])('refuses %j and says why', (input, why) => {
    expect(reason(input)).toMatch(why)
  })

  it('refuses a national number when no default country applies', () => {
    expect(reason('081234567890', 'XX')).toMatch(/no country code/)
  })
})

describe('countryOfSetting', () => {
  it('maps ISO codes and calling codes to a country, the main one for a shared calling code', () => {
    expect(countryOfSetting('ID')).toBe('ID')
    expect(countryOfSetting('id')).toBe('ID')
    expect(countryOfSetting('62')).toBe('ID')
    expect(countryOfSetting('+62')).toBe('ID')
    expect(countryOfSetting('1')).toBe('US')
    expect(countryOfSetting('7')).toBe('RU')
    expect(countryOfSetting('44')).toBe('GB')
    expect(countryOfSetting('XX')).toBeUndefined()
    expect(countryOfSetting('0')).toBeUndefined()
    expect(countryOfSetting('Indonesia')).toBeUndefined()
  })
})

describe('phoneFromJid', () => {
  it('reads the phone out of a device JID', () => {
    expect(phoneFromJid('628123456789:1@s.whatsapp.net')).toBe('628123456789')
    expect(phoneFromJid('628123456789@c.us')).toBe('628123456789')
    expect(phoneFromJid('123@lid')).toBeUndefined()
    expect(phoneFromJid(undefined)).toBeUndefined()
  })
})
