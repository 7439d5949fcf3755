import { index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core'
import { bytea } from './auth.js'

/**
 * The file of an outbound media message between its acceptance and its send, in pieces of at most
 * MEDIA_CHUNK_BYTES written as the upload streams in and read back as a stream by whichever node
 * sends it. Kept out of `messages` so a history read never drags megabytes along. Deleted once the
 * message is settled (sent or failed), and by retention.
 */
export const mediaChunks = pgTable(
  'media_chunks',
  {
    /** The message the file belongs to (written before the message row exists). */
    messageId: text('message_id').notNull(),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.messageId, table.seq] }),
    index('media_chunks_created_idx').on(table.createdAt),
  ],
)
