import type { DatabaseHandle } from '@wa-cluster/db'
import { LockBusy, PlacementInProgress } from '@wa-cluster/shared'
import type { Coordinator, NodeHeartbeat } from '../coordination/coordinator.js'
import { coordinationKeys } from '../coordination/keys.js'
import { listRegisteredNodes } from '../nodes/node-registry.js'
import { assignSession, readPlacement } from '../sessions/session-store.js'

export type NodeNudge = { kind: 'reconcile' | 'send'; sessionId: string }

export type NodeLoad = { nodeId: string; capacity: number; assigned: number; status: NodeHeartbeat['status'] }

/** Live nodes that accept new sessions, with their assigned-session counts from Postgres (the source of truth). */
export async function loadPlaceableNodes(
  database: DatabaseHandle,
  coordinator: Coordinator,
): Promise<NodeLoad[]> {
  const live = await coordinator.liveNodes()
  if (live.length === 0) return []
  const registered = await listRegisteredNodes(
    database,
    live.map((node) => node.nodeId),
  )
  const byId = new Map(registered.map((node) => [node.id, node]))
  return live
    .filter((node) => node.status === 'active' && byId.get(node.nodeId)?.status === 'active')
    .map((node) => ({
      nodeId: node.nodeId,
      capacity: node.capacity,
      assigned: byId.get(node.nodeId)?.assigned ?? 0,
      status: node.status,
    }))
}

/** Least loaded by capacity, preferring the sticky node when it has room. */
export function chooseNode(candidates: NodeLoad[], preferNodeId?: string | null): NodeLoad | undefined {
  const open = candidates.filter((node) => node.assigned < node.capacity)
  const sticky = open.find((node) => node.nodeId === preferNodeId)
  if (sticky) return sticky
  return open.sort((a, b) => a.assigned / a.capacity - b.assigned / b.capacity || a.assigned - b.assigned)[0]
}

export type PlaceSessionInput = {
  database: DatabaseHandle
  coordinator: Coordinator
  sessionId: string
  /** Force this node (operator move). */
  targetNodeId?: string
  /** Never choose these (the node being drained, a dead node). */
  excludeNodeIds?: string[]
}

/** The per-session placement lock: placing takes milliseconds; a crashed holder's lock ends with `ttlMs`. */
const PLACEMENT_LOCK = { ttlMs: 5_000, waitMs: 3_000 }

/**
 * Assigns a session to a node under a per-session lock, so two control-planes never place it twice.
 * Keeps a live assignment unless a target is forced or the current node is excluded. Nudges the chosen
 * node and, on a move, the previous one (which hands the session over). Returns the node id, or null
 * when no node can take it (the leader places it later). Throws PlacementInProgress when another
 * process kept the session's placement lock for longer than we wait.
 */
export async function placeSession(input: PlaceSessionInput): Promise<string | null> {
  const lockKey = coordinationKeys.placementLock(input.sessionId)
  try {
    return await input.coordinator.withLock(lockKey, PLACEMENT_LOCK, () => placeUnderLock(input))
  } catch (error) {
    if (!(error instanceof LockBusy) || error.resource !== lockKey) throw error
    // The holder's lock ends `ttlMs` after it was taken, and we waited `waitMs` of that: a retry after
    // the difference no longer meets it.
    const retryAfterSeconds = Math.ceil((PLACEMENT_LOCK.ttlMs - PLACEMENT_LOCK.waitMs) / 1000)
    throw new PlacementInProgress(input.sessionId, retryAfterSeconds)
  }
}

async function placeUnderLock(input: PlaceSessionInput): Promise<string | null> {
  const { database, coordinator, sessionId } = input
  const row = await readPlacement(database, sessionId)
  if (!row) return null
  const excluded = new Set(input.excludeNodeIds ?? [])
  const candidates = (await loadPlaceableNodes(database, coordinator)).filter(
    (node) => !excluded.has(node.nodeId),
  )
  let chosen: string | undefined
  if (input.targetNodeId) {
    chosen = candidates.find((node) => node.nodeId === input.targetNodeId)?.nodeId
    if (!chosen) return null
  } else if (row.nodeId && candidates.some((node) => node.nodeId === row.nodeId)) {
    chosen = row.nodeId
  } else {
    chosen = chooseNode(candidates, row.lastNodeId ?? row.nodeId)?.nodeId
  }
  if (!chosen) return null
  if (chosen !== row.nodeId) {
    await assignSession(database, sessionId, chosen)
    if (row.nodeId) await nudgeNode(coordinator, row.nodeId, { kind: 'reconcile', sessionId })
  }
  await nudgeNode(coordinator, chosen, { kind: 'reconcile', sessionId })
  return chosen
}

export async function nudgeNode(coordinator: Coordinator, nodeId: string, nudge: NodeNudge): Promise<void> {
  await coordinator.publish(coordinationKeys.nodeChannel(nodeId), JSON.stringify(nudge))
}
