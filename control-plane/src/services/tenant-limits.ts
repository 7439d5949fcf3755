import { coordinationKeys } from '@wa-cluster/core'
import { tenants } from '@wa-cluster/db'
import {
  type EffectiveTenantLimits,
  effectiveTenantLimits,
  NotFound,
  RateLimited,
  type TenantLimits,
  tenantLimitsSchema,
} from '@wa-cluster/shared'
import { eq } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'

/** The window of `requestsPerMinute`. */
const REQUEST_WINDOW_MS = 60_000

/** A stored `limits` value as the schema reads it; keys this version does not know are ignored. */
export function parseStoredLimits(stored: unknown): TenantLimits {
  const parsed = tenantLimitsSchema.safeParse(stored ?? {})
  return parsed.success ? parsed.data : {}
}

/** The limits in force for a tenant; NotFound for an unknown tenant. */
export async function readTenantLimits(
  ctx: ControlPlaneContext,
  tenantId: string,
): Promise<EffectiveTenantLimits> {
  const [row] = await ctx.database.db
    .select({ limits: tenants.limits })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
  if (!row) throw new NotFound('tenant')
  return effectiveTenantLimits(parseStoredLimits(row.limits), ctx.config)
}

/**
 * Counts one API request of the tenant against `requestsPerMinute`, in a fixed one-minute window
 * shared by every control-plane (the coordinator: Redis, or in-process in the embedded mode).
 * RateLimited past it, with the limit, its value and when the window resets.
 */
export async function countTenantRequest({
  ctx,
  tenantId,
  stored,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  stored: TenantLimits
}): Promise<void> {
  const { requestsPerMinute } = effectiveTenantLimits(stored, ctx.config)
  const result = await ctx.coordinator.rateLimit(
    coordinationKeys.rateLimit(`requests:${tenantId}`),
    requestsPerMinute,
    REQUEST_WINDOW_MS,
  )
  if (result.allowed) return
  const retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000))
  throw new RateLimited(
    retryAfterSeconds,
    `request rate limit reached: ${requestsPerMinute} requests per minute for this tenant (limits.requestsPerMinute); retry after ${retryAfterSeconds} s`,
    {
      limit: 'requestsPerMinute',
      value: requestsPerMinute,
      resetAt: new Date(Date.now() + result.retryAfterMs).toISOString(),
    },
  )
}
