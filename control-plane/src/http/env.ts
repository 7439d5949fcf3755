import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { WebSocket } from 'ws'
import type { ControlPlaneContext } from '../context.js'
import type { AuthenticatedTenant } from '../services/api-keys.js'

/** Who is calling: the operator (admin key) or one tenant (its API key). */
export type Principal = { kind: 'admin' } | ({ kind: 'tenant' } & AuthenticatedTenant)

/** What a stream token allows, when a stream was opened with one. */
export type StreamGrantScope = { sessionId: string | null; expiresAt: Date }

/**
 * Set on `c.env` by the WebSocket upgrade handler (streams/websocket.ts) when a request arrives as an
 * upgrade: the route accepts it by setting `accept`. Plain HTTP requests have no such binding.
 */
export type WebSocketUpgradeBinding = { accept?: (socket: WebSocket) => void }

/** Hono variables every request carries; set by the middleware in http/. */
export type AppEnv = {
  /** `incoming`/`outgoing` are set by @hono/node-server; `wsUpgrade` by the WebSocket upgrade handler. */
  Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse; wsUpgrade?: WebSocketUpgradeBinding }
  Variables: {
    ctx: ControlPlaneContext
    requestId: string
    logger: Logger
    principal?: Principal
    /** Set once known so the request log line names the tenant and session. */
    tenantId?: string
    sessionId?: string
    /** Set when an event stream was opened with a stream token. */
    streamGrant?: StreamGrantScope
  }
}
