/** Rebalance planning: the fewest moves that even assigned sessions across nodes by capacity. */
export type NodeAssignment = { nodeId: string; capacity: number; sessionIds: string[] }
export type PlannedMove = { sessionId: string; from: string; to: string }

/**
 * Targets are each node's capacity share of the total (largest remainders get the spare sessions).
 * Only sessions above a node's target move, each to a node below its target, so the number of moves
 * is the total surplus: no plan that reaches the targets can move fewer.
 */
export function planRebalance(nodes: NodeAssignment[]): {
  moves: PlannedMove[]
  targets: Record<string, number>
} {
  const total = nodes.reduce((sum, node) => sum + node.sessionIds.length, 0)
  const capacity = nodes.reduce((sum, node) => sum + node.capacity, 0)
  const targets: Record<string, number> = {}
  if (nodes.length === 0 || capacity === 0) return { moves: [], targets }
  const shares = nodes.map((node) => {
    const exact = (total * node.capacity) / capacity
    return { node, floor: Math.floor(exact), remainder: exact - Math.floor(exact) }
  })
  let spare = total - shares.reduce((sum, share) => sum + share.floor, 0)
  // Ties go to the node that already has more sessions: fewer moves.
  for (const share of [...shares].sort(
    (a, b) => b.remainder - a.remainder || b.node.sessionIds.length - a.node.sessionIds.length,
  )) {
    targets[share.node.nodeId] = share.floor + (spare > 0 ? 1 : 0)
    if (spare > 0) spare--
  }
  const surplus: { nodeId: string; sessionId: string }[] = []
  for (const node of nodes) {
    const extra = node.sessionIds.length - targets[node.nodeId]!
    for (const sessionId of node.sessionIds.slice(node.sessionIds.length - Math.max(0, extra)))
      surplus.push({ nodeId: node.nodeId, sessionId })
  }
  const moves: PlannedMove[] = []
  for (const node of nodes) {
    let deficit = targets[node.nodeId]! - node.sessionIds.length
    while (deficit-- > 0) {
      const take = surplus.shift()
      if (!take) break
      moves.push({ sessionId: take.sessionId, from: take.nodeId, to: node.nodeId })
    }
  }
  return { moves, targets }
}
