import { customType, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core'
import { sessions } from './sessions.js'

export const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) => Buffer.from(value.buffer, value.byteOffset, value.byteLength),
})

/** Baileys' `creds` for a session, sealed with AUTH_STATE_KEY (AES-256-GCM). */
export const authCreds = pgTable('auth_creds', {
  sessionId: text('session_id')
    .primaryKey()
    .references(() => sessions.id, { onDelete: 'cascade' }),
  value: bytea('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
})

/** Every Signal key category Baileys stores (`pre-key`, `session`, `sender-key`, …), sealed. */
export const authKeys = pgTable(
  'auth_keys',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    category: text('category').notNull(),
    keyId: text('key_id').notNull(),
    value: bytea('value').notNull(),
  },
  (table) => [primaryKey({ columns: [table.sessionId, table.category, table.keyId] })],
)
