import type { SignalDataSet, SignalDataTypeMap, SignalKeyStore } from '@whiskeysockets/baileys'

/** Plain nested record `type -> id -> value`; exactly what the state file holds for a simulated device. */
export type KeyStoreData = { [T in keyof SignalDataTypeMap]?: Record<string, SignalDataTypeMap[T]> }

/**
 * Baileys' SignalKeyStore over a plain object. The simulator's phones use it under Baileys' own
 * Signal repository; the state file serialises `data` as is.
 */
export function makeMemoryKeyStore(data: KeyStoreData, onChange: () => void): SignalKeyStore {
  return {
    get(type, ids) {
      const bucket = (data[type] ?? {}) as Record<string, SignalDataTypeMap[typeof type]>
      const found: Record<string, SignalDataTypeMap[typeof type]> = {}
      for (const id of ids) {
        const value = bucket[id]
        if (value !== undefined) found[id] = value
      }
      return found
    },
    set(changes: SignalDataSet) {
      for (const type of Object.keys(changes) as (keyof SignalDataTypeMap)[]) {
        data[type] ??= {}
        const bucket = data[type] as Record<string, unknown>
        for (const [id, value] of Object.entries(changes[type] ?? {})) {
          if (value === null || value === undefined) delete bucket[id]
          else bucket[id] = value
        }
      }
      onChange()
    },
  }
}
