import { tenants } from '@wa-cluster/db'
import { type MessageOutcomeCounts, NotFound, ValidationFailed } from '@wa-cluster/shared'
import { eq, type SQL, sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { requireSession } from './sessions.js'

/**
 * Message statistics, read from the `message_stats` counters (one row per tenant, session and hour with
 * traffic, kept by a trigger on `messages`), never from the messages themselves. Each outbound message
 * is in exactly one of queued, sent and failed by its current status; delivered and read are the part
 * of sent that got that far.
 */
export type StatsCounts = MessageOutcomeCounts & {
  /** sent / (sent + failed): the share of settled messages that went out; null while none settled. */
  successRate: number | null
  inbound: number
  lastSuccessAt: string | null
  lastFailureAt: string | null
}

export type StatsView = StatsCounts & {
  from: string | null
  until: string | null
  timeZone: string
  /** With `groupBy=day`: one entry per local day that had traffic, oldest first. */
  days?: (StatsCounts & { date: string })[]
}

export type StatsQuery = { from?: string; until?: string; groupBy?: 'day' }

type CountsRow = {
  total: string | number | null
  queued: string | number | null
  sent: string | number | null
  delivered: string | number | null
  read: string | number | null
  failed: string | number | null
  inbound: string | number | null
  last_success_at: string | Date | null
  last_failure_at: string | Date | null
}

function countsOf(row: CountsRow | undefined): StatsCounts {
  const sent = Number(row?.sent ?? 0)
  const failed = Number(row?.failed ?? 0)
  const time = (value: string | Date | null | undefined) => (value ? new Date(value).toISOString() : null)
  return {
    total: Number(row?.total ?? 0),
    queued: Number(row?.queued ?? 0),
    sent,
    delivered: Number(row?.delivered ?? 0),
    read: Number(row?.read ?? 0),
    failed,
    successRate: sent + failed === 0 ? null : sent / (sent + failed),
    inbound: Number(row?.inbound ?? 0),
    lastSuccessAt: time(row?.last_success_at),
    lastFailureAt: time(row?.last_failure_at),
  }
}

const SUMS = sql`sum(total) AS total, sum(queued) AS queued, sum(sent) AS sent, sum(delivered) AS delivered,
  sum(read) AS read, sum(failed) AS failed, sum(inbound) AS inbound,
  max(last_success_at) AS last_success_at, max(last_failure_at) AS last_failure_at`

/** The time range as instants; ValidationFailed naming the field when `until` is not after `from`. */
function rangeOf(query: StatsQuery): { from?: Date; until?: Date } {
  const from = query.from === undefined ? undefined : new Date(query.from)
  const until = query.until === undefined ? undefined : new Date(query.until)
  if (from && Number.isNaN(from.getTime())) throw new ValidationFailed('query.from', 'is not a valid time')
  if (until && Number.isNaN(until.getTime())) throw new ValidationFailed('query.until', 'is not a valid time')
  if (from && until && until <= from) throw new ValidationFailed('query.until', 'must be after from')
  return { ...(from ? { from } : {}), ...(until ? { until } : {}) }
}

/**
 * Counts of the tenant's messages (or one session's) created in `[from, until)`, at hour resolution:
 * an hour counts when it starts before `until` and ends after `from`. `groupBy=day` adds the days of
 * `timeZone` (each hour goes to the local day it starts in: exact for zones whose offset is whole
 * hours; in a half-hour zone the half hour after local midnight counts to the day before).
 */
export async function readMessageStats({
  ctx,
  tenantId,
  sessionId,
  query,
  timeZone,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId?: string
  query: StatsQuery
  timeZone: string
}): Promise<StatsView> {
  const { from, until } = rangeOf(query)
  const conditions: SQL[] = [sql`tenant_id = ${tenantId}`]
  if (sessionId !== undefined) conditions.push(sql`session_id = ${sessionId}`)
  if (from) conditions.push(sql`hour > ${from.toISOString()}::timestamptz - interval '1 hour'`)
  if (until) conditions.push(sql`hour < ${until.toISOString()}::timestamptz`)
  const where = sql.join(conditions, sql` AND `)
  const [totals] = await ctx.database.rows<CountsRow>(sql`SELECT ${SUMS} FROM message_stats WHERE ${where}`)
  const view: StatsView = {
    ...countsOf(totals),
    from: from?.toISOString() ?? null,
    until: until?.toISOString() ?? null,
    timeZone,
  }
  if (query.groupBy !== 'day') return view
  const days = await ctx.database.rows<CountsRow & { day: string }>(sql`
    SELECT to_char((hour AT TIME ZONE ${timeZone})::date, 'YYYY-MM-DD') AS day, ${SUMS}
    FROM message_stats WHERE ${where} GROUP BY 1 ORDER BY 1`)
  return { ...view, days: days.map((row) => ({ date: row.day, ...countsOf(row) })) }
}

/** The tenant's statistics in its own time zone. */
export async function readTenantStats({
  ctx,
  tenantId,
  query,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  query: StatsQuery
}): Promise<StatsView> {
  const [tenant] = await ctx.database.db
    .select({ timeZone: tenants.timeZone })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
  if (!tenant) throw new NotFound('tenant')
  return readMessageStats({ ctx, tenantId, query, timeZone: tenant.timeZone ?? 'UTC' })
}

/** One session's statistics, in its tenant's time zone; NotFound for another tenant's session. */
export async function readSessionStats({
  ctx,
  tenantId,
  sessionId,
  query,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  query: StatsQuery
}): Promise<StatsView> {
  await requireSession(ctx, tenantId, sessionId)
  const [tenant] = await ctx.database.db
    .select({ timeZone: tenants.timeZone })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
  return readMessageStats({ ctx, tenantId, sessionId, query, timeZone: tenant?.timeZone ?? 'UTC' })
}
