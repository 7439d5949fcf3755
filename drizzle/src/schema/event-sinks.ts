import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core'
import { events } from './events.js'

/**
 * The broker sinks an operator configured (EVENT_SINKS): a session-node writes its configuration here
 * when it starts, so the append statement (any process) knows which events each sink wants. Only the
 * name, kind and tenant filter: never the broker URL or its credentials.
 */
export const eventSinks = pgTable('event_sinks', {
  /** The sink's `name` in EVENT_SINKS. */
  id: text('id').primaryKey(),
  /** amqp | nats */
  kind: text('kind').$type<'amqp' | 'nats'>().notNull(),
  /** Tenants whose events the sink receives; null = every tenant. */
  tenantIds: jsonb('tenant_ids').$type<string[] | null>(),
  /** A sink removed from EVENT_SINKS is disabled: no new deliveries; its pending ones wait. */
  enabled: boolean('enabled').notNull().default(true),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
})

/**
 * One row per (event, sink) the event is due to: the per-sink outbox, written by the append statement
 * that writes the event (as `webhook_deliveries` is for endpoints). `status`: pending | delivered | dead.
 */
export const sinkDeliveries = pgTable(
  'sink_deliveries',
  {
    eventId: text('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    sinkId: text('sink_id')
      .notNull()
      .references(() => eventSinks.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    status: text('status').$type<'pending' | 'delivered' | 'dead'>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (table) => [
    primaryKey({ columns: [table.eventId, table.sinkId] }),
    index('sink_deliveries_due_idx').on(table.nextAttemptAt).where(sql`status = 'pending'`),
    // "Is an earlier delivery of this sink and session still pending?" — the order check of a claim.
    index('sink_deliveries_order_idx')
      .on(table.sinkId, table.sessionId, table.seq)
      .where(sql`status = 'pending'`),
  ],
)
