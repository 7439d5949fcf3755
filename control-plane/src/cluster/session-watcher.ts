import { type Coordinator, subscribeSessionChanges, type Unsubscribe } from '@wa-cluster/core'

/**
 * Lets a control-plane wait for a session row to reach a condition (a QR, CONNECTED, LOGGED_OUT…).
 * Nodes publish the session id after every committed state change; a slow poll covers lost messages.
 */
export type SessionWatcher = {
  start(): Promise<void>
  stop(): Promise<void>
  /** Re-reads with `read` on every change of `sessionId` until `done(value)` or the timeout; returns the last value. */
  waitFor<T>(
    sessionId: string,
    read: () => Promise<T>,
    done: (value: T) => boolean,
    timeoutMs: number,
  ): Promise<T>
  /** Called by whoever changed a session, to wake local waiters without a round trip. */
  notifyLocal(sessionId: string): void
}

const FALLBACK_POLL_MS = 500

export function createSessionWatcher(coordinator: Coordinator): SessionWatcher {
  const waiters = new Map<string, Set<() => void>>()
  let unsubscribe: Unsubscribe | undefined

  const wake = (sessionId: string) => {
    for (const waiter of waiters.get(sessionId) ?? []) waiter()
  }

  return {
    async start() {
      if (unsubscribe) return
      unsubscribe = await subscribeSessionChanges(coordinator, wake)
    },
    async stop() {
      await unsubscribe?.()
      unsubscribe = undefined
    },
    notifyLocal: wake,
    async waitFor(sessionId, read, done, timeoutMs) {
      let value = await read()
      if (done(value)) return value
      const deadline = Date.now() + timeoutMs
      let signal: () => void = () => {}
      const waiter = () => signal()
      const set = waiters.get(sessionId) ?? new Set<() => void>()
      waiters.set(sessionId, set)
      set.add(waiter)
      try {
        while (Date.now() < deadline) {
          await new Promise<void>((resolve) => {
            signal = resolve
            setTimeout(resolve, Math.min(FALLBACK_POLL_MS, Math.max(0, deadline - Date.now())))
          })
          value = await read()
          if (done(value)) return value
        }
        return value
      } finally {
        set.delete(waiter)
        if (set.size === 0) waiters.delete(sessionId)
      }
    },
  }
}
