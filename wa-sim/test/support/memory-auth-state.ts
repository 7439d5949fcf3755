import {
  type AuthenticationCreds,
  type AuthenticationState,
  initAuthCreds,
  type SignalDataTypeMap,
} from '@whiskeysockets/baileys'

/** Baileys auth state held in memory; `creds` and `keys` survive socket restarts (515) in a test. */
export function makeMemoryAuthState(): {
  state: AuthenticationState
  saveCreds: (update: Partial<AuthenticationCreds>) => void
} {
  const creds = initAuthCreds()
  const store: Record<string, Record<string, unknown>> = {}
  const state: AuthenticationState = {
    creds,
    keys: {
      get: (type, ids) => {
        const bucket = store[type] ?? {}
        const out: Record<string, SignalDataTypeMap[typeof type]> = {}
        for (const id of ids)
          if (bucket[id] !== undefined) out[id] = bucket[id] as SignalDataTypeMap[typeof type]
        return out
      },
      set: (data) => {
        for (const [type, values] of Object.entries(data)) {
          store[type] ??= {}
          const bucket = store[type]
          for (const [id, value] of Object.entries(values ?? {})) {
            if (value === null || value === undefined) delete bucket[id]
            else bucket[id] = value
          }
        }
      },
    },
  }
  return { state, saveCreds: (update) => Object.assign(creds, update) }
}
