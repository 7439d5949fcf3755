import { findTenantSession } from '@wa-cluster/core'
import { tenants } from '@wa-cluster/db'
import {
  ACTIVE_STATES,
  type SessionState,
  type TenantLimits,
  type TenantStatus,
  TenantSuspended,
} from '@wa-cluster/shared'
import { eq } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { openClaims, type SealedTokenKind, sealClaims } from './sealed-claims.js'
import {
  type ConnectResult,
  connectResultOf,
  connectSession,
  disconnectSession,
  pairingPhoneOf,
  requireSession,
} from './sessions.js'
import { parseStoredLimits } from './tenant-limits.js'

/**
 * Link pages: a tenant hands its own customer `/link/<token>`, a page that links one session (QR or
 * pairing code) and then sends the customer back to the tenant's `returnUrl`. The token is its claims
 * sealed like a stream token (`sealed-claims.ts`, a context of its own): it names one tenant and one
 * session, expires, and carries no API key, so the page never holds one. Nothing is stored; deleting
 * the session ends every link to it.
 */

const LINK_TOKEN: SealedTokenKind = { prefix: 'wsl_', context: 'session-link:v1' }
/** Lifetime when the request names none. */
export const SESSION_LINK_DEFAULT_TTL_SECONDS = 3600

export type SessionLinkClaims = {
  tenantId: string
  sessionId: string
  /** Expiry, epoch milliseconds. */
  expiresAt: number
  returnUrl: string | null
}

export type SessionLink = { url: string; expiresAt: string }

/** What a valid link lets its bearer do: watch and connect one session of one tenant. */
export type LinkGrant = {
  token: string
  tenantId: string
  tenantName: string
  tenantStatus: TenantStatus
  tenantLimits: TenantLimits
  /** The country a pairing phone without a country code is read in. */
  tenantCountry: string
  sessionId: string
  returnUrl: string | null
  expiresAt: Date
}

/** A presented token: valid, expired (a clear "ask for a new link"), or not a link of ours. */
export type LinkResolution =
  | { status: 'valid'; grant: LinkGrant }
  | { status: 'expired' }
  | { status: 'invalid' }

/** What the link page shows: the session's QR, pairing code or state, and who asks for the link. */
export type LinkState = ConnectResult & {
  tenantName: string
  sessionName: string
  returnUrl: string | null
  linkExpiresAt: string
}

export function sealLinkToken(
  ctx: Pick<ControlPlaneContext, 'secretBox'>,
  claims: SessionLinkClaims,
): string {
  return sealClaims(ctx, LINK_TOKEN, claims)
}

/** The path of the page a token opens (the gateway prefixes its origin). */
export function linkPagePath(token: string): string {
  return `/link/${token}`
}

/** Mints a link to one of the tenant's sessions (another tenant's session, or none, is NotFound). */
export async function createSessionLink({
  ctx,
  tenantId,
  sessionId,
  origin,
  input,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  /** Where browsers reach this gateway: PUBLIC_URL, or the origin of the minting request. */
  origin: string
  input: { returnUrl?: string; ttlSeconds?: number }
}): Promise<SessionLink> {
  await requireSession(ctx, tenantId, sessionId)
  const claims: SessionLinkClaims = {
    tenantId,
    sessionId,
    expiresAt: Date.now() + (input.ttlSeconds ?? SESSION_LINK_DEFAULT_TTL_SECONDS) * 1000,
    returnUrl: input.returnUrl ?? null,
  }
  return {
    url: `${origin}${linkPagePath(sealLinkToken(ctx, claims))}`,
    expiresAt: new Date(claims.expiresAt).toISOString(),
  }
}

function isClaims(value: Record<string, unknown>): value is SessionLinkClaims {
  return (
    typeof value.tenantId === 'string' &&
    typeof value.sessionId === 'string' &&
    typeof value.expiresAt === 'number' &&
    (value.returnUrl === null || typeof value.returnUrl === 'string')
  )
}

/** Opens a presented token; a deleted session or tenant makes it invalid. */
export async function resolveSessionLink({
  ctx,
  token,
}: {
  ctx: ControlPlaneContext
  token: string
}): Promise<LinkResolution> {
  const claims = openClaims(ctx, LINK_TOKEN, token)
  if (!claims || !isClaims(claims)) return { status: 'invalid' }
  if (claims.expiresAt <= Date.now()) return { status: 'expired' }
  const [tenant] = await ctx.database.db
    .select({
      name: tenants.name,
      status: tenants.status,
      limits: tenants.limits,
      defaultCountry: tenants.defaultCountry,
    })
    .from(tenants)
    .where(eq(tenants.id, claims.tenantId))
  if (!tenant) return { status: 'invalid' }
  if (!(await findTenantSession(ctx.database, claims.tenantId, claims.sessionId)))
    return { status: 'invalid' }
  return {
    status: 'valid',
    grant: {
      token,
      tenantId: claims.tenantId,
      tenantName: tenant.name,
      tenantStatus: tenant.status,
      tenantLimits: parseStoredLimits(tenant.limits),
      tenantCountry: tenant.defaultCountry ?? ctx.config.DEFAULT_COUNTRY_CODE,
      sessionId: claims.sessionId,
      returnUrl: claims.returnUrl,
      expiresAt: new Date(claims.expiresAt),
    },
  }
}

/** The session as the link page shows it; reads only. */
export async function readLinkState({
  ctx,
  grant,
}: {
  ctx: ControlPlaneContext
  grant: LinkGrant
}): Promise<LinkState> {
  const row = await requireSession(ctx, grant.tenantId, grant.sessionId)
  return {
    ...connectResultOf(row),
    tenantName: grant.tenantName,
    sessionName: row.name,
    returnUrl: grant.returnUrl,
    linkExpiresAt: grant.expiresAt.toISOString(),
  }
}

/**
 * Connects the linked session the way `POST /v1/sessions/{id}/connect` does (the same service): a QR,
 * or with `pairingPhone` a pairing code. A socket keeps the way it was started (QR or code), so when
 * the customer switches between them while one runs, it is closed first and started the other way.
 * A suspended tenant may not connect.
 */
export async function connectLinkedSession({
  ctx,
  grant,
  pairingPhone,
}: {
  ctx: ControlPlaneContext
  grant: LinkGrant
  pairingPhone?: string
}): Promise<ConnectResult> {
  if (grant.tenantStatus === 'suspended') throw new TenantSuspended()
  const scope = { ctx, tenantId: grant.tenantId, sessionId: grant.sessionId }
  const wanted =
    pairingPhone === undefined ? null : pairingPhoneOf(pairingPhone, 'body.phone', grant.tenantCountry)
  const row = await requireSession(ctx, grant.tenantId, grant.sessionId)
  const running = row.state !== 'CONNECTED' && ACTIVE_STATES.has(row.state as SessionState)
  if (running && row.pairingPhone !== wanted) await disconnectSession(scope)
  return connectSession({
    ...scope,
    defaultCountry: grant.tenantCountry,
    input: pairingPhone === undefined ? {} : { pairingPhone },
  })
}
