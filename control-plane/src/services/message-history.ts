import { contacts, messages } from '@wa-cluster/db'
import { normalizeRecipient, type StoredMessageStatus, ValidationFailed } from '@wa-cluster/shared'
import { and, desc, eq, gte, inArray, lt, type SQL, sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { type MessageView, toMessageView } from './messages.js'
import { requireSession } from './sessions.js'

// The message history: a tenant's inbound and outbound messages, newest first, filtered.

export type MessageHistoryFilters = {
  direction?: 'in' | 'out'
  status?: StoredMessageStatus
  type?: string
  /** A number in any format or a JID, as the client wrote it (normalised here). */
  chatId?: string
  from?: string
  until?: string
  /** `metadata.<key>=<value>` pairs: every one must match. */
  metadata?: Record<string, string>
}

export type MessageHistoryPage = { data: MessageView[]; nextCursor: string | null }

/** How many `metadata.<key>` filters one request may combine, and their sizes. */
const MAX_METADATA_FILTERS = 16
const METADATA_KEY = /^[A-Za-z0-9_.-]{1,64}$/
const MAX_METADATA_VALUE_BYTES = 512

/**
 * The `metadata.<key>=<value>` filters of a raw query string, or the field that is wrong. A key given
 * twice is refused (which value was meant?).
 */
export function metadataFiltersOf(query: Record<string, string[]>): Record<string, string> {
  const filters: Record<string, string> = {}
  for (const [name, values] of Object.entries(query)) {
    if (!name.startsWith('metadata.')) continue
    const key = name.slice('metadata.'.length)
    const field = `query.${name}`
    if (!METADATA_KEY.test(key))
      throw new ValidationFailed(field, 'must name a key of 1-64 letters, digits, _ . or -')
    if (values.length !== 1) throw new ValidationFailed(field, 'must be given once')
    const value = values[0]!
    if (Buffer.byteLength(value) > MAX_METADATA_VALUE_BYTES)
      throw new ValidationFailed(field, `must be at most ${MAX_METADATA_VALUE_BYTES} bytes`)
    filters[key] = value
  }
  if (Object.keys(filters).length > MAX_METADATA_FILTERS)
    throw new ValidationFailed('query.metadata', `may combine at most ${MAX_METADATA_FILTERS} keys`)
  return filters
}

/**
 * The JIDs a chat is stored under: the normalised number or JID, plus the other form of the same
 * person when the LID↔phone mapping is known (a chat received before the mapping keeps its LID).
 */
export async function chatJidsOf(
  ctx: ControlPlaneContext,
  tenantId: string,
  input: string,
  field: string,
): Promise<string[]> {
  const recipient = normalizeRecipient(input, ctx.config.DEFAULT_COUNTRY_CODE)
  if (!recipient.ok) throw new ValidationFailed(field, recipient.reason)
  const jid = recipient.jid
  if (jid.endsWith('@g.us')) return [jid]
  const mapped = await ctx.database.db
    .selectDistinct({ jid: contacts.jid, lid: contacts.lid })
    .from(contacts)
    .where(
      and(
        eq(contacts.tenantId, tenantId),
        jid.endsWith('@lid') ? eq(contacts.lid, jid) : eq(contacts.jid, jid),
      ),
    )
  const jids = new Set([jid])
  for (const row of mapped) {
    jids.add(row.jid)
    if (row.lid) jids.add(row.lid)
  }
  return [...jids]
}

function timeOf(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined
  const at = Date.parse(value)
  if (Number.isNaN(at)) throw new ValidationFailed(field, 'is not a valid time')
  return new Date(at)
}

/**
 * A page of the tenant's messages (one session's when `sessionId` is given), newest first: ids are
 * time-sortable, so `after` (the last id of the previous page) is a stable cursor that new messages
 * never shift. Filters are ANDed.
 */
export async function listMessageHistory({
  ctx,
  tenantId,
  sessionId,
  filters,
  page,
  chatField = 'query.chatId',
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId?: string
  filters: MessageHistoryFilters
  page: { after?: string; limit: number }
  /** Where the chat came from, for the error naming it (the query or the path). */
  chatField?: string
}): Promise<MessageHistoryPage> {
  if (sessionId !== undefined) await requireSession(ctx, tenantId, sessionId)
  const from = timeOf(filters.from, 'query.from')
  const until = timeOf(filters.until, 'query.until')
  if (from && until && from >= until) throw new ValidationFailed('query.until', 'must be after query.from')
  const conditions: (SQL | undefined)[] = [eq(messages.tenantId, tenantId)]
  if (sessionId !== undefined) conditions.push(eq(messages.sessionId, sessionId))
  if (page.after !== undefined) conditions.push(lt(messages.id, page.after))
  if (filters.direction) conditions.push(eq(messages.direction, filters.direction))
  if (filters.status) conditions.push(eq(messages.status, filters.status))
  if (filters.type) conditions.push(eq(messages.type, filters.type))
  if (filters.chatId !== undefined)
    conditions.push(inArray(messages.chatId, await chatJidsOf(ctx, tenantId, filters.chatId, chatField)))
  if (from) conditions.push(gte(messages.createdAt, from))
  if (until) conditions.push(lt(messages.createdAt, until))
  if (filters.metadata && Object.keys(filters.metadata).length > 0)
    conditions.push(sql`${messages.metadata} @> ${JSON.stringify(filters.metadata)}::jsonb`)
  const rows = await ctx.database.db
    .select()
    .from(messages)
    .where(and(...conditions))
    .orderBy(desc(messages.id))
    .limit(page.limit + 1)
  const shown = rows.slice(0, page.limit)
  return {
    data: shown.map(toMessageView),
    nextCursor: rows.length > page.limit ? (shown.at(-1)?.id ?? null) : null,
  }
}
