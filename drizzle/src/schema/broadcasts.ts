import type { BroadcastStatus, SendWindow, TemplateMedia, TemplateType } from '@wa-cluster/shared'
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core'
import { sessions } from './sessions.js'
import { tenants } from './tenants.js'

/**
 * A tenant's own message templates (not Meta-approved ones): a body with `{{variable}}` placeholders
 * and its kind: a text, or a media message (`media.url`) whose rendered body is the caption.
 */
export const templates = pgTable(
  'templates',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    body: text('body').notNull(),
    type: text('type').$type<TemplateType>().notNull().default('text'),
    /** A media template's file, fetched by the gateway at each send that uses it. */
    media: jsonb('media').$type<TemplateMedia>(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.tenantId, table.name] })],
)

/**
 * A paced mass send on one session. Each recipient is a `messages` row (`broadcast_id`,
 * `broadcast_index`, a deterministic idempotency key) stored with the broadcast, so the job is all in
 * Postgres: whichever node owns the session sends its rows, no faster than `delay_ms` (see
 * `session_pacing`), and never one twice.
 */
export const broadcasts = pgTable(
  'broadcasts',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    idempotencyKey: text('idempotency_key'),
    /** Hash of the request body the idempotency key was first used with. */
    requestHash: text('request_hash').notNull(),
    status: text('status').$type<BroadcastStatus>().notNull(),
    total: integer('total').notNull(),
    /** The least time between two sends of the session while this broadcast sends. */
    delayMs: integer('delay_ms').notNull(),
    /** A random 0..jitter_ms added to each delay. */
    jitterMs: integer('jitter_ms').notNull().default(0),
    sendAt: timestamp('send_at', { withTimezone: true }),
    window: jsonb('window').$type<SendWindow>(),
    /** Nothing of this broadcast is sent before this (its `sendAt`, or the next opening of its window). */
    notBefore: timestamp('not_before', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    /** When the last `broadcast.progress` event was written (they are spaced a few seconds apart). */
    progressAt: timestamp('progress_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex('broadcasts_idempotency_idx').on(table.tenantId, table.idempotencyKey),
    // The owner's look-ups of a session's sending broadcasts (windows, the next wake-up).
    index('broadcasts_session_idx').on(table.sessionId, table.status),
  ],
)

/**
 * The pace of a session's paced sends, shared by all its broadcasts: a paced row is claimed only once
 * `next_send_at` has passed, and the claim moves it on in the same statement. It lives in Postgres, so
 * the pace holds across restart, failover, rebalance and drain.
 */
export const sessionPacing = pgTable('session_pacing', {
  sessionId: text('session_id')
    .primaryKey()
    .references(() => sessions.id, { onDelete: 'cascade' }),
  nextSendAt: timestamp('next_send_at', { withTimezone: true }).notNull().defaultNow(),
})
