/**
 * What the cluster needs from its coordination layer. Two implementations: Redis for real
 * deployments, and in-process memory for the embedded single-process default; both renew their leases
 * with one lease manager (`lease-manager.ts`). Postgres stays the system of record: losing the
 * coordinator loses leases and nudges, never data.
 */
export type Lease = {
  readonly resource: string
  /** Aborted the moment the lease is lost (renewal failed past expiry, or someone else holds it). */
  readonly signal: AbortSignal
  /** True while the lease is known to be held (renewed and not expired by our own clock). */
  isHeld(): boolean
  /** Stops renewing and gives the lease up. Idempotent. */
  release(): Promise<void>
}

export type LeaseOptions = {
  /** Lease time-to-live; renewed at most `ttlMs / 3` after the previous renewal. */
  ttlMs: number
  /**
   * Called when a renewal found the lease key gone (e.g. Redis restarted empty) and it was taken
   * again at once. Return false when the holder can no longer prove ownership (e.g. its fencing epoch
   * moved on); the lease is then released and aborted.
   */
  onReacquired?: () => Promise<boolean>
}

export type NodeHeartbeat = {
  nodeId: string
  capacity: number
  sessions: number
  status: 'active' | 'draining' | 'stopping'
  startedAt: string
  /** Set by the coordinator when the heartbeat is written. */
  at?: string
}

export type Unsubscribe = () => Promise<void>

export interface Coordinator {
  readonly kind: 'redis' | 'memory'
  /** Takes a lease and keeps it renewed until released or lost; null when someone else holds it. */
  acquireLease(resource: string, options: LeaseOptions): Promise<Lease | null>
  /**
   * Short mutual exclusion around `work` (placement of one session). Waits up to `waitMs` for the lock;
   * throws `LockBusy` otherwise. The lock is released when `work` settles.
   */
  withLock<T>(
    resource: string,
    options: { ttlMs: number; waitMs: number },
    work: () => Promise<T>,
  ): Promise<T>
  publish(channel: string, message: string): Promise<void>
  subscribe(channel: string, onMessage: (message: string) => void): Promise<Unsubscribe>
  /** Records a node as alive for `ttlMs`. */
  heartbeat(node: NodeHeartbeat, ttlMs: number): Promise<void>
  /** Removes a node's heartbeat (graceful shutdown). */
  forgetNode(nodeId: string): Promise<void>
  /** Nodes whose heartbeat has not expired. */
  liveNodes(): Promise<NodeHeartbeat[]>
  /** Fixed-window counter: `limit` hits per `windowMs` per key, shared by every process of the cluster. */
  rateLimit(key: string, limit: number, windowMs: number): Promise<{ allowed: boolean; retryAfterMs: number }>
  /** Throws when the coordinator is unreachable (readiness). */
  ping(): Promise<void>
  close(): Promise<void>
}
