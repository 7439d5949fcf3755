/**
 * Errors that say Postgres is out of reach (restarting, refusing connections, the connection cut), not
 * that a query or our code is wrong: postgres.js connection errors, and the server's "shutting down",
 * "starting up" and "not accepting connections" answers. Such a failure is worth a retry later; it
 * is never a reason to give up on a session or to answer a request with a 500.
 */
const UNREACHABLE_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
])

export function isDatabaseUnreachable(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; current && depth < 5; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown }
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true
    // 55000 is broad (object not in prerequisite state); only this message means "database closed".
    if (
      code === '55000' &&
      typeof message === 'string' &&
      message.includes('not currently accepting connections')
    )
      return true
    // Drizzle wraps the driver's error as `cause`.
    current = (current as { cause?: unknown }).cause
  }
  return false
}
