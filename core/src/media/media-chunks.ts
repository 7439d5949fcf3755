import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { type DatabaseHandle, mediaChunks } from '@wa-cluster/db'
import { and, eq, lt, sql } from 'drizzle-orm'

/** The size of one stored piece of an outbound file: small enough to hold a few per send in memory. */
export const MEDIA_CHUNK_BYTES = 256 * 1024

/** What storing a file learnt about it on the way. */
export type StoredMediaFile = {
  size: number
  /** Hex SHA-256 of the whole file. */
  sha256: string
  /** Its first bytes, for sniffing its type. */
  head: Buffer
}

/** The file went past the limit while streaming in: nothing of it is kept. */
export class MediaTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the file is larger than ${limit} bytes`)
    this.name = 'MediaTooLarge'
  }
}

/**
 * Stores a file for message `messageId` as it streams in, one MEDIA_CHUNK_BYTES piece at a time, so a
 * request never holds more than a piece. Past `limit` bytes it stops reading, deletes what it wrote and
 * throws MediaTooLarge; any other failure deletes what it wrote too.
 */
export async function writeMediaChunks(
  database: DatabaseHandle,
  messageId: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  limit: number,
): Promise<StoredMediaFile> {
  const hash = createHash('sha256')
  let head = Buffer.alloc(0)
  const pending: Buffer[] = []
  let pendingBytes = 0
  let size = 0
  let seq = 0
  /** The next `count` pending bytes, as one buffer (copied only when they span several chunks). */
  const take = (count: number): Buffer => {
    const parts: Buffer[] = []
    let taken = 0
    while (taken < count) {
      const first = pending[0]!
      const part = first.subarray(0, count - taken)
      parts.push(part)
      taken += part.length
      if (part.length === first.length) pending.shift()
      else pending[0] = first.subarray(part.length)
    }
    pendingBytes -= taken
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, taken)
  }
  /** Writes whole pieces while there are, and the rest too at the end. */
  const flush = async (final: boolean) => {
    while (pendingBytes >= MEDIA_CHUNK_BYTES || (final && pendingBytes > 0)) {
      const data = take(Math.min(MEDIA_CHUNK_BYTES, pendingBytes))
      await database.db.insert(mediaChunks).values({ messageId, seq: seq++, data })
    }
  }
  try {
    for await (const chunk of source) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      size += bytes.length
      if (size > limit) throw new MediaTooLarge(limit)
      hash.update(bytes)
      if (head.length < 64) head = Buffer.concat([head, bytes.subarray(0, 64 - head.length)])
      pending.push(bytes)
      pendingBytes += bytes.length
      await flush(false)
    }
    await flush(true)
  } catch (error) {
    await deleteMediaChunks(database, messageId).catch(() => {})
    throw error
  }
  return { size, sha256: hash.digest('hex'), head }
}

/** The stored file of `messageId` as a stream, read one piece at a time as the consumer pulls. */
export function readMediaChunks(database: DatabaseHandle, messageId: string): Readable {
  let next = 0
  let found = false
  return new Readable({
    highWaterMark: 1,
    objectMode: false,
    async read() {
      try {
        const [row] = await database.db
          .select({ data: mediaChunks.data })
          .from(mediaChunks)
          .where(and(eq(mediaChunks.messageId, messageId), eq(mediaChunks.seq, next)))
        next++
        if (!row) {
          if (!found) this.destroy(new Error(`the file of message ${messageId} is no longer stored`))
          else this.push(null)
          return
        }
        found = true
        this.push(Buffer.from(row.data))
      } catch (error) {
        this.destroy(error as Error)
      }
    },
  })
}

/** True when a file is stored for `messageId`. */
export async function mediaChunksExist(database: DatabaseHandle, messageId: string): Promise<boolean> {
  const [row] = await database.db
    .select({ seq: mediaChunks.seq })
    .from(mediaChunks)
    .where(eq(mediaChunks.messageId, messageId))
    .limit(1)
  return !!row
}

export async function deleteMediaChunks(database: DatabaseHandle, messageId: string): Promise<void> {
  await database.db.delete(mediaChunks).where(eq(mediaChunks.messageId, messageId))
}

/** Deletes the files a broadcast stored once for its recipients (`<broadcast id>/<n>`). */
export async function deleteBroadcastMediaChunks(
  database: DatabaseHandle,
  broadcastId: string,
): Promise<void> {
  await database.db.delete(mediaChunks).where(broadcastFileOf(broadcastId))
}

/**
 * Deletes a broadcast's files once it has ended (completed or cancelled) and none of its rows is still
 * being sent (a send under way when it was cancelled completes; the retention sweep takes what is left).
 */
export async function deleteEndedBroadcastMediaChunks(
  database: DatabaseHandle,
  broadcastId: string,
): Promise<void> {
  await database.db
    .delete(mediaChunks)
    .where(
      and(
        broadcastFileOf(broadcastId),
        sql`NOT EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = ${broadcastId} AND b.status IN ('scheduled', 'running', 'paused'))`,
        sql`NOT EXISTS (SELECT 1 FROM messages m WHERE m.broadcast_id = ${broadcastId} AND m.status = 'sending')`,
      ),
    )
}

function broadcastFileOf(broadcastId: string) {
  return sql`starts_with(${mediaChunks.messageId}, ${`${broadcastId}/`})`
}

/**
 * Deletes files older than `olderThanMs` whose message is no longer waiting to be sent (settled,
 * deleted by retention, or never stored because its request failed half-way), and broadcast files
 * whose broadcast has ended (or was never stored). Returns how many pieces.
 */
export async function deleteSettledMediaChunks(
  database: DatabaseHandle,
  olderThanMs: number,
): Promise<number> {
  const deleted = await database.db
    .delete(mediaChunks)
    .where(
      and(
        lt(mediaChunks.createdAt, new Date(Date.now() - olderThanMs)),
        sql`NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = ${mediaChunks.messageId} AND m.status IN ('queued', 'sending'))`,
        sql`NOT EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = split_part(${mediaChunks.messageId}, '/', 1) AND b.status IN ('scheduled', 'running', 'paused'))`,
      ),
    )
    .returning({ seq: mediaChunks.seq })
  return deleted.length
}
