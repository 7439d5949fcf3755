import type { DatabaseHandle } from '@wa-cluster/db'
import type { Logger } from 'pino'
import type { Coordinator } from '../coordination/coordinator.js'
import { assignSession, sessionIdsOnNode } from '../sessions/session-store.js'
import { handOverSessions } from './hand-over.js'
import { nudgeNode } from './placement.js'

/**
 * Hands every session assigned to `nodeId` over to other nodes (drain, graceful shutdown), a few at a
 * time. A session no node can take is left unassigned for the leader. Returns how many moved and how
 * many were left unassigned.
 */
export async function evacuateNode(input: {
  database: DatabaseHandle
  coordinator: Coordinator
  nodeId: string
  logger: Logger
  /** Hand-overs in flight at once (HAND_OVER_CONCURRENCY). */
  concurrency: number
}): Promise<{ moved: number; unassigned: number }> {
  const { database, coordinator, nodeId, logger } = input
  const sessionIds = await sessionIdsOnNode(database, nodeId)
  const counts = await handOverSessions({
    database,
    coordinator,
    logger,
    concurrency: input.concurrency,
    moves: sessionIds.map((sessionId) => ({ sessionId, excludeNodeIds: [nodeId] })),
    onOutcome: async (move, outcome) => {
      if (outcome !== 'unplaced') return
      await assignSession(database, move.sessionId, null, nodeId)
      await nudgeNode(coordinator, nodeId, { kind: 'reconcile', sessionId: move.sessionId })
    },
  })
  const result = { moved: counts.moved + counts['timed-out'], unassigned: counts.unplaced }
  logger.info({ nodeId, ...result }, 'node evacuated')
  return result
}
