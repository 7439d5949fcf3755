import type { TenantLimits, TenantStatus } from '@wa-cluster/shared'
import { index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core'

export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** Limits the operator set for this tenant; a missing key means the configured default. */
  limits: jsonb('limits').$type<TenantLimits>().notNull().default({}),
  /** `suspended`: the tenant may not send or connect (403 `tenant_suspended`); its sessions stay. */
  status: text('status').$type<TenantStatus>().notNull().default('active'),
  /** Days message bodies are kept; older messages are deleted by the retention job. */
  retentionDays: integer('retention_days').notNull().default(90),
  /** ISO 3166 alpha-2 country of numbers written without a country code; null = DEFAULT_COUNTRY_CODE. */
  defaultCountry: text('default_country'),
  /** IANA time zone the tenant's statistics are grouped by day in; null = UTC. */
  timeZone: text('time_zone'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
})

/** API keys are stored as SHA-256 hashes; the plain key is shown once, at creation. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name'),
    keyHash: text('key_hash').notNull().unique(),
    /** First characters of the key, so an operator can tell keys apart without the secret. */
    prefix: text('prefix').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (table) => [index('api_keys_tenant_idx').on(table.tenantId)],
)

/** Settings the process itself needs to keep (embedded mode persists its generated admin key hash). */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})
