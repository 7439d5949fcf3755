import { resultRows } from '@wa-cluster/db'
import type { BroadcastCounts, BroadcastProgressData, BroadcastStatus } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { SqlExecutor } from '../events/outbox.js'

/** The window of a tenant's `messagesPerDay` (`coordinationKeys.dailySends`). */
export const DAILY_SENDS_WINDOW_MS = 24 * 3600_000

/** The error a recipient left unsent by a cancel carries (its row is `failed` with it). */
export const BROADCAST_CANCELLED_ERROR = 'broadcast cancelled'

/**
 * A broadcast's counts, from its recipient rows (one indexed scan of `messages_broadcast_idx`). The
 * counts are cumulative: a read message counts as sent, delivered and read.
 */
export async function readBroadcastCounts(db: SqlExecutor, broadcastId: string): Promise<BroadcastCounts> {
  const [row] = resultRows<Record<keyof BroadcastCounts, number | string>>(
    await db.execute(sql`
      SELECT count(*) AS total,
        count(*) FILTER (WHERE status IN ('queued', 'sending')) AS queued,
        count(*) FILTER (WHERE status IN ('sent', 'delivered', 'read', 'played')) AS sent,
        count(*) FILTER (WHERE status IN ('delivered', 'read', 'played')) AS delivered,
        count(*) FILTER (WHERE status IN ('read', 'played')) AS read,
        count(*) FILTER (WHERE status = 'failed') AS failed,
        count(*) FILTER (WHERE status = 'failed' AND error = ${BROADCAST_CANCELLED_ERROR}) AS cancelled
      FROM messages WHERE broadcast_id = ${broadcastId}`),
  )
  return {
    total: Number(row?.total ?? 0),
    queued: Number(row?.queued ?? 0),
    sent: Number(row?.sent ?? 0),
    delivered: Number(row?.delivered ?? 0),
    read: Number(row?.read ?? 0),
    failed: Number(row?.failed ?? 0),
    cancelled: Number(row?.cancelled ?? 0),
  }
}

/** The data of a `broadcast.progress` (and, with `finishedAt`, `broadcast.completed`) event. */
export async function broadcastProgressData(
  db: SqlExecutor,
  broadcastId: string,
  status: BroadcastStatus,
): Promise<BroadcastProgressData> {
  return { broadcastId, status, ...(await readBroadcastCounts(db, broadcastId)) }
}
