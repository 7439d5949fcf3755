import { type DatabaseHandle, resultRows } from '@wa-cluster/db'
import { type MessagesUpdateData, messageError } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { appendEvents } from '../events/outbox.js'
import { metadataField } from './message-metadata.js'

/**
 * Fails outbound messages that waited in the queue longer than `olderThanMs` (counted from their
 * `sendAt` when they were scheduled) on a session that is not
 * connected (its QR expired, it was logged out, no node could take it…): each becomes `failed` with
 * the error `session_not_connected` and its session gets one `messages.update` event, in one transaction per
 * session. A message on a connected session is never failed here (it is only waiting its turn), and
 * one the owner already claimed is not `queued` any more, so the two never both act on a message.
 * Handles at most `limit` messages a call; returns how many it failed.
 */
export async function failStaleQueuedSends(
  database: DatabaseHandle,
  input: { olderThanMs: number; limit: number },
): Promise<number> {
  const stale = await database.rows<{ id: string; session_id: string }>(sql`
    SELECT m.id, m.session_id FROM messages m JOIN sessions s ON s.id = m.session_id
    WHERE m.status = 'queued' AND m.direction = 'out'
      AND GREATEST(m.created_at, m.send_after) < now() - ${input.olderThanMs} * interval '1 millisecond'
      AND s.state <> 'CONNECTED'
    ORDER BY m.created_at LIMIT ${input.limit}`)
  const bySession = new Map<string, string[]>()
  for (const row of stale) bySession.set(row.session_id, [...(bySession.get(row.session_id) ?? []), row.id])
  let failed = 0
  const failure = messageError('session_not_connected')
  for (const [sessionId, ids] of bySession) {
    failed += await database.db.transaction(async (tx) => {
      const rows = resultRows<{
        id: string
        wa_message_id: string | null
        chat_id: string
        metadata: unknown
      }>(
        await tx.execute(sql`
          UPDATE messages SET status = 'failed', error = ${failure.message}, error_code = ${failure.code},
            status_history = status_history || jsonb_build_array(jsonb_build_object('status', 'failed', 'at', now())),
            updated_at = now()
          WHERE id IN (${sql.join(
            ids.map((id) => sql`${id}`),
            sql`, `,
          )}) AND status = 'queued'
          RETURNING id, wa_message_id, chat_id, metadata`),
      )
      if (rows.length === 0) return 0
      const updates: MessagesUpdateData['updates'] = rows.map((row) => ({
        id: row.id,
        ...(row.wa_message_id ? { waMessageId: row.wa_message_id } : {}),
        chatId: row.chat_id,
        status: 'failed',
        ...metadataField(row.metadata),
        error: failure,
      }))
      await appendEvents(tx, { sessionId, events: [{ type: 'messages.update', data: { updates } }] })
      return rows.length
    })
  }
  return failed
}
