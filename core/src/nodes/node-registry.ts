import { type DatabaseHandle, textArray } from '@wa-cluster/db'
import type { NodeStatus } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'

/**
 * The `nodes` table, and only this module writes or reads it. Postgres keeps every node that ever
 * registered with its last known status; Redis heartbeats say which are alive right now.
 */
export type RegisteredNode = {
  id: string
  status: NodeStatus
  capacity: number
  startedAt: Date
  lastHeartbeatAt: Date | null
  /** Sessions assigned to the node in Postgres (the source of truth for placement). */
  assigned: number
}

/** A starting node announces itself (again): active, with its capacity. */
export async function registerNode(
  database: DatabaseHandle,
  nodeId: string,
  capacity: number,
): Promise<void> {
  await database.rows(sql`
    INSERT INTO nodes (id, capacity, status, started_at, last_heartbeat_at)
    VALUES (${nodeId}, ${capacity}, 'active', now(), now())
    ON CONFLICT (id) DO UPDATE SET capacity = EXCLUDED.capacity, status = 'active', started_at = now(), last_heartbeat_at = now()`)
}

/** A heartbeat; a node declared dead that beats again (it was paused) may take new sessions again. */
export async function recordNodeHeartbeat(database: DatabaseHandle, nodeId: string): Promise<void> {
  await database.rows(sql`
    UPDATE nodes SET last_heartbeat_at = now(), status = CASE WHEN status = 'dead' THEN 'active' ELSE status END
    WHERE id = ${nodeId}`)
}

/** Sets one node's status; false when no such node is registered. */
export async function setNodeStatus(
  database: DatabaseHandle,
  nodeId: string,
  status: NodeStatus,
): Promise<boolean> {
  const rows = await database.rows<{ id: string }>(
    sql`UPDATE nodes SET status = ${status} WHERE id = ${nodeId} RETURNING id`,
  )
  return rows.length > 0
}

/** A draining (or already active) node becomes active again; false when it is neither. */
export async function activateDrainingNode(database: DatabaseHandle, nodeId: string): Promise<boolean> {
  const rows = await database.rows<{ id: string }>(
    sql`UPDATE nodes SET status = 'active' WHERE id = ${nodeId} AND status IN ('draining', 'active') RETURNING id`,
  )
  return rows.length > 0
}

export async function markNodesDead(database: DatabaseHandle, nodeIds: string[]): Promise<void> {
  if (nodeIds.length === 0) return
  await database.rows(sql`UPDATE nodes SET status = 'dead' WHERE id = ANY(${textArray(nodeIds)})`)
}

/**
 * Nodes that are supposed to be running (so a missing heartbeat means something), with how long ago
 * each last wrote its Postgres heartbeat (measured on the database's clock).
 */
export async function runningNodes(
  database: DatabaseHandle,
): Promise<{ id: string; heartbeatAgeMs: number }[]> {
  const rows = await database.rows<{ id: string; age_ms: string | number }>(sql`
    SELECT id, (extract(epoch FROM now() - last_heartbeat_at) * 1000)::bigint AS age_ms
    FROM nodes WHERE status IN ('active', 'draining', 'stopping')`)
  return rows.map((row) => ({ id: row.id, heartbeatAgeMs: Number(row.age_ms) }))
}

/**
 * Registered nodes with their assigned-session counts, in id order; `onlyIds` narrows to those ids,
 * `page` to at most `limit` nodes after the id `after`.
 */
export async function listRegisteredNodes(
  database: DatabaseHandle,
  onlyIds?: string[],
  page?: { after?: string; limit: number },
): Promise<RegisteredNode[]> {
  const conditions = [
    ...(onlyIds ? [sql`n.id = ANY(${textArray(onlyIds)})`] : []),
    ...(page?.after !== undefined ? [sql`n.id > ${page.after}`] : []),
  ]
  const filter = conditions.length > 0 ? sql`WHERE ${sql.join(conditions, sql` AND `)}` : sql``
  const limit = page ? sql`LIMIT ${page.limit}` : sql``
  const rows = await database.rows<{
    id: string
    status: NodeStatus
    capacity: number
    started_at: string | Date
    last_heartbeat_at: string | Date | null
    assigned: number
  }>(sql`
    SELECT n.id, n.status, n.capacity, n.started_at, n.last_heartbeat_at, COALESCE(c.assigned, 0)::int AS assigned
    FROM nodes n
    LEFT JOIN (SELECT node_id, count(*) AS assigned FROM sessions WHERE node_id IS NOT NULL GROUP BY node_id) c
      ON c.node_id = n.id
    ${filter}
    ORDER BY n.id ${limit}`)
  return rows.map((row) => ({
    id: row.id,
    status: row.status,
    capacity: Number(row.capacity),
    startedAt: new Date(row.started_at),
    lastHeartbeatAt: row.last_heartbeat_at ? new Date(row.last_heartbeat_at) : null,
    assigned: Number(row.assigned),
  }))
}
