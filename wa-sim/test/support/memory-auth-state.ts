import { type AuthenticationCreds, type AuthenticationState, initAuthCreds } from '@whiskeysockets/baileys'
import { makeMemoryKeyStore } from '../../src/key-store.js'

/** Baileys auth state held in memory; `creds` and `keys` survive socket restarts (515) in a test. */
export function makeMemoryAuthState(): {
  state: AuthenticationState
  saveCreds: (update: Partial<AuthenticationCreds>) => void
} {
  const creds = initAuthCreds()
  const state: AuthenticationState = { creds, keys: makeMemoryKeyStore({}, () => {}) }
  return { state, saveCreds: (update) => Object.assign(creds, update) }
}
