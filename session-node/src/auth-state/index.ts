export {
  hasAuthCreds,
  openPostgresAuthState,
  type PostgresAuthState,
  type PostgresAuthStateOptions,
  type PostgresKeyStore,
  wipeAuthState,
} from './postgres-auth-state.js'
export { SIGNAL_KEY_CATEGORIES } from './serialization.js'
