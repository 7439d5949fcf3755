/**
 * A per-session LRU of committed key values, bounded by an estimate of their bytes in memory.
 *
 * Values are kept as their serialized JSON, not as the decoded objects: Baileys mutates some values it
 * reads (e.g. pushes onto a `device-list`), and a decoded object shared with the cache would silently
 * diverge from the database. Parsing a few kilobytes per hit is far cheaper than a round trip.
 * `null` records a known-absent id, which Baileys asks for often (identity keys and LID mappings of
 * new contacts); the store's owner is the only writer (fencing), so absence stays true until it writes.
 */
export type KeyCache = {
  /** The serialized value, `null` when known absent, `undefined` when not cached. */
  read(cacheKey: string): string | null | undefined
  remember(cacheKey: string, serialized: string | null): void
  forget(cacheKey: string): void
  clear(): void
  readonly sizeBytes: number
  readonly entries: number
}

/** Rough V8 cost of a Map entry plus its key and value strings (ASCII strings take one byte a char). */
const ENTRY_OVERHEAD_BYTES = 96

export function createKeyCache(maxBytes: number): KeyCache {
  const values = new Map<string, string | null>()
  let sizeBytes = 0
  // One value larger than this would evict most of the hot set for a single read.
  const maxEntryBytes = Math.floor(maxBytes / 4)

  const costOf = (cacheKey: string, serialized: string | null) =>
    ENTRY_OVERHEAD_BYTES + cacheKey.length + (serialized?.length ?? 0)

  const forget = (cacheKey: string) => {
    const previous = values.get(cacheKey)
    if (previous === undefined) return
    values.delete(cacheKey)
    sizeBytes -= costOf(cacheKey, previous)
  }

  return {
    read(cacheKey) {
      const value = values.get(cacheKey)
      if (value === undefined) return undefined
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      values.delete(cacheKey)
      values.set(cacheKey, value)
      return value
    },
    remember(cacheKey, serialized) {
      forget(cacheKey)
      const cost = costOf(cacheKey, serialized)
      if (cost > maxEntryBytes) return
      values.set(cacheKey, serialized)
      sizeBytes += cost
      for (const [oldestKey] of values) {
        if (sizeBytes <= maxBytes) break
        forget(oldestKey)
      }
    },
    forget,
    clear() {
      values.clear()
      sizeBytes = 0
    },
    get sizeBytes() {
      return sizeBytes
    },
    get entries() {
      return values.size
    },
  }
}
