import { randomBytes } from 'node:crypto'

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz'

/**
 * Prefixed, time-sortable ids (`ses_…`, `evt_…`): 10 chars of millisecond time in base36 then
 * 12 random chars. Sortable ids keep outbox scans and pagination on an index.
 */
export function newId(prefix: string): string {
  const time = Date.now().toString(36).padStart(10, '0')
  const bytes = randomBytes(12)
  let random = ''
  for (const byte of bytes) random += ALPHABET[byte % 36]
  return `${prefix}_${time}${random}`
}
