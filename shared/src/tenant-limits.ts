import { z } from 'zod'
import type { Config } from './config.js'

/**
 * What the operator set for one tenant (`tenants.limits`, jsonb). A missing key means the configured
 * default. The object is meant to grow: `messagesPerMinutePerSession` and `messagesPerDay` are
 * reserved here and not enforced yet.
 */
export const tenantLimitsSchema = z.object({
  /** Sessions the tenant may have. Default TENANT_MAX_SESSIONS. */
  sessions: z.number().int().positive().optional(),
  /** API requests per minute, all control-planes together. Default TENANT_REQUESTS_PER_MINUTE. */
  requestsPerMinute: z.number().int().positive().optional(),
  /** Reserved: messages per minute per session (SEND_RATE_LIMIT_PER_MINUTE applies today). */
  messagesPerMinutePerSession: z.number().int().positive().optional(),
  /** Reserved: messages per day for the whole tenant. */
  messagesPerDay: z.number().int().positive().optional(),
})
export type TenantLimits = z.infer<typeof tenantLimitsSchema>

/** The limits in force: the tenant's own, else the configured defaults. */
export type EffectiveTenantLimits = { sessions: number; requestsPerMinute: number }

export function effectiveTenantLimits(
  stored: TenantLimits,
  config: Pick<Config, 'TENANT_MAX_SESSIONS' | 'TENANT_REQUESTS_PER_MINUTE'>,
): EffectiveTenantLimits {
  return {
    sessions: stored.sessions ?? config.TENANT_MAX_SESSIONS,
    requestsPerMinute: stored.requestsPerMinute ?? config.TENANT_REQUESTS_PER_MINUTE,
  }
}
