/**
 * One rule for recipient numbers, applied once at the edge:
 * `+62812…`, `62812…`, `0812…` (national, default country code), `…@s.whatsapp.net`, `…@lid`, `…@g.us`.
 */
export type RecipientResult = { ok: true; jid: string } | { ok: false; reason: string }

const USER_JID = /^(\d{5,20})(?::\d+)?@s\.whatsapp\.net$/
const LID_JID = /^\d{5,20}(?::\d+)?@lid$/
const GROUP_JID = /^\d{5,20}(-\d{5,20})?@g\.us$/

export function normalizeRecipient(input: string, defaultCountryCode: string): RecipientResult {
  const raw = input.trim()
  if (raw.length === 0) return { ok: false, reason: 'is empty' }
  if (raw.includes('@')) {
    const user = USER_JID.exec(raw)
    if (user) return { ok: true, jid: `${user[1]}@s.whatsapp.net` }
    if (LID_JID.test(raw) || GROUP_JID.test(raw)) return { ok: true, jid: raw }
    return { ok: false, reason: 'is not a WhatsApp JID (expected …@s.whatsapp.net, …@lid or …@g.us)' }
  }
  // People paste numbers with spaces, dashes, dots and brackets; nothing else is accepted.
  if (/[^\d+\s().-]/.test(raw))
    return { ok: false, reason: 'contains characters that are not part of a phone number' }
  const plus = raw.startsWith('+')
  if (raw.indexOf('+') > 0 || raw.split('+').length > 2)
    return { ok: false, reason: "has '+' somewhere other than the start" }
  const digits = raw.replace(/\D/g, '')
  let international: string
  if (plus) international = digits
  else if (digits.startsWith('00')) international = digits.slice(2)
  else if (digits.startsWith('0')) international = defaultCountryCode + digits.slice(1)
  else international = digits
  if (international.startsWith('0')) return { ok: false, reason: 'has no country code' }
  // E.164 allows at most 15 digits; the shortest real numbers with country code have 8.
  if (international.length < 8) return { ok: false, reason: 'is too short to be a phone number' }
  if (international.length > 15) return { ok: false, reason: 'is longer than 15 digits (E.164)' }
  return { ok: true, jid: `${international}@s.whatsapp.net` }
}

/** `628123456789:3@s.whatsapp.net` → `628123456789`. */
export function phoneFromJid(jid: string | undefined | null): string | undefined {
  if (!jid) return undefined
  const match = /^(\d+)(?::\d+)?@s\.whatsapp\.net$/.exec(jid)
  return match?.[1]
}
