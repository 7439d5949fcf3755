import { bumpEpoch, type Coordinator, coordinationKeys, type Lease, readEpoch } from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'

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
    const bumped = await bumpEpoch(database, sessionId, { assignedTo: nodeId })
    if (bumped === null) {
      await lease.release()
      return null
    }
    epoch = bumped
    return { lease, epoch }
  } catch (error) {
    await lease.release()
    throw error
  }
}
