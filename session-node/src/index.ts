// @wa-cluster/session-node: what the all-in-one entry, the tests and the benchmarks take from the
// session-node package. Curated: nothing else here is public.
export {
  hasAuthCreds,
  openPostgresAuthState,
  type PostgresAuthState,
  type PostgresAuthStateOptions,
  type PostgresKeyStore,
  SIGNAL_KEY_CATEGORIES,
  wipeAuthState,
} from './auth-state/index.js'
export { loadConfig } from './config.js'
export { createSessionNode, type SessionNode, type SessionNodeDeps } from './node.js'
export { createDispatcherFor, dispatcherHooks, prepareSessionProcess } from './process.js'
export { installLeanAsyncContext } from './providers/baileys/async-context.js'
export { createWebhookDispatcher, type WebhookDispatcher } from './webhooks/dispatcher.js'
