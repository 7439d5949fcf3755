import type { DatabaseHandle } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'
import type { Coordinator, Lease } from '../coordination/coordinator.js'
import { coordinationKeys } from '../coordination/keys.js'

export type Ownership = { lease: Lease; epoch: number }

export type TakeOwnershipInput = {
  database: DatabaseHandle
  coordinator: Coordinator
  sessionId: string
  nodeId: string
  leaseTtlMs: number
}

/**
 * Becomes the one owner of a session: takes its lease (so no other node opens a socket), then bumps
 * the epoch in Postgres (so any write of a previous owner is refused from now on). Returns null when
 * another node still holds the lease or the session is no longer assigned here.
 */
export async function takeOwnership(input: TakeOwnershipInput): Promise<Ownership | null> {
  const { database, coordinator, sessionId, nodeId } = input
  let epoch = 0
  const lease = await coordinator.acquireLease(coordinationKeys.sessionLease(sessionId), {
    ttlMs: input.leaseTtlMs,
    // After Redis lost the key we may keep going only if nobody bumped the epoch meanwhile.
    onReacquired: async () => (await readEpoch(database, sessionId)) === epoch,
  })
  if (!lease) return null
  try {
    const [row] = await database.rows<{ epoch: number }>(sql`
      UPDATE sessions SET epoch = epoch + 1, last_node_id = ${nodeId}, updated_at = now()
      WHERE id = ${sessionId} AND node_id = ${nodeId} AND desired_state <> 'disconnected'
      RETURNING epoch`)
    if (!row) {
      await lease.release()
      return null
    }
    epoch = Number(row.epoch)
    return { lease, epoch }
  } catch (error) {
    await lease.release()
    throw error
  }
}

export async function readEpoch(database: DatabaseHandle, sessionId: string): Promise<number | null> {
  const [row] = await database.rows<{ epoch: number }>(
    sql`SELECT epoch FROM sessions WHERE id = ${sessionId}`,
  )
  return row ? Number(row.epoch) : null
}
