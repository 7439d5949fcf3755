// Waiting in tests: one way to poll for a condition, one way to pause. A pause never decides a
// negative ("nothing happened"): wait for the event that proves the positive instead, or for a
// bounded condition with `eventually`.

/** Polls `check` until it returns a truthy value; throws naming `what` after the timeout. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`)
    await sleep(intervalMs)
  }
}

/** A check for `eventually`: reads a value and passes it on once `accept` holds. */
export function satisfying<T>(
  read: () => Promise<T> | T,
  accept: (value: T) => boolean,
): () => Promise<T | undefined> {
  return async () => {
    const value = await read()
    return accept(value) ? value : undefined
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
