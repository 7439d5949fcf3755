import { setTimeout as delay } from 'node:timers/promises'
import {
  deleteExpiredMessageEvents,
  deleteExpiredMessages,
  deleteSettledMediaChunks,
  type RetentionCutoff,
  retentionCutoffs,
} from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import type { Config } from '@wa-cluster/shared'
import type { Logger } from 'pino'

/** Outbound media pieces older than this and not waiting to be sent are leftovers. */
const MEDIA_LEFTOVER_AGE_MS = 24 * 3600_000

export type HistoryRetention = {
  start(): Promise<void>
  stop(): Promise<void>
  /** One full pass over every tenant (exposed for tests and the timer); counts what it deleted. */
  runOnce(): Promise<{ messages: number; events: number }>
}

/**
 * Deletes message bodies past each tenant's retention: every RETENTION_INTERVAL_MS, on the process
 * that holds the failover leader's lease (one runner in the cluster), tenant by tenant, in batches of
 * RETENTION_BATCH_SIZE with RETENTION_PAUSE_MS between them, logging its progress. A pass that is
 * stopped (shutdown, leadership lost) ends after its current batch; the next pass picks up where the
 * rows are, so nothing is tracked between passes.
 */
export function createHistoryRetention(deps: {
  database: DatabaseHandle
  logger: Logger
  /** Whether this process runs the cluster-wide jobs now (the failover leader's lease). */
  isLeader: () => boolean
  config: Pick<Config, 'RETENTION_INTERVAL_MS' | 'RETENTION_BATCH_SIZE' | 'RETENTION_PAUSE_MS'>
}): HistoryRetention {
  const { database, config } = deps
  const logger = deps.logger.child({ component: 'history-retention' })
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> | undefined
  let stopping = false

  /** Deletes batch after batch until one comes back short; returns the total. */
  async function drain(
    cutoff: RetentionCutoff,
    what: 'messages' | 'events',
    deleteBatch: typeof deleteExpiredMessages,
  ): Promise<number> {
    let total = 0
    for (;;) {
      if (stopping) return total
      const deleted = await deleteBatch(database, {
        tenantId: cutoff.tenantId,
        before: cutoff.before,
        batchSize: config.RETENTION_BATCH_SIZE,
      })
      total += deleted
      if (deleted > 0)
        logger.info(
          { tenantId: cutoff.tenantId, retentionDays: cutoff.retentionDays, what, deleted: total },
          'retention: deleted expired history',
        )
      if (deleted < config.RETENTION_BATCH_SIZE) return total
      await delay(config.RETENTION_PAUSE_MS)
    }
  }

  async function runOnce(): Promise<{ messages: number; events: number }> {
    const totals = { messages: 0, events: 0 }
    for (const cutoff of await retentionCutoffs(database)) {
      totals.messages += await drain(cutoff, 'messages', deleteExpiredMessages)
      totals.events += await drain(cutoff, 'events', deleteExpiredMessageEvents)
    }
    // Outbound media files a failed request or a lost node left behind (a settled send deletes its own).
    const mediaPieces = await deleteSettledMediaChunks(database, MEDIA_LEFTOVER_AGE_MS)
    if (totals.messages + totals.events + mediaPieces > 0)
      logger.info({ ...totals, mediaPieces }, 'retention pass done')
    return totals
  }

  return {
    runOnce,
    async start() {
      if (timer) return
      stopping = false
      timer = setInterval(() => {
        if (running || !deps.isLeader()) return
        running = runOnce()
          .catch((error) => logger.warn({ err: (error as Error).message }, 'retention pass failed'))
          .finally(() => {
            running = undefined
          })
      }, config.RETENTION_INTERVAL_MS)
      timer.unref()
    },
    async stop() {
      stopping = true
      clearInterval(timer)
      timer = undefined
      await running
    },
  }
}
