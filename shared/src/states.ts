/** Every state a session can be in. The names are part of the public contract (API and webhooks). */
export const SESSION_STATES = [
  'DISCONNECTED',
  'CONNECTING',
  'QR_READY',
  'PAIRING',
  'CONNECTED',
  'RECONNECTING',
  'LOGGED_OUT',
  'EXPIRED',
  'FAILED',
] as const
export type SessionState = (typeof SESSION_STATES)[number]

/**
 * What the tenant asked for; the owning node reconciles the live socket towards it.
 * `logged_out`: unlink the device and wipe credentials, then rest.
 */
export const DESIRED_STATES = ['connected', 'disconnected', 'logged_out'] as const
export type DesiredState = (typeof DESIRED_STATES)[number]

/** States in which a node holds (or is opening) a socket for the session. */
export const ACTIVE_STATES: ReadonlySet<SessionState> = new Set([
  'CONNECTING',
  'QR_READY',
  'PAIRING',
  'CONNECTED',
  'RECONNECTING',
])

/** States from which the session can only leave through a new `connect`. */
export const RESTING_STATES: ReadonlySet<SessionState> = new Set([
  'DISCONNECTED',
  'LOGGED_OUT',
  'EXPIRED',
  'FAILED',
])

/**
 * A session-node's registered status. `dead`: no heartbeat (set by the failover leader);
 * `stopped`: left gracefully.
 */
export const NODE_STATUSES = ['active', 'draining', 'stopping', 'stopped', 'dead'] as const
export type NodeStatus = (typeof NODE_STATUSES)[number]

/** Whether a tenant may send and connect: the operator suspends a tenant (an expired subscription). */
export const TENANT_STATUSES = ['active', 'suspended'] as const
export type TenantStatus = (typeof TENANT_STATUSES)[number]
