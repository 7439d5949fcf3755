import { countTenantSessions, listTenantSessions } from '@wa-cluster/core'
import { apiKeys, tenants, textArray } from '@wa-cluster/db'
import {
  countryOfSetting,
  type EffectiveTenantLimits,
  effectiveTenantLimits,
  NotFound,
  newId,
  type TenantStatus,
} from '@wa-cluster/shared'
import { desc, eq, lt, sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { newApiKeyRecord } from './api-keys.js'
import { deleteSession } from './sessions.js'
import { parseStoredLimits } from './tenant-limits.js'

/** `limits` are the ones in force: the tenant's own where the operator set one, else the defaults. */
export type TenantView = {
  id: string
  name: string
  status: TenantStatus
  limits: EffectiveTenantLimits
  /** Days message bodies are kept before the retention job deletes them. */
  retentionDays: number
  /** The tenant's own or DEFAULT_COUNTRY_CODE's country (ISO 3166 alpha-2). */
  defaultCountry: string
  /** The tenant's own or UTC. */
  timeZone: string
  createdAt: string
}
export type TenantDetailView = TenantView & { usage: { sessions: number } }

/** A PATCH of limits: a number sets the tenant's own value, null goes back to the default. */
export type TenantLimitsPatch = {
  sessions?: number | null
  requestsPerMinute?: number | null
  messagesPerMinutePerSession?: number | null
  messagesPerDay?: number | null
}

type TenantRow = typeof tenants.$inferSelect

function toTenantView(ctx: ControlPlaneContext, row: TenantRow): TenantView {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    limits: effectiveTenantLimits(parseStoredLimits(row.limits), ctx.config),
    retentionDays: row.retentionDays,
    defaultCountry: row.defaultCountry ?? ctx.config.DEFAULT_COUNTRY_CODE,
    timeZone: row.timeZone ?? 'UTC',
    createdAt: row.createdAt.toISOString(),
  }
}

/** Creates the tenant with its first API key in one transaction; the plain key is returned once. */
export async function createTenant({
  ctx,
  input,
}: {
  ctx: ControlPlaneContext
  input: { name: string }
}): Promise<TenantView & { apiKey: string }> {
  const tenantId = newId('ten')
  const { row: keyRow, apiKey } = newApiKeyRecord(tenantId, 'default')
  const tenant = await ctx.database.db.transaction(async (tx) => {
    const [inserted] = await tx.insert(tenants).values({ id: tenantId, name: input.name }).returning()
    await tx.insert(apiKeys).values(keyRow)
    return inserted!
  })
  return { ...toTenantView(ctx, tenant), apiKey }
}

/** One page of tenants, newest first, after the cursor `after`. */
export async function listTenants({
  ctx,
  page,
}: {
  ctx: ControlPlaneContext
  page: { after?: string; limit: number }
}): Promise<{ data: TenantView[]; nextCursor: string | null }> {
  const rows = await ctx.database.db
    .select()
    .from(tenants)
    .where(page.after === undefined ? undefined : lt(tenants.id, page.after))
    .orderBy(desc(tenants.id))
    .limit(page.limit + 1)
  const data = rows.slice(0, page.limit).map((row) => toTenantView(ctx, row))
  return { data, nextCursor: rows.length > page.limit ? (data.at(-1)?.id ?? null) : null }
}

/** The tenant with its limits and what it uses of them. */
export async function getTenant({
  ctx,
  tenantId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
}): Promise<TenantDetailView> {
  const [row] = await ctx.database.db.select().from(tenants).where(eq(tenants.id, tenantId))
  if (!row) throw new NotFound('tenant')
  return { ...toTenantView(ctx, row), usage: { sessions: await countTenantSessions(ctx.database, tenantId) } }
}

/**
 * Operator: changes the named limits of a tenant and leaves the others (and keys this version does
 * not know) as they are. Lowering `sessions` below what the tenant has deletes nothing: it only stops
 * new sessions. `status: "suspended"` stops its sends and connects (403) and holds its broadcasts;
 * its sessions and their credentials stay. `retentionDays` applies from the retention job's next pass.
 */
export async function updateTenant({
  ctx,
  tenantId,
  input,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  input: {
    limits?: TenantLimitsPatch
    status?: TenantStatus
    retentionDays?: number
    /** ISO country or calling code (stored as the ISO country); null clears it. */
    defaultCountry?: string | null
    /** IANA zone; null clears it. */
    timeZone?: string | null
  }
}): Promise<TenantDetailView> {
  const entries = Object.entries(input.limits ?? {})
  const set = Object.fromEntries(entries.filter(([, value]) => value !== null))
  const cleared = entries.filter(([, value]) => value === null).map(([key]) => key)
  const country =
    input.defaultCountry === undefined || input.defaultCountry === null
      ? null
      : (countryOfSetting(input.defaultCountry) ?? null)
  const updated = await ctx.database.rows<{ id: string }>(sql`
    UPDATE tenants SET limits = (limits - ${textArray(cleared)}) || ${JSON.stringify(set)}::jsonb,
      status = COALESCE(${input.status ?? null}, status),
      retention_days = COALESCE(${input.retentionDays ?? null}::int, retention_days),
      default_country = CASE WHEN ${input.defaultCountry !== undefined} THEN ${country} ELSE default_country END,
      time_zone = CASE WHEN ${input.timeZone !== undefined} THEN ${input.timeZone ?? null} ELSE time_zone END
    WHERE id = ${tenantId} RETURNING id`)
  if (updated.length === 0) throw new NotFound('tenant')
  return getTenant({ ctx, tenantId })
}

/**
 * Deletes the tenant and everything it owns. Sessions go first through `deleteSession` so live sockets
 * are logged out on the phone and credentials wiped; the rest (keys, webhook, events) cascades.
 */
export async function deleteTenant({
  ctx,
  tenantId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
}): Promise<void> {
  await getTenant({ ctx, tenantId })
  const owned = await listTenantSessions(ctx.database, tenantId)
  for (const session of owned) {
    await deleteSession({ ctx, tenantId, sessionId: session.id }).catch((error: unknown) => {
      // A session already gone (deleted concurrently) must not stop the tenant's deletion.
      if (!(error instanceof NotFound)) throw error
    })
  }
  await ctx.database.db.delete(tenants).where(eq(tenants.id, tenantId))
}
