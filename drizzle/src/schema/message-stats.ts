import { bigint, index, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core'

/**
 * Message counters per tenant, session and hour (the hour the message was created in), kept by the
 * `messages_count_stats` trigger on every INSERT and status UPDATE of `messages` (migration
 * `message_stats`), so statistics never scan messages and survive their deletion (the trigger ignores
 * DELETE). Each outbound message is in exactly one of `queued` (queued or sending), `sent` (sent or
 * beyond) and `failed`, by its current status; `delivered` and `read` are the part of `sent` that got
 * that far. No foreign keys: counters outlive the rows they counted.
 */
export const messageStats = pgTable(
  'message_stats',
  {
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id').notNull(),
    /** The hour (UTC) the counted messages were created in. */
    hour: timestamp('hour', { withTimezone: true }).notNull(),
    total: bigint('total', { mode: 'number' }).notNull().default(0),
    queued: bigint('queued', { mode: 'number' }).notNull().default(0),
    sent: bigint('sent', { mode: 'number' }).notNull().default(0),
    delivered: bigint('delivered', { mode: 'number' }).notNull().default(0),
    read: bigint('read', { mode: 'number' }).notNull().default(0),
    failed: bigint('failed', { mode: 'number' }).notNull().default(0),
    inbound: bigint('inbound', { mode: 'number' }).notNull().default(0),
    /** When one of the hour's messages last became sent / failed. */
    lastSuccessAt: timestamp('last_success_at', { withTimezone: true }),
    lastFailureAt: timestamp('last_failure_at', { withTimezone: true }),
  },
  (table) => [
    primaryKey({ columns: [table.tenantId, table.sessionId, table.hour] }),
    index('message_stats_tenant_hour_idx').on(table.tenantId, table.hour),
  ],
)
