import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSendableSession,
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

let api: TestApi
let tenant: { tenantId: string; apiKey: string }
let sessionId: string
beforeAll(async () => {
  api = await createTestApi('cp_phone_numbers')
  tenant = await createTenantThroughApi(api, 'Numbers')
  // No session-node runs here: a wanted-connected, linked session accepts sends and keeps them queued.
  sessionId = await createSendableSession(api, tenant.apiKey, { name: 'numbers' })
})
afterAll(async () => {
  await api?.close()
})

function send(body: unknown) {
  return api.call('POST', `/v1/sessions/${sessionId}/messages`, { key: tenant.apiKey, body })
}
function setTenant(body: unknown) {
  return api.call('PATCH', `/v1/tenants/${tenant.tenantId}`, { key: TEST_ADMIN_KEY, body })
}

describe('numbers written the way people write them', () => {
  it('reads every form with the default country (DEFAULT_COUNTRY_CODE 62 until the tenant sets one)', async () => {
    for (const to of [
      '0812-3456-7890',
      '81234567890',
      '+62 812-3456-7890',
      '6281234567890',
      '6281234567890@c.us',
      '6281234567890:7@s.whatsapp.net',
    ]) {
      const response = await send({ to, text: 'hi' })
      expect(response.status, to).toBe(202)
      expect(response.body.to, to).toBe('6281234567890@s.whatsapp.net')
    }
    expect((await send({ to: '(021) 555-1234', text: 'hi' })).body.to).toBe('62215551234@s.whatsapp.net')
  })

  it("uses the tenant's defaultCountry, which the tenant can read and the operator can clear", async () => {
    const set = await setTenant({ defaultCountry: '60' })
    expect(set.status).toBe(200)
    expect(set.body.defaultCountry).toBe('MY')
    const own = await api.call('GET', '/v1/tenant', { key: tenant.apiKey })
    expect(own.status).toBe(200)
    expect(own.body).toMatchObject({ id: tenant.tenantId, defaultCountry: 'MY', timeZone: 'UTC' })

    expect((await send({ to: '012-345 6789', text: 'hi' })).body.to).toBe('60123456789@s.whatsapp.net')
    // Digits that are no Malaysian number are read as international.
    expect((await send({ to: '6281234567890', text: 'hi' })).body.to).toBe('6281234567890@s.whatsapp.net')

    expect((await setTenant({ defaultCountry: null })).body.defaultCountry).toBe('ID')
    expect((await send({ to: '081234567890', text: 'hi' })).body.to).toBe('6281234567890@s.whatsapp.net')
  })

  it('normalises mentions and contact cards like `to`', async () => {
    const response = await send({
      to: '081234567890',
      text: 'hi @budi',
      mentions: ['0813 0000 0001', '6281300000002@c.us'],
    })
    expect(response.status).toBe(202)
    expect(response.body.mentions).toEqual(['6281300000001', '6281300000002'])
    const card = await send({
      to: '081234567890',
      type: 'contact',
      contacts: [{ name: 'Budi', phone: '+62 813-0000-0001' }],
    })
    expect(card.body.contacts).toEqual([{ name: 'Budi', phone: '6281300000001' }])
  })

  it('refuses impossible numbers with 400 naming the field and why, changing nothing', async () => {
    const before = await snapshotDatabase(api)
    const cases: [unknown, string, RegExp][] = [
      [{ to: '0812', text: 'x' }, 'body.to', /too short/],
      [{ to: '+62 12345678', text: 'x' }, 'body.to', /not a valid number for ID/],
      [{ to: '+999 1234 5678', text: 'x' }, 'body.to', /country code no country uses/],
      [{ to: '123456789012345678', text: 'x' }, 'body.to', /too long/],
      [{ to: '62812@c.us', text: 'x' }, 'body.to', /too short/],
      [{ to: '081234567890', text: 'x', mentions: ['12'] }, 'body.mentions.0', /too short/],
      [{ to: '081234567890', text: 'x', mentions: ['1203630252@g.us'] }, 'body.mentions.0', /person/],
      [
        { to: '081234567890', type: 'contact', contacts: [{ name: 'A', phone: 'abc' }] },
        'body.contacts.0.phone',
        /not part of a phone number/,
      ],
    ]
    for (const [body, field, reason] of cases) {
      const response = await send(body)
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(response.body.error.field, JSON.stringify(body)).toBe(field)
      expect(response.body.error.message, JSON.stringify(body)).toMatch(reason)
    }
    const pairing = await api.call('POST', `/v1/sessions/${sessionId}/connect`, {
      key: tenant.apiKey,
      body: { pairingPhone: '120363025246125486@g.us' },
    })
    expect(pairing.status).toBe(400)
    expect(pairing.body.error.message).toMatch(/pairingPhone must be a phone number/)
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('refuses a bad defaultCountry or timeZone with 400 naming the field', async () => {
    const country = await setTenant({ defaultCountry: 'Indonesia' })
    expect(country.status).toBe(400)
    expect(country.body.error.message).toMatch(/defaultCountry must be an ISO 3166/)
    const zone = await setTenant({ timeZone: 'Mars/Olympus' })
    expect(zone.status).toBe(400)
    expect(zone.body.error.message).toMatch(/timeZone must be an IANA time zone/)
  })
})
