import { BufferJSON, proto, type SignalDataTypeMap } from '@whiskeysockets/baileys'

/** A Signal key category as Baileys names it; unknown (future) categories are stored generically. */
export type KeyCategory = keyof SignalDataTypeMap | (string & {})

/**
 * Every category the installed Baileys defines. The `satisfies` plus `MissingCategory` check below make
 * `tsc` fail when a Baileys upgrade adds a category, so the cache policy gets a conscious decision.
 */
export const SIGNAL_KEY_CATEGORIES = [
  'pre-key',
  'session',
  'sender-key',
  'sender-key-memory',
  'app-state-sync-key',
  'app-state-sync-version',
  'lid-mapping',
  'device-list',
  'tctoken',
  'identity-key',
] as const satisfies readonly (keyof SignalDataTypeMap)[]

type MissingCategory = Exclude<keyof SignalDataTypeMap, (typeof SIGNAL_KEY_CATEGORIES)[number]>
const everyCategoryListed: [MissingCategory] extends [never] ? true : MissingCategory = true
void everyCategoryListed

/** Baileys' own JSON encoding (Buffers as base64), so stored values read back exactly like its file store. */
export function encodeAuthValue(value: unknown): string {
  return JSON.stringify(value, BufferJSON.replacer)
}

export function decodeAuthValue(category: KeyCategory | 'creds', serialized: string): any {
  const value = JSON.parse(serialized, BufferJSON.reviver)
  // Baileys calls methods of the proto class on these, not only fields (as useMultiFileAuthState does).
  if (category === 'app-state-sync-key' && value) return proto.Message.AppStateSyncKeyData.fromObject(value)
  return value
}
