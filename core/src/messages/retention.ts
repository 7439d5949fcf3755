import type { DatabaseHandle } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'

// Retention: a tenant's message bodies and media references live `tenants.retention_days`; older
// messages (and the `messages.upsert` events that carried their bodies) are deleted in small
// batches, so the job never holds long locks or one long transaction. Counters kept elsewhere
// (statistics) are not touched.

/** The first id minted at `at`: ids are `<prefix>_` + 10 base36 digits of milliseconds + randomness. */
export function idBoundAt(prefix: string, at: Date): string {
  return `${prefix}_${at.getTime().toString(36).padStart(10, '0')}`
}

export type RetentionCutoff = { tenantId: string; retentionDays: number; before: Date }

/** Every tenant with the instant before which its messages have expired. */
export async function retentionCutoffs(database: DatabaseHandle): Promise<RetentionCutoff[]> {
  const rows = await database.rows<{ id: string; retention_days: number; before: string }>(sql`
    SELECT id, retention_days, to_json(now() - retention_days * interval '1 day') #>> '{}' AS before
    FROM tenants ORDER BY id`)
  return rows.map((row) => ({
    tenantId: row.id,
    retentionDays: Number(row.retention_days),
    before: new Date(row.before),
  }))
}

/**
 * Deletes at most `batchSize` of the tenant's messages stored before `before` (by their time-sortable
 * id, on the tenant's history index), except sends still waiting to go out (a scheduled message keeps
 * its old id until it is sent). Returns how many it deleted.
 */
export async function deleteExpiredMessages(
  database: DatabaseHandle,
  input: { tenantId: string; before: Date; batchSize: number },
): Promise<number> {
  const rows = await database.rows<{ id: string }>(sql`
    DELETE FROM messages WHERE id IN (
      SELECT id FROM messages
      WHERE tenant_id = ${input.tenantId} AND id < ${idBoundAt('msg', input.before)}
        AND created_at < ${input.before.toISOString()}::timestamptz AND status NOT IN ('queued', 'sending')
      ORDER BY id LIMIT ${input.batchSize}
      FOR UPDATE SKIP LOCKED)
    RETURNING id`)
  return rows.length
}

/**
 * Deletes at most `batchSize` of the tenant's `messages.upsert` events (they carry received message
 * bodies) that occurred before `before` and that no webhook endpoint or broker sink still has to
 * deliver. Returns how many it deleted.
 */
export async function deleteExpiredMessageEvents(
  database: DatabaseHandle,
  input: { tenantId: string; before: Date; batchSize: number },
): Promise<number> {
  const rows = await database.rows<{ id: string }>(sql`
    DELETE FROM events WHERE id IN (
      SELECT e.id FROM events e
      WHERE e.tenant_id = ${input.tenantId} AND e.id < ${idBoundAt('evt', input.before)}
        AND e.type = 'messages.upsert' AND e.delivery <> 'pending'
        AND e.occurred_at < ${input.before.toISOString()}::timestamptz
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
        AND NOT EXISTS (SELECT 1 FROM sink_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
      ORDER BY e.id LIMIT ${input.batchSize}
      FOR UPDATE SKIP LOCKED)
    RETURNING id`)
  return rows.length
}
