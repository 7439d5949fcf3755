import {
  activateDrainingNode,
  connectedSessionsOn,
  evacuateNode,
  handOverSessions,
  listRegisteredNodes,
  loadPlaceableNodes,
  type NodeAssignment,
  pageNodeSessions,
  planRebalance,
  type RegisteredNode,
  setNodeStatus,
} from '@wa-cluster/core'
import { Conflict, type NodeStatus, NotFound } from '@wa-cluster/shared'
import type { ControlPlaneContext } from '../context.js'
import { type SessionView, toSessionView } from './sessions.js'

export type NodeView = {
  id: string
  /** `dead` also when the heartbeat expired before the leader marked it */
  status: NodeStatus
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

/** One page of registered nodes in id order, after the cursor `after` (a node id). */
export async function listNodes({
  ctx,
  page,
}: {
  ctx: ControlPlaneContext
  page: { after?: string; limit: number }
}): Promise<{ data: NodeView[]; nextCursor: string | null }> {
  const rows = await listRegisteredNodes(ctx.database, undefined, { ...page, limit: page.limit + 1 })
  const data = await nodeViews(ctx, rows.slice(0, page.limit))
  return { data, nextCursor: rows.length > page.limit ? (data.at(-1)?.id ?? null) : null }
}

export type NodeSessionView = SessionView & { tenantId: string; tenantName: string }

/** One page of the sessions assigned to a node, any tenant's, newest first; NotFound for an unknown node. */
export async function listNodeSessions({
  ctx,
  nodeId,
  page,
}: {
  ctx: ControlPlaneContext
  nodeId: string
  page: { after?: string; limit: number }
}): Promise<{ data: NodeSessionView[]; nextCursor: string | null }> {
  const [registered] = await listRegisteredNodes(ctx.database, [nodeId])
  if (!registered) throw new NotFound('node')
  const { rows, nextCursor } = await pageNodeSessions(ctx.database, nodeId, page)
  return {
    data: rows.map((row) => ({ ...toSessionView(row), tenantId: row.tenantId, tenantName: row.tenantName })),
    nextCursor,
  }
}

async function nodeViews(ctx: ControlPlaneContext, rows: RegisteredNode[]): Promise<NodeView[]> {
  const live = await ctx.coordinator.liveNodes()
  const liveById = new Map(live.map((node) => [node.nodeId, node]))
  return rows.map((row) => {
    const heartbeat = liveById.get(row.id)
    const status = heartbeat || row.status === 'stopped' || row.status === 'dead' ? row.status : 'dead'
    return {
      id: row.id,
      status,
      capacity: row.capacity,
      sessions: row.assigned,
      lastHeartbeatAt: heartbeat?.at ?? row.lastHeartbeatAt?.toISOString() ?? null,
      startedAt: row.startedAt.toISOString(),
    }
  })
}

/**
 * Marks the node draining (it takes no new sessions) and hands each of its sessions to other nodes in
 * the background, a few at a time; `GET /v1/nodes` shows the count going down. Refused (409
 * `no_capacity_elsewhere`) when the other live active nodes have too little free capacity for the
 * node's sessions: draining then would only take them offline.
 */
export async function drainNode({
  ctx,
  nodeId,
}: {
  ctx: ControlPlaneContext
  nodeId: string
}): Promise<NodeView & { sessionsToMove: number }> {
  const [registered] = await listRegisteredNodes(ctx.database, [nodeId])
  if (!registered) throw new NotFound('node')
  if (registered.assigned > 0) {
    const others = (await loadPlaceableNodes(ctx.database, ctx.coordinator)).filter(
      (node) => node.nodeId !== nodeId,
    )
    const free = others.reduce((sum, node) => sum + Math.max(0, node.capacity - node.assigned), 0)
    if (free < registered.assigned)
      throw new Conflict(
        `node ${nodeId} has ${registered.assigned} sessions and the other active nodes have room for ${free}`,
        'no_capacity_elsewhere',
      )
  }
  if (!(await setNodeStatus(ctx.database, nodeId, 'draining'))) throw new NotFound('node')
  const [view] = await nodeViews(ctx, await listRegisteredNodes(ctx.database, [nodeId]))
  if (!view) throw new NotFound('node')
  void evacuateNode({
    database: ctx.database,
    coordinator: ctx.coordinator,
    nodeId,
    logger: ctx.logger,
    concurrency: ctx.config.HAND_OVER_CONCURRENCY,
  }).catch((error) => ctx.logger.error({ nodeId, err: (error as Error).message }, 'drain failed'))
  return { ...view, sessionsToMove: view.sessions }
}

/**
 * Undoes a drain: the node takes new sessions again. Sessions already handed over stay where they are
 * (`POST /v1/rebalance` evens load). Only a draining or active node can be activated (409
 * `node_not_running` otherwise: a stopped or dead node becomes active by starting again).
 */
export async function activateNode({
  ctx,
  nodeId,
}: {
  ctx: ControlPlaneContext
  nodeId: string
}): Promise<NodeView> {
  if (!(await activateDrainingNode(ctx.database, nodeId))) {
    const [registered] = await listRegisteredNodes(ctx.database, [nodeId])
    if (!registered) throw new NotFound('node')
    throw new Conflict(`node ${nodeId} is ${registered.status}, not draining`, 'node_not_running')
  }
  const [view] = await nodeViews(ctx, await listRegisteredNodes(ctx.database, [nodeId]))
  if (!view) throw new NotFound('node')
  return view
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
  const assigned = await connectedSessionsOn(
    ctx.database,
    nodes.map((node) => node.nodeId),
  )
  const assignments: NodeAssignment[] = nodes.map((node) => ({
    nodeId: node.nodeId,
    capacity: node.capacity,
    sessionIds: assigned.filter((row) => row.nodeId === node.nodeId).map((row) => row.id),
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
