import {
  type Coordinator,
  coordinationKeys,
  failStaleQueuedSends,
  type Lease,
  markNodesDead,
  orphanedSessionIds,
  placeSession,
  recordOwnerLost,
  runningNodes,
} from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import { type Config, PlacementInProgress } from '@wa-cluster/shared'
import type { Logger } from 'pino'

export type FailoverLeader = {
  start(): Promise<void>
  stop(): Promise<void>
  isLeader(): boolean
  /** One pass of dead-node detection and re-placement (exposed for tests and the timer). */
  tick(): Promise<void>
}

const TICK_MS = 1_000
/** How often the leader looks for queued messages that waited too long on a session that is not connected. */
const STALE_SEND_SWEEP_MS = 10_000
const STALE_SEND_BATCH = 500

/**
 * One control-plane at a time (elected by a lease) finds dead nodes and re-places their sessions,
 * plus sessions that want a node and have none. Paced to `FAILOVER_RATE_PER_SECOND` so that a thousand
 * sessions never reconnect in the same second.
 */
export function createFailoverLeader(deps: {
  database: DatabaseHandle
  coordinator: Coordinator
  logger: Logger
  config: Pick<
    Config,
    'NODE_TTL_MS' | 'HEARTBEAT_INTERVAL_MS' | 'FAILOVER_RATE_PER_SECOND' | 'QUEUED_SEND_TIMEOUT_MS'
  >
}): FailoverLeader {
  const { database, coordinator, config } = deps
  const logger = deps.logger.child({ component: 'failover-leader' })
  let lease: Lease | undefined
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  /** When this leader first noticed each node missing; a Redis restart must not look like a dead fleet. */
  const missingSince = new Map<string, number>()
  let lastSweepAt = 0

  async function tick(): Promise<void> {
    if (!lease?.isHeld()) {
      lease =
        (await coordinator.acquireLease(coordinationKeys.leaderLease(), {
          ttlMs: Math.max(3_000, config.NODE_TTL_MS),
        })) ?? undefined
      if (!lease) return
      missingSince.clear()
      logger.info('became failover leader')
    }
    const live = new Set((await coordinator.liveNodes()).map((node) => node.nodeId))
    const registered = await runningNodes(database)
    const now = Date.now()
    const patience = Math.max(config.NODE_TTL_MS, 2 * config.HEARTBEAT_INTERVAL_MS)
    const dead: string[] = []
    for (const { id, heartbeatAgeMs } of registered) {
      if (live.has(id)) {
        missingSince.delete(id)
        continue
      }
      const since = missingSince.get(id) ?? now
      missingSince.set(id, since)
      // The Redis heartbeat expired after NODE_TTL. A node whose Postgres heartbeat is as old is dead now;
      // one that still beats into Postgres (Redis restarted empty, or the node cannot reach Redis) gets a
      // full NODE_TTL of this leader's own watching, so a Redis restart is not mistaken for a dead fleet.
      if (heartbeatAgeMs >= patience || now - since >= patience) dead.push(id)
    }
    if (dead.length > 0) {
      await markNodesDead(database, dead)
      logger.warn({ deadNodes: dead }, 'nodes stopped heartbeating; re-placing their sessions')
    }
    const orphans = await orphanedSessionIds(database, config.FAILOVER_RATE_PER_SECOND)
    let placed = 0
    for (const id of orphans) {
      await recordOwnerLost(database, id, 'node lost').catch((error: unknown) =>
        logger.warn({ sessionId: id, err: (error as Error).message }, 'could not record the lost owner'),
      )
      const nodeId = await placeSession({ database, coordinator, sessionId: id }).catch((error: unknown) => {
        // Another control-plane placing it is what we want anyway; anything else is worth a look.
        const level = error instanceof PlacementInProgress ? 'debug' : 'warn'
        logger[level]({ sessionId: id, err: (error as Error).message }, 'could not re-place a session')
        return null
      })
      if (nodeId) placed++
    }
    if (orphans.length > 0) logger.info({ orphans: orphans.length, placed }, 're-placed sessions')
    if (now - lastSweepAt >= STALE_SEND_SWEEP_MS) {
      lastSweepAt = now
      const failed = await failStaleQueuedSends(database, {
        olderThanMs: config.QUEUED_SEND_TIMEOUT_MS,
        limit: STALE_SEND_BATCH,
      })
      if (failed > 0)
        logger.warn(
          { failed, olderThanMs: config.QUEUED_SEND_TIMEOUT_MS },
          'failed queued messages whose session did not connect in time',
        )
    }
  }

  return {
    isLeader: () => !!lease?.isHeld(),
    tick,
    async start() {
      if (timer) return
      timer = setInterval(() => {
        if (running) return
        running = tick()
          .catch((error) => logger.warn({ err: (error as Error).message }, 'failover tick failed'))
          .finally(() => {
            running = undefined
          })
      }, TICK_MS)
      timer.unref()
    },
    async stop() {
      clearInterval(timer)
      timer = undefined
      await running
      await lease?.release()
      lease = undefined
    },
  }
}
