import type { EventType } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import {
  bigint,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core'
import { bytea } from './auth.js'
import { tenants } from './tenants.js'

/** One webhook endpoint per tenant. The signing secret is sealed, not stored in plain text. */
export const webhooks = pgTable('webhooks', {
  tenantId: text('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  url: text('url').notNull(),
  /** Event types to deliver; null = all. */
  events: jsonb('events').$type<EventType[] | null>(),
  secretSealed: bytea('secret_sealed').notNull(),
  /** The secret before the last rotation, still signed with until `previousSecretExpiresAt`. */
  previousSecretSealed: bytea('previous_secret_sealed'),
  previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
})

/** Postgres' 64-bit transaction id (`xid8`), read and written as its decimal text. */
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' })

/**
 * The outbox. Every event is written here before anything acknowledges it; the dispatcher delivers
 * `pending` rows. `delivery`: pending | delivered | dead | none (no webhook or filtered out).
 */
export const events = pgTable(
  'events',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    sessionId: text('session_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    type: text('type').$type<EventType>().notNull(),
    data: jsonb('data').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
    delivery: text('delivery')
      .$type<'pending' | 'delivered' | 'dead' | 'none'>()
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    /**
     * The inserting transaction (set by the default, never updated): live streams read the outbox in
     * (tx, id) order below the oldest running transaction, so a row that commits late cannot land
     * behind a cursor (see docs/ARCHITECTURE.md, "Live streams").
     */
    tx: xid8('tx').notNull().default(sql`pg_current_xact_id()`),
  },
  (table) => [
    uniqueIndex('events_session_seq_idx').on(table.sessionId, table.seq),
    index('events_tenant_idx').on(table.tenantId, table.id),
    index('events_due_idx').on(table.delivery, table.nextAttemptAt),
    // The dispatcher's per-session order check ("is an earlier event of this session still pending?")
    // probes this; without it the probe walks the session's whole delivered history.
    // The live streams' read: a tenant's rows after a (tx, id) position.
    index('events_tenant_tx_idx').on(table.tenantId, table.tx, table.id),
    index('events_pending_session_idx').on(table.sessionId, table.seq).where(sql`delivery = 'pending'`),
    // The operator's dead letters, newest first (GET /v1/dead-letters): few rows, read without a scan.
    index('events_dead_idx').on(table.id).where(sql`delivery = 'dead'`),
    // "Was this received message already stored?": WhatsApp delivers a message again when its receipt
    // was not sent (a crash after the commit); the owner looks it up here before appending it twice.
    index('events_inbound_wa_id_idx')
      .on(table.sessionId, sql`(${table.data} -> 'messages' -> 0 ->> 'waMessageId')`)
      .where(sql`type = 'messages.upsert'`),
  ],
)
