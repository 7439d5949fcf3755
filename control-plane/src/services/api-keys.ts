import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { apiKeys, tenants } from '@wa-cluster/db'
import { NotFound, newId, type TenantLimits, type TenantStatus } from '@wa-cluster/shared'
import { and, desc, eq, isNull, lt } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { parseStoredLimits } from './tenant-limits.js'

/** The public shape of a key: never the secret, only the prefix an operator can recognise it by. */
export type ApiKeyView = {
  id: string
  tenantId: string
  name: string | null
  prefix: string
  createdAt: string
  revokedAt: string | null
}

type ApiKeyRow = typeof apiKeys.$inferSelect

/** `wak_` + 8 characters: enough to tell keys apart, far too little to guess the rest. */
const KEY_PREFIX_LENGTH = 12

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex')
}

/** `wak_` followed by 32 random bytes in base64url (256 bits). */
export function generateApiKey(): string {
  return `wak_${randomBytes(32).toString('base64url')}`
}

export function toApiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt?.toISOString() ?? null,
  }
}

/** Compares in constant time so response timing does not reveal how much of the admin key matched. */
export function isAdminKey(ctx: ControlPlaneContext, presentedKey: string): boolean {
  const presented = Buffer.from(hashApiKey(presentedKey), 'hex')
  const expected = Buffer.from(ctx.adminKeyHash, 'hex')
  return presented.length === expected.length && timingSafeEqual(presented, expected)
}

/** A tenant as its API key presents it: the key, the limits the operator set and its settings. */
export type AuthenticatedTenant = {
  tenantId: string
  apiKeyId: string
  limits: TenantLimits
  status: TenantStatus
  /** The tenant's own settings; null = the configured default. */
  defaultCountry: string | null
  timeZone: string | null
}

/**
 * The tenant a key belongs to, with the limits the operator set for it, or undefined for an unknown or
 * revoked key. Looked up by hash only.
 */
export async function authenticateApiKey({
  ctx,
  presentedKey,
}: {
  ctx: ControlPlaneContext
  presentedKey: string
}): Promise<AuthenticatedTenant | undefined> {
  const [row] = await ctx.database.db
    .select({
      id: apiKeys.id,
      tenantId: apiKeys.tenantId,
      limits: tenants.limits,
      status: tenants.status,
      defaultCountry: tenants.defaultCountry,
      timeZone: tenants.timeZone,
    })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(eq(apiKeys.keyHash, hashApiKey(presentedKey)), isNull(apiKeys.revokedAt)))
  return row
    ? {
        tenantId: row.tenantId,
        apiKeyId: row.id,
        limits: parseStoredLimits(row.limits),
        status: row.status,
        defaultCountry: row.defaultCountry,
        timeZone: row.timeZone,
      }
    : undefined
}

/** Values for a new key row plus the plain key, which is returned to the caller once and never stored. */
export function newApiKeyRecord(
  tenantId: string,
  name: string | null,
): { row: typeof apiKeys.$inferInsert; apiKey: string } {
  const apiKey = generateApiKey()
  return {
    apiKey,
    row: {
      id: newId('key'),
      tenantId,
      name,
      keyHash: hashApiKey(apiKey),
      prefix: apiKey.slice(0, KEY_PREFIX_LENGTH),
    },
  }
}

async function requireTenantExists(ctx: ControlPlaneContext, tenantId: string): Promise<void> {
  const [tenant] = await ctx.database.db
    .select({ id: tenants.id })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
  if (!tenant) throw new NotFound('tenant')
}

export async function createApiKey({
  ctx,
  tenantId,
  input,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  input: { name?: string }
}): Promise<ApiKeyView & { apiKey: string }> {
  await requireTenantExists(ctx, tenantId)
  const { row, apiKey } = newApiKeyRecord(tenantId, input.name ?? null)
  const [inserted] = await ctx.database.db.insert(apiKeys).values(row).returning()
  return { ...toApiKeyView(inserted!), apiKey }
}

/** One page of the tenant's keys, newest first, after the cursor `after`. */
export async function listApiKeys({
  ctx,
  tenantId,
  page,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  page: { after?: string; limit: number }
}): Promise<{ data: ApiKeyView[]; nextCursor: string | null }> {
  await requireTenantExists(ctx, tenantId)
  const rows = await ctx.database.db
    .select()
    .from(apiKeys)
    .where(
      page.after === undefined
        ? eq(apiKeys.tenantId, tenantId)
        : and(eq(apiKeys.tenantId, tenantId), lt(apiKeys.id, page.after)),
    )
    .orderBy(desc(apiKeys.id))
    .limit(page.limit + 1)
  const data = rows.slice(0, page.limit).map(toApiKeyView)
  return { data, nextCursor: rows.length > page.limit ? (data.at(-1)?.id ?? null) : null }
}

/** Revokes a key; it answers 401 from the next request on. Revoking twice is harmless. */
export async function revokeApiKey({
  ctx,
  tenantId,
  apiKeyId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  apiKeyId: string
}): Promise<ApiKeyView> {
  const [existing] = await ctx.database.db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.id, apiKeyId), eq(apiKeys.tenantId, tenantId)))
  if (!existing) throw new NotFound('API key')
  if (existing.revokedAt) return toApiKeyView(existing)
  const [revoked] = await ctx.database.db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(eq(apiKeys.id, apiKeyId))
    .returning()
  return toApiKeyView(revoked!)
}
