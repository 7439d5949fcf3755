import { Forbidden, type TenantLimits, TenantSuspended, Unauthorized } from '@wa-cluster/shared'
import type { Context, MiddlewareHandler } from 'hono'
import { authenticateApiKey, isAdminKey } from '../services/api-keys.js'
import { isStreamToken, verifyStreamToken } from '../services/stream-tokens.js'
import { countTenantRequest } from '../services/tenant-limits.js'
import type { AppEnv, Principal } from './env.js'

function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  return match?.[1]
}

async function resolvePrincipal(c: Context<AppEnv>): Promise<Principal> {
  const token = bearerToken(c.req.header('authorization'))
  if (!token) throw new Unauthorized('missing API key: send Authorization: Bearer <key>')
  const ctx = c.get('ctx')
  if (isAdminKey(ctx, token)) return { kind: 'admin' }
  const tenantKey = await authenticateApiKey({ ctx, presentedKey: token })
  if (!tenantKey) throw new Unauthorized('invalid or revoked API key')
  return { kind: 'tenant', ...tenantKey }
}

/** Puts the path's session id on the request so the log line carries it. */
function rememberSessionId(c: Context<AppEnv>): void {
  const sessionId = c.req.param('sessionId')
  if (sessionId) c.set('sessionId', sessionId)
}

/** Route middleware for operator endpoints (tenants, nodes, rebalance, move). */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = await resolvePrincipal(c)
  if (principal.kind !== 'admin')
    throw new Forbidden('this endpoint needs the operator (admin) key, not a tenant API key')
  c.set('principal', principal)
  rememberSessionId(c)
  const tenantId = c.req.param('tenantId')
  if (tenantId) c.set('tenantId', tenantId)
  await next()
}

/**
 * Route middleware for tenant endpoints: the tenant comes from the key, never from the request. Every
 * request counts against the tenant's `requestsPerMinute` (the admin key is never limited).
 */
export const requireTenant: MiddlewareHandler<AppEnv> = async (c, next) => {
  const principal = await resolvePrincipal(c)
  if (principal.kind !== 'tenant') {
    throw new Forbidden('the admin key cannot act as a tenant; call this endpoint with the tenant’s API key')
  }
  c.set('principal', principal)
  c.set('tenantId', principal.tenantId)
  rememberSessionId(c)
  await countTenantRequest({ ctx: c.get('ctx'), tenantId: principal.tenantId, stored: principal.limits })
  await next()
}

/**
 * Route middleware for the event streams only: a tenant API key like `requireTenant`, or a stream token
 * (`?token=`, or as the bearer). A token is never accepted anywhere else: `requireTenant` knows only
 * API keys.
 */
export const requireStreamReader: MiddlewareHandler<AppEnv> = async (c, next) => {
  const queryToken = c.req.query('token')
  const presented = queryToken ?? bearerToken(c.req.header('authorization'))
  if (queryToken === undefined && !(presented && isStreamToken(presented))) return requireTenant(c, next)
  const ctx = c.get('ctx')
  const grant = presented ? await verifyStreamToken({ ctx, token: presented }) : undefined
  if (!grant) {
    throw new Unauthorized('invalid or expired stream token: ask POST /v1/stream-tokens for a new one')
  }
  c.set('principal', {
    kind: 'tenant',
    tenantId: grant.tenantId,
    apiKeyId: grant.apiKeyId,
    limits: grant.limits,
    status: grant.status,
    // A stream only reads events: it never parses a number or groups statistics.
    defaultCountry: null,
    timeZone: null,
  })
  c.set('tenantId', grant.tenantId)
  c.set('streamGrant', { sessionId: grant.sessionId, expiresAt: grant.expiresAt })
  await countTenantRequest({ ctx, tenantId: grant.tenantId, stored: grant.limits })
  await next()
}

/** The authenticated tenant of a request that passed `requireTenant`. */
export function tenantIdOf(c: Context<AppEnv>): string {
  const principal = c.get('principal')
  if (principal?.kind !== 'tenant') throw new Forbidden('a tenant API key is required')
  return principal.tenantId
}

/**
 * The authenticated tenant of a request that sends or connects, with the limits the operator set:
 * TenantSuspended (403 `tenant_suspended`) while the operator has suspended it.
 */
export function activeTenantOf(c: Context<AppEnv>): {
  tenantId: string
  limits: TenantLimits
  /** The country numbers without a country code are read in: the tenant's, else DEFAULT_COUNTRY_CODE. */
  defaultCountry: string
} {
  const principal = c.get('principal')
  if (principal?.kind !== 'tenant') throw new Forbidden('a tenant API key is required')
  if (principal.status === 'suspended') throw new TenantSuspended()
  return {
    tenantId: principal.tenantId,
    limits: principal.limits,
    defaultCountry: principal.defaultCountry ?? c.get('ctx').config.DEFAULT_COUNTRY_CODE,
  }
}
