import { setTimeout as sleep } from 'node:timers/promises'
import type { DatabaseHandle } from '@wa-cluster/db'
import type { Logger } from 'pino'
import type { Coordinator } from '../coordination/coordinator.js'
import { readPlacement } from '../sessions/session-store.js'
import { placeSession } from './placement.js'

export type HandOver = {
  sessionId: string
  /** Move to this node; otherwise the least loaded node except `excludeNodeIds`. */
  targetNodeId?: string
  excludeNodeIds?: string[]
}

export type HandOverOutcome = 'moved' | 'unplaced' | 'timed-out'

const HAND_OVER_TIMEOUT_MS = 30_000
const POLL_MS = 50

/**
 * Places one session elsewhere and waits until its new owner has it CONNECTED (a newer epoch on the
 * chosen node), so callers can pace moves by completed hand-overs rather than by placements.
 */
export async function handOverSession(
  input: { database: DatabaseHandle; coordinator: Coordinator; logger: Logger } & HandOver,
): Promise<HandOverOutcome> {
  const { database, sessionId } = input
  const before = await readPlacement(database, sessionId)
  if (!before) return 'unplaced'
  const placed = await placeSession({
    database,
    coordinator: input.coordinator,
    sessionId,
    targetNodeId: input.targetNodeId,
    excludeNodeIds: input.excludeNodeIds,
  }).catch((error: unknown) => {
    // The caller only counts it as unplaced; this says which session and why.
    input.logger.warn(
      { sessionId, targetNodeId: input.targetNodeId, err: (error as Error).message },
      'hand-over could not place the session',
    )
    return null
  })
  if (!placed) return 'unplaced'
  // A session that does not want a socket has nothing to reconnect.
  if (before.desiredState !== 'connected') return 'moved'
  const deadline = Date.now() + HAND_OVER_TIMEOUT_MS
  while (Date.now() < deadline) {
    const now = await readPlacement(database, sessionId)
    if (now?.desiredState !== 'connected' || now.nodeId !== placed) return 'moved'
    if (now.state === 'CONNECTED' && now.epoch > before.epoch) return 'moved'
    await sleep(POLL_MS)
  }
  return 'timed-out'
}

/**
 * Runs hand-overs a few at a time (`concurrency`, HAND_OVER_CONCURRENCY); returns how each ended. Each
 * new owner logs in with CPU of its own (Noise handshake, post-login queries): moving hundreds at once
 * would make every session wait for all of those logins, so sessions move in small waves and each is
 * back before the next starts. That keeps the per-session gap short.
 */
export async function handOverSessions(input: {
  database: DatabaseHandle
  coordinator: Coordinator
  logger: Logger
  concurrency: number
  moves: HandOver[]
  onOutcome?: (move: HandOver, outcome: HandOverOutcome) => Promise<void>
}): Promise<Record<HandOverOutcome, number>> {
  const counts: Record<HandOverOutcome, number> = { moved: 0, unplaced: 0, 'timed-out': 0 }
  let next = 0
  const worker = async () => {
    while (next < input.moves.length) {
      const move = input.moves[next++]!
      const outcome = await handOverSession({
        database: input.database,
        coordinator: input.coordinator,
        logger: input.logger,
        ...move,
      })
      counts[outcome]++
      await input.onOutcome?.(move, outcome)
      const done = counts.moved + counts.unplaced + counts['timed-out']
      if (done % 50 === 0 || done === input.moves.length)
        input.logger.info({ ...counts, total: input.moves.length }, 'hand-over progress')
    }
  }
  await Promise.all(
    Array.from({ length: Math.min(Math.max(1, input.concurrency), input.moves.length) }, worker),
  )
  return counts
}
