/** Reconnect backoff: exponential from 1 s, capped at 60 s, with full jitter so a fleet never reconnects in step. */
export const RECONNECT_BASE_MS = 1_000
export const RECONNECT_CAP_MS = 60_000

export function nextReconnectDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** Math.min(attempt, 16))
  // Never below a quarter of the ceiling: the first retry after a server restart should not be instant.
  return Math.round(ceiling / 4 + random() * ((ceiling * 3) / 4))
}
