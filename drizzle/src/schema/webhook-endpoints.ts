import type { EventType } from '@wa-cluster/shared'
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
import { bytea } from './auth.js'
import { events } from './events.js'
import { sessions } from './sessions.js'
import { tenants } from './tenants.js'

/**
 * A tenant's webhook endpoints beyond the default one (`webhooks`, /v1/webhook): each with its own URL,
 * filters, headers and secret. The secrets are sealed, bound to the tenant and the endpoint.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    /** Event types to deliver; null = all. */
    events: jsonb('events').$type<EventType[] | null>(),
    /** Sessions whose events are delivered; null = every session of the tenant. */
    sessionIds: jsonb('session_ids').$type<string[] | null>(),
    /** Extra request headers the receiver asked for (an auth token of its own, a routing key). */
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    enabled: boolean('enabled').notNull().default(true),
    /** Also send `X-Hub-Signature-256` (Meta's scheme) beside the Standard Webhooks headers. */
    hubSignature: boolean('hub_signature').notNull().default(false),
    secretSealed: bytea('secret_sealed').notNull(),
    /** The secret before the last rotation, still signed with until `previousSecretExpiresAt`. */
    previousSecretSealed: bytea('previous_secret_sealed'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    /** The session created with `webhookUrl` that this endpoint belongs to; deleted with it. */
    ownerSessionId: text('owner_session_id').references(() => sessions.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('webhook_endpoints_tenant_idx').on(table.tenantId, table.id)],
)

/**
 * One row per (event, endpoint) the event is due to: the per-endpoint outbox. Written by the append
 * that writes the event (same statement), so an endpoint's deliveries are as durable as the event.
 * `status`: pending | delivered | dead. `session_id` and `seq` are copied from the event so a claim can
 * keep each endpoint's per-session order without joining `events`.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    eventId: text('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    sessionId: text('session_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    status: text('status').$type<'pending' | 'delivered' | 'dead'>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    /** The receiver's status code on the last attempt that got an answer. */
    lastStatus: integer('last_status'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (table) => [
    primaryKey({ columns: [table.eventId, table.endpointId] }),
    index('webhook_deliveries_due_idx').on(table.nextAttemptAt).where(sql`status = 'pending'`),
    // "Is an earlier delivery of this endpoint and session still pending?" — the order check of a claim.
    index('webhook_deliveries_order_idx')
      .on(table.endpointId, table.sessionId, table.seq)
      .where(sql`status = 'pending'`),
    index('webhook_deliveries_endpoint_idx').on(table.endpointId, table.eventId),
    // The operator's dead letters, newest first (GET /v1/dead-letters): few rows, read without a scan.
    index('webhook_deliveries_dead_idx').on(table.eventId, table.endpointId).where(sql`status = 'dead'`),
  ],
)
