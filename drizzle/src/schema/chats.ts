import { sql } from 'drizzle-orm'
import { index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core'
import { sessions } from './sessions.js'

/**
 * A session's chats, as WhatsApp's history sync and chat events describe them and as the live traffic
 * moves them: a received message counts as unread and becomes the last message, a sent one becomes
 * the last message and clears the unread count (the phone marks a chat read when you answer).
 */
export const chats = pgTable(
  'chats',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    /** The chat's JID: `…@s.whatsapp.net`, `…@g.us`, or `…@lid` when WhatsApp gave no phone number. */
    chatId: text('chat_id').notNull(),
    name: text('name'),
    unreadCount: integer('unread_count').notNull().default(0),
    /** Our id of the chat's last message (`msg_…`), when it is one we stored. */
    lastMessageId: text('last_message_id'),
    /** The time of the chat's last message; the epoch when WhatsApp gave none. */
    lastActivityAt: timestamp('last_activity_at', { withTimezone: true }).notNull().default(sql`'epoch'`),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.sessionId, table.chatId] }),
    // The chat list: newest activity first, (last_activity_at, chat_id) is its cursor.
    index('chats_activity_idx').on(table.sessionId, table.lastActivityAt, table.chatId),
  ],
)

/**
 * A session's contacts: one row per person, keyed by the phone-number JID when WhatsApp gave one (the
 * LID JID otherwise), with the LID beside it once the mapping is known.
 */
export const contacts = pgTable(
  'contacts',
  {
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull(),
    jid: text('jid').notNull(),
    lid: text('lid'),
    /** The name the contact set on WhatsApp. */
    pushName: text('push_name'),
    /** The name the account saved the contact under in its address book. */
    savedName: text('saved_name'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.sessionId, table.jid] }),
    index('contacts_lid_idx').on(table.sessionId, table.lid),
    // A history read by chat finds the other JID of the same person tenant-wide.
    index('contacts_tenant_jid_idx').on(table.tenantId, table.jid),
    index('contacts_tenant_lid_idx').on(table.tenantId, table.lid),
  ],
)
