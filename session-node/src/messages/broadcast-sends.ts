import { type AppendResult, appendEvents, broadcastProgressData, type NewEvent } from '@wa-cluster/core'
import { type DatabaseHandle, resultRows } from '@wa-cluster/db'
import { isWindowOpen, nextWindowOpening, type SendWindow } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'

// What the owner does around a broadcast's paced sends: holds back broadcasts whose window is closed,
// keeps the session's pace after each send, and reports progress and completion through the outbox.

/** `broadcast.progress` events of one broadcast are at least this far apart. */
export const BROADCAST_PROGRESS_INTERVAL_MS = 5_000

/**
 * Moves `not_before` of the session's sending broadcasts whose window is closed now to the window's
 * next opening, so the paced claim passes them over until then (and the send loop sleeps until then).
 */
export async function deferClosedWindows(database: DatabaseHandle, sessionId: string): Promise<void> {
  const windowed = await database.rows<{ id: string; window: SendWindow }>(sql`
    SELECT id, "window" FROM broadcasts
    WHERE session_id = ${sessionId} AND status IN ('scheduled', 'running') AND "window" IS NOT NULL
      AND not_before <= now()`)
  const now = Date.now()
  for (const broadcast of windowed) {
    if (isWindowOpen(broadcast.window, now)) continue
    // A valid window opens within a week; one that never does waits a day and is looked at again.
    const opening = nextWindowOpening(broadcast.window, now) ?? now + 24 * 3600_000
    await database.rows(sql`
      UPDATE broadcasts SET not_before = ${new Date(opening).toISOString()}::timestamptz, updated_at = now()
      WHERE id = ${broadcast.id} AND not_before <= now()`)
  }
}

/**
 * After a broadcast row was sent (or failed): keeps the session's pace from the moment the send
 * finished (the claim already moved it on from the moment it started; the later of the two holds, so
 * a slow send never shortens the gap the next recipient sees), then completes the broadcast when
 * nothing of it is left to send, or reports progress when the last report is old enough. Fenced by
 * the owner's epoch; undefined when there was nothing to report.
 */
export async function recordPacedSend(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; broadcastId: string; delayMs: number },
): Promise<AppendResult | undefined> {
  await database.rows(sql`
    UPDATE session_pacing
    SET next_send_at = GREATEST(next_send_at, now() + ${input.delayMs} * interval '1 millisecond')
    WHERE session_id = ${input.sessionId}`)
  return database.db.transaction(async (tx) => {
    const [completed] = resultRows<{ finished_at: string }>(
      await tx.execute(sql`
        UPDATE broadcasts SET status = 'completed', finished_at = now(), progress_at = now(), updated_at = now()
        WHERE id = ${input.broadcastId} AND status IN ('scheduled', 'running')
          AND NOT EXISTS (
            SELECT 1 FROM messages WHERE broadcast_id = ${input.broadcastId} AND status IN ('queued', 'sending'))
        RETURNING to_json(finished_at) #>> '{}' AS finished_at`),
    )
    let event: NewEvent
    if (completed) {
      const data = await broadcastProgressData(tx, input.broadcastId, 'completed')
      event = {
        type: 'broadcast.completed',
        data: { ...data, finishedAt: new Date(completed.finished_at).toISOString() },
      }
    } else {
      const [due] = resultRows<{ status: 'scheduled' | 'running' | 'paused' }>(
        await tx.execute(sql`
          UPDATE broadcasts SET progress_at = now()
          WHERE id = ${input.broadcastId} AND status IN ('scheduled', 'running', 'paused')
            AND (progress_at IS NULL
              OR progress_at <= now() - ${BROADCAST_PROGRESS_INTERVAL_MS} * interval '1 millisecond')
          RETURNING status`),
      )
      if (!due) return undefined
      event = {
        type: 'broadcast.progress',
        data: await broadcastProgressData(tx, input.broadcastId, due.status),
      }
    }
    const envelopes = await appendEvents(tx, {
      sessionId: input.sessionId,
      epoch: input.epoch,
      events: [event],
    })
    return { envelopes, claimed: [], unclaimed: true }
  })
}
