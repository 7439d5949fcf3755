import {
  type CountryCode,
  getCountryCallingCode,
  isSupportedCountry,
  type PhoneNumber,
  parsePhoneNumberWithError,
  validatePhoneNumberLength,
} from 'libphonenumber-js/max'
import numberingMetadata from 'libphonenumber-js/metadata.min.json'

/**
 * One rule for the numbers people write, applied once at the edge by every endpoint that takes one
 * (`to`, broadcast recipients, `mentions`, contact cards, `pairingPhone`). Numbers are read by
 * libphonenumber (its full metadata, so a number must be valid for its country, not only the right
 * length) with the tenant's default country; JIDs are read as WhatsApp writes them.
 */
export type RecipientResult =
  | {
      ok: true
      /** The WhatsApp JID: `6281…@s.whatsapp.net`, `…@g.us` or `…@lid` (never a device part). */
      jid: string
      /** E.164 (`+6281…`) for a person's number; null for a group or a LID. */
      phone: string | null
    }
  | { ok: false; reason: string }

// whatsapp-web.js writes `…@c.us` for what Baileys calls `…@s.whatsapp.net`; both may carry `:device`.
const USER_JID = /^(\d{5,20})(?::\d+)?@(?:s\.whatsapp\.net|c\.us)$/
const LID_JID = /^(\d{5,20})(?::\d+)?@lid$/
const GROUP_JID = /^\d{5,20}(-\d{5,20})?@g\.us$/

const PARSE_ERRORS: Record<string, string> = {
  NOT_A_NUMBER: 'is not a phone number',
  INVALID_COUNTRY: 'has no country code (write it with +, or set a default country)',
  TOO_SHORT: 'is too short to be a phone number',
  TOO_LONG: 'is too long to be a phone number',
  INVALID_LENGTH: 'has a length no phone number of its country has',
}

/**
 * The country a default-country setting names: an ISO 3166 alpha-2 code (`ID`) as it is, a calling code
 * (`62`, `+62`) as the main country using it (`1` → US, `7` → RU). Undefined for anything else.
 */
export function countryOfSetting(setting: string): CountryCode | undefined {
  const value = setting.trim()
  if (/^[A-Za-z]{2}$/.test(value)) {
    const upper = value.toUpperCase()
    return isSupportedCountry(upper) ? upper : undefined
  }
  const callingCode = /^\+?([1-9]\d{0,3})$/.exec(value)?.[1]
  if (!callingCode) return undefined
  const main = numberingMetadata.country_calling_codes[callingCode]?.[0]
  return main && isSupportedCountry(main) ? main : undefined
}

/** The calling code of a default-country setting (`ID` → `62`), for messages that show it. */
export function callingCodeOf(country: CountryCode): string {
  return getCountryCallingCode(country)
}

type Parsed = { ok: true; number: PhoneNumber } | { ok: false; reason: string }

function parse(text: string, country: CountryCode | undefined, strict: boolean): Parsed {
  let number: PhoneNumber
  try {
    number = parsePhoneNumberWithError(text, country)
  } catch (error) {
    const code = (error as Error).message
    return { ok: false, reason: PARSE_ERRORS[code] ?? 'is not a phone number' }
  }
  if (strict ? number.isValid() : number.isPossible()) return { ok: true, number }
  const length = validatePhoneNumberLength(text, country)
  if (length && PARSE_ERRORS[length]) return { ok: false, reason: PARSE_ERRORS[length]! }
  const where = number.country ?? country
  return {
    ok: false,
    reason: `is not a valid number for ${where ? `${where} (+${number.countryCallingCode})` : `+${number.countryCallingCode}`}`,
  }
}

function person(number: PhoneNumber): RecipientResult {
  return {
    ok: true,
    jid: `${number.countryCallingCode}${number.nationalNumber}@s.whatsapp.net`,
    phone: number.number,
  }
}

/**
 * A number or JID as the JID to send to, or why it is not one. `defaultCountry` is the tenant's setting
 * (`ID`) or the configured fallback (`ID` or `62`), applied to numbers written without a country code:
 * `0812…` and `812…` (national, with or without the trunk 0), `(021) …`. `62812…` and `+62 812-…` carry
 * their own; `0044…` is an international prefix. A number without `+` is read as national first and as
 * international when that is not a valid number (`62812…` in Malaysia is Indonesian). A JID's user part
 * is only checked for a possible length: it is what WhatsApp itself wrote.
 */
export function normalizeRecipient(input: string, defaultCountry: string): RecipientResult {
  const raw = input.trim()
  if (raw.length === 0) return { ok: false, reason: 'is empty' }
  if (raw.includes('@')) {
    const user = USER_JID.exec(raw)
    if (user) {
      const parsed = parse(`+${user[1]}`, undefined, false)
      return parsed.ok
        ? person(parsed.number)
        : { ok: false, reason: `has a user part that ${parsed.reason}` }
    }
    const lid = LID_JID.exec(raw)
    if (lid) return { ok: true, jid: `${lid[1]}@lid`, phone: null }
    if (GROUP_JID.test(raw)) return { ok: true, jid: raw, phone: null }
    return {
      ok: false,
      reason: 'is not a WhatsApp JID (expected …@s.whatsapp.net, …@c.us, …@lid or …@g.us)',
    }
  }
  // People paste numbers with spaces, dashes, dots and brackets; nothing else is accepted.
  if (/[^\d+\s().-]/.test(raw))
    return { ok: false, reason: 'contains characters that are not part of a phone number' }
  if (raw.indexOf('+') > 0 || raw.split('+').length > 2)
    return { ok: false, reason: "has '+' somewhere other than the start" }
  const digits = raw.replace(/\D/g, '')
  if (digits.length === 0) return { ok: false, reason: 'is too short to be a phone number' }
  if (digits.length > 17) return { ok: false, reason: 'is too long to be a phone number' }
  if (raw.startsWith('+')) {
    const parsed = parse(`+${digits}`, undefined, true)
    if (parsed.ok) return person(parsed.number)
    return parsed.reason === PARSE_ERRORS.INVALID_COUNTRY
      ? { ok: false, reason: 'has a country code no country uses' }
      : parsed
  }
  const country = countryOfSetting(defaultCountry)
  const national = country ? parse(digits, country, true) : undefined
  if (national?.ok) return person(national.number)
  const internationalDigits = digits.startsWith('00') ? digits.slice(2) : digits.startsWith('0') ? '' : digits
  if (internationalDigits) {
    const international = parse(`+${internationalDigits}`, undefined, true)
    if (international.ok || !national) return international.ok ? person(international.number) : international
  }
  return national ?? { ok: false, reason: PARSE_ERRORS.INVALID_COUNTRY! }
}

/** `628123456789:3@s.whatsapp.net` (or `…@c.us`) → `628123456789`. */
export function phoneFromJid(jid: string | undefined | null): string | undefined {
  if (!jid) return undefined
  const match = /^(\d+)(?::\d+)?@(?:s\.whatsapp\.net|c\.us)$/.exec(jid)
  return match?.[1]
}
