import { describe, expect, it } from 'vitest'
import { chooseNode } from '../../src/placement/placement.js'
import { type NodeAssignment, planRebalance } from '../../src/placement/rebalance.js'

const sessions = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}`)

function apply(nodes: NodeAssignment[], moves: { from: string; to: string }[]): Record<string, number> {
  const counts = Object.fromEntries(nodes.map((node) => [node.nodeId, node.sessionIds.length]))
  for (const move of moves) {
    counts[move.from]! -= 1
    counts[move.to]! += 1
  }
  return counts
}

describe('planRebalance', () => {
  it('evens equal-capacity nodes with exactly the surplus as moves', () => {
    const nodes = [
      { nodeId: 'a', capacity: 100, sessionIds: sessions('a', 9) },
      { nodeId: 'b', capacity: 100, sessionIds: sessions('b', 3) },
      { nodeId: 'c', capacity: 100, sessionIds: [] },
    ]
    const { moves } = planRebalance(nodes)
    expect(moves).toHaveLength(5)
    expect(apply(nodes, moves)).toEqual({ a: 4, b: 4, c: 4 })
    expect(new Set(moves.map((move) => move.sessionId)).size).toBe(moves.length)
    expect(moves.every((move) => move.from === 'a' || (move.from === 'b' && move.to === 'c'))).toBe(true)
  })

  it('weights by capacity', () => {
    const nodes = [
      { nodeId: 'big', capacity: 300, sessionIds: [] as string[] },
      { nodeId: 'small', capacity: 100, sessionIds: sessions('s', 8) },
    ]
    expect(apply(nodes, planRebalance(nodes).moves)).toEqual({ big: 6, small: 2 })
  })

  it('moves nothing when already even (remainders stay where they are)', () => {
    const nodes = [
      { nodeId: 'a', capacity: 10, sessionIds: sessions('a', 2) },
      { nodeId: 'b', capacity: 10, sessionIds: sessions('b', 1) },
    ]
    expect(planRebalance(nodes).moves).toEqual([])
  })
})

describe('chooseNode', () => {
  const nodes = [
    { nodeId: 'a', capacity: 10, assigned: 5, status: 'active' as const },
    { nodeId: 'b', capacity: 10, assigned: 2, status: 'active' as const },
    { nodeId: 'c', capacity: 2, assigned: 2, status: 'active' as const },
  ]
  it('prefers the sticky node while it has room', () => {
    expect(chooseNode(nodes, 'a')?.nodeId).toBe('a')
  })
  it('otherwise takes the least loaded by capacity, never a full one', () => {
    expect(chooseNode(nodes, 'c')?.nodeId).toBe('b')
    expect(chooseNode(nodes.map((node) => ({ ...node, assigned: node.capacity })))).toBeUndefined()
  })
})
