/**
 * A stored row's `metadata` (jsonb, as the driver returns it) as the field of a `messages.update`
 * entry, or nothing when the send gave none: every event about a message carries the caller's keys, so
 * a receiver matches it to its own records without a lookup.
 */
export function metadataField(stored: unknown): { metadata?: Record<string, string> } {
  const metadata = typeof stored === 'string' ? JSON.parse(stored) : stored
  return metadata && typeof metadata === 'object' ? { metadata: metadata as Record<string, string> } : {}
}
