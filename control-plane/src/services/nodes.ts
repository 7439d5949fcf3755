import { textArray } from '@wa-cluster/db'
import {
  evacuateNode,
  handOverSessions,
  loadPlaceableNodes,
  type NodeAssignment,
  planRebalance,
} from '@wa-cluster/session-node'
import { NotFound } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'

export type NodeView = {
  id: string
  /** `active` | `draining` | `stopping` | `dead` (no heartbeat) | `stopped` (left gracefully) */
  status: string
  capacity: number
  sessions: number
  lastHeartbeatAt: string | null
  startedAt: string
}

export type RebalanceMove = { sessionId: string; from: string; to: string }
export type RebalancePlan = {
  dryRun: boolean
  moves: RebalanceMove[]
  /** Assigned sessions per node before and after the plan. */
  before: Record<string, number>
  after: Record<string, number>
}

type NodeRow = {
  id: string
  status: string
  capacity: number
  started_at: string | Date
  last_heartbeat_at: string | Date | null
  sessions: number
}

export async function listNodes({ ctx }: { ctx: ControlPlaneContext }): Promise<NodeView[]> {
  const [rows, live] = await Promise.all([
    ctx.database.rows<NodeRow>(sql`
      SELECT n.id, n.status, n.capacity, n.started_at, n.last_heartbeat_at, COALESCE(c.sessions, 0)::int AS sessions
      FROM nodes n LEFT JOIN (SELECT node_id, count(*) AS sessions FROM sessions WHERE node_id IS NOT NULL GROUP BY node_id) c
        ON c.node_id = n.id
      ORDER BY n.id`),
    ctx.coordinator.liveNodes(),
  ])
  const liveById = new Map(live.map((node) => [node.nodeId, node]))
  return rows.map((row) => {
    const heartbeat = liveById.get(row.id)
    const status = heartbeat || row.status === 'stopped' || row.status === 'dead' ? row.status : 'dead'
    return {
      id: row.id,
      status,
      capacity: row.capacity,
      sessions: Number(row.sessions),
      lastHeartbeatAt:
        heartbeat?.at ?? (row.last_heartbeat_at ? new Date(row.last_heartbeat_at).toISOString() : null),
      startedAt: new Date(row.started_at).toISOString(),
    }
  })
}

/**
 * Marks the node draining (it takes no new sessions) and hands each of its sessions to other nodes in
 * the background, a few at a time; `GET /v1/nodes` shows the count going down.
 */
export async function drainNode({
  ctx,
  nodeId,
}: {
  ctx: ControlPlaneContext
  nodeId: string
}): Promise<NodeView & { sessionsToMove: number }> {
  const updated = await ctx.database.rows<{ id: string }>(
    sql`UPDATE nodes SET status = 'draining' WHERE id = ${nodeId} RETURNING id`,
  )
  if (updated.length === 0) throw new NotFound('node')
  const view = (await listNodes({ ctx })).find((node) => node.id === nodeId)!
  void evacuateNode({
    database: ctx.database,
    coordinator: ctx.coordinator,
    nodeId,
    logger: ctx.logger,
    concurrency: ctx.config.HAND_OVER_CONCURRENCY,
  }).catch((error) => ctx.logger.error({ nodeId, err: (error as Error).message }, 'drain failed'))
  return { ...view, sessionsToMove: view.sessions }
}

/** Plans the fewest moves that even load by capacity across live active nodes; executes unless dryRun. */
export async function rebalance({
  ctx,
  dryRun,
}: {
  ctx: ControlPlaneContext
  dryRun: boolean
}): Promise<RebalancePlan> {
  const nodes = await loadPlaceableNodes(ctx.database, ctx.coordinator)
  const assigned = await ctx.database.rows<{ id: string; node_id: string }>(sql`
    SELECT id, node_id FROM sessions WHERE node_id = ANY(${textArray(nodes.map((node) => node.nodeId))}) AND desired_state = 'connected' ORDER BY id`)
  const assignments: NodeAssignment[] = nodes.map((node) => ({
    nodeId: node.nodeId,
    capacity: node.capacity,
    sessionIds: assigned.filter((row) => row.node_id === node.nodeId).map((row) => row.id),
  }))
  const { moves } = planRebalance(assignments)
  const before = Object.fromEntries(assignments.map((node) => [node.nodeId, node.sessionIds.length]))
  const after = { ...before }
  for (const move of moves) {
    after[move.from]! -= 1
    after[move.to]! += 1
  }
  if (!dryRun && moves.length > 0) {
    // Executed in the background, a few hand-overs at a time (each waits for its session to be back),
    // so the answer comes at once and no session waits for hundreds of logins. Progress is logged.
    void handOverSessions({
      database: ctx.database,
      coordinator: ctx.coordinator,
      logger: ctx.logger,
      concurrency: ctx.config.HAND_OVER_CONCURRENCY,
      moves: moves.map((move) => ({ sessionId: move.sessionId, targetNodeId: move.to })),
    })
      .then((counts) => ctx.logger.info({ ...counts, moves: moves.length }, 'rebalance executed'))
      .catch((error) => ctx.logger.error({ err: (error as Error).message }, 'rebalance failed'))
  }
  return { dryRun, moves, before, after }
}
