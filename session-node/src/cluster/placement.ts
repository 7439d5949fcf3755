import { type DatabaseHandle, textArray } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'
import type { Coordinator, NodeHeartbeat } from '../coordination/coordinator.js'
import { coordinationKeys } from '../coordination/keys.js'

export type NodeNudge = { kind: 'reconcile' | 'send'; sessionId: string }

export type NodeLoad = { nodeId: string; capacity: number; assigned: number; status: NodeHeartbeat['status'] }

/** Live nodes that accept new sessions, with their assigned-session counts from Postgres (the source of truth). */
export async function loadPlaceableNodes(
  database: DatabaseHandle,
  coordinator: Coordinator,
): Promise<NodeLoad[]> {
  const live = await coordinator.liveNodes()
  if (live.length === 0) return []
  const rows = await database.rows<{ node_id: string; assigned: number; status: string | null }>(sql`
    SELECT n.id AS node_id, n.status, COALESCE(c.assigned, 0)::int AS assigned
    FROM nodes n
    LEFT JOIN (SELECT node_id, count(*) AS assigned FROM sessions WHERE node_id IS NOT NULL GROUP BY node_id) c
      ON c.node_id = n.id
    WHERE n.id = ANY(${textArray(live.map((node) => node.nodeId))})`)
  const byId = new Map(rows.map((row) => [row.node_id, row]))
  return live
    .filter((node) => node.status === 'active' && byId.get(node.nodeId)?.status === 'active')
    .map((node) => ({
      nodeId: node.nodeId,
      capacity: node.capacity,
      assigned: Number(byId.get(node.nodeId)?.assigned ?? 0),
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

/**
 * Assigns a session to a node under a per-session lock, so two control-planes never place it twice.
 * Keeps a live assignment unless a target is forced or the current node is excluded. Nudges the chosen
 * node and, on a move, the previous one (which hands the session over). Returns the node id, or null
 * when no node can take it (the leader places it later).
 */
export async function placeSession(input: PlaceSessionInput): Promise<string | null> {
  const { database, coordinator, sessionId } = input
  const keys = coordinationKeys
  return coordinator.withLock(keys.placementLock(sessionId), { ttlMs: 5_000, waitMs: 3_000 }, async () => {
    const [row] = await database.rows<{ node_id: string | null; last_node_id: string | null }>(
      sql`SELECT node_id, last_node_id FROM sessions WHERE id = ${sessionId}`,
    )
    if (!row) return null
    const excluded = new Set(input.excludeNodeIds ?? [])
    const candidates = (await loadPlaceableNodes(database, coordinator)).filter(
      (node) => !excluded.has(node.nodeId),
    )
    let chosen: string | undefined
    if (input.targetNodeId) {
      chosen = candidates.find((node) => node.nodeId === input.targetNodeId)?.nodeId
      if (!chosen) return null
    } else if (row.node_id && candidates.some((node) => node.nodeId === row.node_id)) {
      chosen = row.node_id
    } else {
      chosen = chooseNode(candidates, row.last_node_id ?? row.node_id)?.nodeId
    }
    if (!chosen) return null
    if (chosen !== row.node_id) {
      await database.rows(
        sql`UPDATE sessions SET node_id = ${chosen}, updated_at = now() WHERE id = ${sessionId}`,
      )
      if (row.node_id) await nudgeNode(coordinator, row.node_id, { kind: 'reconcile', sessionId })
    }
    await nudgeNode(coordinator, chosen, { kind: 'reconcile', sessionId })
    return chosen
  })
}

export async function nudgeNode(coordinator: Coordinator, nodeId: string, nudge: NodeNudge): Promise<void> {
  await coordinator.publish(coordinationKeys.nodeChannel(nodeId), JSON.stringify(nudge))
}
