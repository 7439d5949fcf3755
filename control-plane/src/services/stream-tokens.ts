import { apiKeys, tenants } from '@wa-cluster/db'
import type { TenantLimits, TenantStatus } from '@wa-cluster/shared'
import { and, eq, isNull } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { openClaims, type SealedTokenKind, sealClaims } from './sealed-claims.js'
import { getSession } from './sessions.js'
import { parseStoredLimits } from './tenant-limits.js'

/**
 * Stream tokens: what a browser puts in `?token=` because EventSource cannot send an Authorization
 * header. A token is its claims sealed with the secret box (`sealed-claims.ts`), so nothing is stored.
 * It opens the event streams of one tenant (optionally one session) until it expires, and nothing
 * else: the bearer check of every other endpoint only knows API keys. Revoking the key that minted it
 * ends its use at the next connection.
 */

export const STREAM_TOKEN_PREFIX = 'wst_'
const STREAM_TOKEN: SealedTokenKind = { prefix: STREAM_TOKEN_PREFIX, context: 'stream-token:v1' }
/** Lifetime when the request names none, and the longest one a request may ask for. */
export const STREAM_TOKEN_DEFAULT_TTL_SECONDS = 300
export const STREAM_TOKEN_MAX_TTL_SECONDS = 3600

type StreamTokenClaims = {
  tenantId: string
  apiKeyId: string
  sessionId: string | null
  /** Expiry, epoch milliseconds. */
  expiresAt: number
}

export type StreamToken = { token: string; sessionId: string | null; expiresAt: string }

/** What a valid token lets its bearer read, and who it counts against. */
export type StreamGrant = {
  tenantId: string
  apiKeyId: string
  limits: TenantLimits
  status: TenantStatus
  sessionId: string | null
  expiresAt: Date
}

/** Mints a token for the calling tenant's key. A session of another tenant (or none) is NotFound. */
export async function createStreamToken({
  ctx,
  tenantId,
  apiKeyId,
  input,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  apiKeyId: string
  input: { sessionId?: string; ttlSeconds?: number }
}): Promise<StreamToken> {
  if (input.sessionId !== undefined) await getSession({ ctx, tenantId, sessionId: input.sessionId })
  const ttlSeconds = input.ttlSeconds ?? STREAM_TOKEN_DEFAULT_TTL_SECONDS
  const claims: StreamTokenClaims = {
    tenantId,
    apiKeyId,
    sessionId: input.sessionId ?? null,
    expiresAt: Date.now() + ttlSeconds * 1000,
  }
  return {
    token: sealClaims(ctx, STREAM_TOKEN, claims),
    sessionId: claims.sessionId,
    expiresAt: new Date(claims.expiresAt).toISOString(),
  }
}

export function isStreamToken(value: string): boolean {
  return value.startsWith(STREAM_TOKEN_PREFIX)
}

/**
 * The grant of a presented token, or undefined when it is malformed, forged, expired, or its key was
 * revoked (or its tenant deleted) since.
 */
export async function verifyStreamToken({
  ctx,
  token,
}: {
  ctx: ControlPlaneContext
  token: string
}): Promise<StreamGrant | undefined> {
  if (token.length > 2048) return undefined
  const claims = openClaims(ctx, STREAM_TOKEN, token) as StreamTokenClaims | undefined
  if (!claims) return undefined
  if (typeof claims.expiresAt !== 'number' || claims.expiresAt <= Date.now()) return undefined
  const [row] = await ctx.database.db
    .select({ limits: tenants.limits, status: tenants.status })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(
      and(eq(apiKeys.id, claims.apiKeyId), eq(apiKeys.tenantId, claims.tenantId), isNull(apiKeys.revokedAt)),
    )
  if (!row) return undefined
  return {
    tenantId: claims.tenantId,
    apiKeyId: claims.apiKeyId,
    limits: parseStoredLimits(row.limits),
    status: row.status,
    sessionId: claims.sessionId,
    expiresAt: new Date(claims.expiresAt),
  }
}
