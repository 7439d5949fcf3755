import { sql } from 'drizzle-orm'

/**
 * Delivery bookkeeping (claims, outcomes, hand-backs) commits without waiting for the WAL flush: losing
 * one in a crash only means an event is sent again, which at-least-once delivery allows, and it takes a
 * disk flush off the fast path. Appends to the outbox stay fully durable. Used as a WHERE condition
 * that is always true and turns `synchronous_commit` off for the statement's transaction.
 */
export const SKIP_WAL_FLUSH_TEXT = "(SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL"
export const SKIP_WAL_FLUSH = sql.raw(SKIP_WAL_FLUSH_TEXT)
