import type { SessionState } from '@wa-cluster/shared'
import { CloseCode } from '../providers/provider.js'

/** What a runner does when its connection closed by itself (a stop by the runner is not asked about). */
export type DisconnectAction =
  /** Open a new connection at once with the same credentials; record no state. */
  | { reconnect: 'now' }
  /** Record RECONNECTING and open a new connection after the backoff (reconnect-policy.ts). */
  | { reconnect: 'backoff'; state: 'RECONNECTING'; reason: string }
  /**
   * Record a resting state and end the runner: the session no longer wants a node. With
   * `wipeCredentials`, the credentials are deleted (fenced) before the state is written.
   */
  | {
      reconnect: 'never'
      state: Extract<SessionState, 'DISCONNECTED' | 'LOGGED_OUT' | 'EXPIRED' | 'FAILED'>
      reason: string
      wipeCredentials: boolean
    }

export type ConnectionClose = {
  /** The close code (see CloseCode); undefined for a network error without one. */
  statusCode: number | undefined
  /** What the connection said when it closed. */
  message: string
}

/** The codes after which the account is no longer linked: the stored credentials are useless. */
const LOGGED_OUT_CODES: ReadonlySet<number> = new Set([CloseCode.loggedOut, CloseCode.forbidden, 419])

/**
 * The disconnect policy: what a close means for the session.
 *
 * | close                              | state          | reconnect | credentials |
 * |------------------------------------|----------------|-----------|-------------|
 * | 515 restart required               | (unchanged)    | now       | kept        |
 * | 440 replaced                       | DISCONNECTED   | never     | kept        |
 * | 401 / 403 / 419                    | LOGGED_OUT     | never     | wiped       |
 * | 408 "QR refs attempts ended"       | EXPIRED        | never     | kept        |
 * | 411 multi-device mismatch          | FAILED         | never     | kept        |
 * | 408 / 428 / 500 / 503 / any other  | RECONNECTING   | backoff   | kept        |
 * | no code (network error)            | RECONNECTING   | backoff   | kept        |
 */
export function disconnectAction(close: ConnectionClose): DisconnectAction {
  const { statusCode, message } = close
  if (statusCode === CloseCode.restartRequired) {
    // 515 ends a pairing: the same credentials log in on a new connection, at once.
    return { reconnect: 'now' }
  }
  if (statusCode === CloseCode.connectionReplaced) {
    // Another connection owns the account now. Reconnecting would start a replace loop: step down.
    return {
      reconnect: 'never',
      state: 'DISCONNECTED',
      reason: 'replaced: another connection took over this account',
      wipeCredentials: false,
    }
  }
  if (statusCode !== undefined && LOGGED_OUT_CODES.has(statusCode)) {
    return { reconnect: 'never', state: 'LOGGED_OUT', reason: message, wipeCredentials: true }
  }
  if (statusCode === CloseCode.timedOut && /QR refs attempts ended/i.test(message)) {
    return {
      reconnect: 'never',
      state: 'EXPIRED',
      reason: 'QR codes expired without a scan',
      wipeCredentials: false,
    }
  }
  if (statusCode === CloseCode.multideviceMismatch) {
    return { reconnect: 'never', state: 'FAILED', reason: message, wipeCredentials: false }
  }
  return { reconnect: 'backoff', state: 'RECONNECTING', reason: message }
}
