/**
 * Every coordination key and channel name is built here, so the whole namespace can be read in one
 * place. Names are logical; the Redis coordinator prefixes them with its namespace (REDIS_KEY_PREFIX).
 */
export const coordinationKeys = {
  sessionLease: (sessionId: string) => `lease:session:${sessionId}`,
  placementLock: (sessionId: string) => `lock:place:${sessionId}`,
  leaderLease: () => 'lease:leader',
  node: (nodeId: string) => `node:${nodeId}`,
  nodeSet: () => 'nodes',
  /** Nudges for one node: `{kind, sessionId}` JSON. */
  nodeChannel: (nodeId: string) => `chan:node:${nodeId}`,
  /** Every session state change, for control-planes waiting on a QR or a state. */
  sessionChangesChannel: () => 'chan:sessions',
  /** Requests to run a command on a session's live connection, for the node that owns it. */
  nodeCommandChannel: (nodeId: string) => `chan:commands:${nodeId}`,
  /** Replies to one process's session commands (`session-commands.ts`). */
  commandReplyChannel: (processId: string) => `chan:replies:${processId}`,
  rateLimit: (name: string) => `rate:${name}`,
  /** A tenant's `messagesPerDay` window: single sends (API) and broadcast sends (owners) count here. */
  dailySends: (tenantId: string) => `rate:day:${tenantId}`,
}
