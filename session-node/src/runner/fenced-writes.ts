import { setTimeout as sleep } from 'node:timers/promises'
import type { ClaimedEventRow } from '@wa-cluster/core'
import { StaleEpoch } from '@wa-cluster/shared'
import type { Logger } from 'pino'

export type CommitNotice = {
  /** A new session state (wakes whoever waits for one, in every control-plane). */
  stateChanged: boolean
  /** Events the write claimed for the local dispatcher: deliver them now. */
  claimed: ClaimedEventRow[]
  /** The write may have left pending events no one claimed: a dispatcher should look. */
  unclaimed: boolean
}

export type FencedWriterDeps = {
  sessionId: string
  logger: Logger
  /** Called after every committed write, to wake the webhook dispatcher and state watchers. */
  onCommitted: (sessionId: string, notice: CommitNotice) => void
  /** Whether a failed write may be tried again: only while the session is still ours. */
  mayRetry: () => boolean
  /** A write was refused for a stale epoch: another owner took over. */
  onStale: () => void
}

export type FencedWriter = {
  /**
   * Runs a fenced write (one that checks the owner's epoch). Resolves to its result, or undefined when
   * it was refused as stale. `notice` tells the dispatcher what the write left for it.
   */
  commit<T>(write: () => Promise<T>, notice?: (result: T) => Partial<CommitNotice>): Promise<T | undefined>
}

/** Retries of a failed write (about a minute in all) before the error surfaces. */
const COMMIT_RETRIES = 35

/**
 * A runner's writes. They go one at a time, in call order: an append that claims its own events relies
 * on no other append of the session running beside it, and events stay in the order they happened.
 *
 * A stale epoch means we lost the session: the owner stops at once and writes nothing more. Any other
 * failure (Postgres restarting, a dropped connection) is retried while we still own the session:
 * holding here keeps the events in order and loses none.
 */
export function createFencedWriter(deps: FencedWriterDeps): FencedWriter {
  const { sessionId, logger } = deps
  /** The tail of the writes: the next one starts when it settles, whatever its outcome. */
  let tail: Promise<unknown> = Promise.resolve()

  async function commitNow<T>(
    write: () => Promise<T>,
    notice?: (result: T) => Partial<CommitNotice>,
  ): Promise<T | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await write()
        deps.onCommitted(sessionId, {
          stateChanged: false,
          claimed: [],
          unclaimed: true,
          ...notice?.(result),
        })
        return result
      } catch (error) {
        if (error instanceof StaleEpoch) {
          logger.warn('epoch is stale: another owner took over; closing')
          deps.onStale()
          return undefined
        }
        if (attempt >= COMMIT_RETRIES || !deps.mayRetry()) throw error
        logger.warn({ err: (error as Error).message, attempt }, 'write failed; retrying')
        await sleep(Math.min(2_000, 100 * 2 ** attempt))
      }
    }
  }

  return {
    commit(write, notice) {
      const run = tail.then(() => commitNow(write, notice))
      // The caller of this write sees its error; the next write only waits for it to settle.
      tail = Promise.allSettled([run])
      return run
    },
  }
}
