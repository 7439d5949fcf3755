import type { TenantLimits, TenantStatus } from '@wa-cluster/shared'
import type { Logger } from 'pino'
import type { ControlPlaneContext } from '../context.js'

/** Who is calling: the operator (admin key) or one tenant (its API key). */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'tenant'; tenantId: string; apiKeyId: string; limits: TenantLimits; status: TenantStatus }

/** Hono variables every request carries; set by the middleware in http/. */
export type AppEnv = {
  Variables: {
    ctx: ControlPlaneContext
    requestId: string
    logger: Logger
    principal?: Principal
    /** Set once known so the request log line names the tenant and session. */
    tenantId?: string
    sessionId?: string
  }
}
