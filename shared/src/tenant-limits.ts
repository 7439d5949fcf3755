import { z } from 'zod'
import type { Config } from './config.js'

/**
 * What the operator set for one tenant (`tenants.limits`, jsonb). A missing key means the configured
 * default (or, for `messagesPerDay`, no quota).
 */
export const tenantLimitsSchema = z.object({
  /** Sessions the tenant may have. Default TENANT_MAX_SESSIONS. */
  sessions: z.number().int().positive().optional(),
  /** API requests per minute, all control-planes together. Default TENANT_REQUESTS_PER_MINUTE. */
  requestsPerMinute: z.number().int().positive().optional(),
  /**
   * Sends per minute per session, all control-planes together. Default SEND_RATE_LIMIT_PER_MINUTE.
   * A broadcast waits for it: its pace is stretched to 60 s / this.
   */
  messagesPerMinutePerSession: z.number().int().positive().optional(),
  /**
   * Messages per day for the whole tenant (a 24 h window from the first counted send), single sends
   * and broadcasts together; a broadcast waits for the window instead of failing. Default: no quota.
   */
  messagesPerDay: z.number().int().positive().optional(),
})
export type TenantLimits = z.infer<typeof tenantLimitsSchema>

/** The limits in force: the tenant's own, else the configured defaults. */
export type EffectiveTenantLimits = {
  sessions: number
  requestsPerMinute: number
  messagesPerMinutePerSession: number
  /** null: no daily quota. */
  messagesPerDay: number | null
}

export function effectiveTenantLimits(
  stored: TenantLimits,
  config: Pick<Config, 'TENANT_MAX_SESSIONS' | 'TENANT_REQUESTS_PER_MINUTE' | 'SEND_RATE_LIMIT_PER_MINUTE'>,
): EffectiveTenantLimits {
  return {
    sessions: stored.sessions ?? config.TENANT_MAX_SESSIONS,
    requestsPerMinute: stored.requestsPerMinute ?? config.TENANT_REQUESTS_PER_MINUTE,
    messagesPerMinutePerSession: stored.messagesPerMinutePerSession ?? config.SEND_RATE_LIMIT_PER_MINUTE,
    messagesPerDay: stored.messagesPerDay ?? null,
  }
}
