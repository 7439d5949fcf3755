// `npx tsx bench/cluster-rebalance.ts [--sessions 500] [--concurrency 12] [--control-planes 2]`
//
// A cluster of real processes (2 control-planes, private Redis, fresh Postgres database; wa-sim as its
// own process) with N sessions linked on ONE session-node; then two more nodes start and
//   (1) POST /v1/rebalance moves two thirds of the sessions onto them, and
//   (2) POST /v1/nodes/node-2/drain moves node-2's share again,
// so about N hand-overs happen in all (500 sessions → ~500 moves). Per hand-over, the gap = occurredAt
// of the session's next CONNECTED connection.update minus occurredAt of its RECONNECTING "moving to
// another node" one (webhook envelopes). Targets: gap p99 ≤ 1 s, 0 simulator `replaced` conflicts, and
// every session CONNECTED on a node that is not draining at the end.
import { clusterWithSessions, nodeCpu } from './support/cluster-setup.js'
import {
  apiFailure,
  flags,
  listSessions,
  loadAverage,
  log,
  nodeLoad,
  runBench,
  sleep,
  summary,
  verdict,
} from './support/common.js'

const opts = flags({ sessions: '500', concurrency: '12', 'control-planes': '2', 'timeout-s': '300' })
const n = Number(opts.sessions)
const ms = (v: number) => `${v.toFixed(0)} ms`
const capacity = String(Math.max(500, n))

await runBench('cluster-rebalance', 20 * 60_000, async () => {
  const { sim, receiver, cluster, clients, link } = await clusterWithSessions({
    controlPlanes: Number(opts['control-planes']),
    sessionNodes: 1,
    sessions: n,
    concurrency: Number(opts.concurrency),
    env: { SESSION_NODE_CAPACITY: capacity },
    label: 'rebalance',
  })
  const admin = cluster.admin()
  const linkedIds = new Set(link.linked.map((l) => l.id))

  // Every hand-over: "moving" at → the next CONNECTED at (server-side occurredAt).
  const movingSince = new Map<string, number>()
  const gaps: number[] = []
  const otherStates: Record<string, number> = {}
  let movesAnnounced = 0
  receiver.on((event) => {
    if (event.type !== 'connection.update') return
    const at = Date.parse(event.occurredAt)
    const { state, reason } = event.data
    if (state === 'RECONNECTING' && reason === 'moving to another node') {
      movesAnnounced++
      movingSince.set(event.sessionId, at)
    } else if (state === 'CONNECTED' && movingSince.has(event.sessionId)) {
      gaps.push(at - movingSince.get(event.sessionId)!)
      movingSince.delete(event.sessionId)
    } else otherStates[state] = (otherStates[state] ?? 0) + 1
  })

  /** Waits until `expected` hand-overs have completed (gaps recorded) and none is in progress. */
  async function handOversDone(expected: number, label: string): Promise<number | undefined> {
    const deadline = Date.now() + Number(opts['timeout-s']) * 1000
    let lastLog = 0
    while (Date.now() < deadline) {
      await sleep(250)
      if (gaps.length >= expected && movingSince.size === 0) return performance.now()
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now()
        log(`  ${label}: ${gaps.length}/${expected} hand-overs done, ${movingSince.size} in progress`)
      }
    }
    return undefined
  }

  await cluster.startNode('node-2', { SESSION_NODE_CAPACITY: capacity })
  await cluster.startNode('node-3', { SESSION_NODE_CAPACITY: capacity })
  log(`node-2 and node-3 started; load ${JSON.stringify(await nodeLoad(admin))}`)
  const statsBefore = await sim.control.stats()
  const cpuBefore = nodeCpu(cluster)

  // (1) rebalance
  const started = performance.now()
  const response = await admin.POST('/v1/rebalance', { body: {} })
  const apiMs = performance.now() - started
  if (!response.data) throw apiFailure('rebalance', response)
  const moves = response.data.moves
  log(`POST /v1/rebalance answered in ${ms(apiMs)}: ${moves.length} moves`)
  const rebalancedAt = await handOversDone(moves.length, 'rebalance')
  const rebalanceS = ((rebalancedAt ?? performance.now()) - started) / 1000
  const afterRebalance = await nodeLoad(admin)

  // (2) drain node-2
  const drainStarted = performance.now()
  const drain = await admin.POST('/v1/nodes/{nodeId}/drain', { params: { path: { nodeId: 'node-2' } } })
  if (!drain.data) throw apiFailure('drain', drain)
  const toMove = drain.data.sessionsToMove
  log(`POST /v1/nodes/node-2/drain: ${toMove} sessions to move`)
  const drainedAt = await handOversDone(moves.length + toMove, 'drain')
  const drainS = ((drainedAt ?? performance.now()) - drainStarted) / 1000
  const cpuDone = nodeCpu(cluster)
  await sleep(2000) // let stragglers' late events land before counting
  const statsAfter = await sim.control.stats()
  const gap = summary(gaps)
  const final = (await listSessions(clients[0]!)).filter((x) => linkedIds.has(x.id))
  const finalStates: Record<string, number> = {}
  for (const x of final) finalStates[x.state] = (finalStates[x.state] ?? 0) + 1
  const misplaced = final.filter((x) => x.state !== 'CONNECTED' || x.nodeId === 'node-2' || !x.nodeId)
  const cpuDuring = Object.entries(cpuDone)
    .map(([id, cpu]) => `${id} ${(cpu - (cpuBefore[id] ?? 0)).toFixed(1)} s`)
    .join(', ')
  const replaced = statsAfter.replaced - statsBefore.replaced

  const lines = [
    '',
    '=== cluster-rebalance results ===',
    `command: npx tsx bench/cluster-rebalance.ts --sessions ${n} --concurrency ${opts.concurrency} --control-planes ${opts['control-planes']}`,
    `machine: load average (1/5/15 min) ${loadAverage()}`,
    `linking: ${link.linked.length}/${n} sessions on node-1 in ${(link.elapsedMs / 1000).toFixed(1)} s (${((link.linked.length / link.elapsedMs) * 1000).toFixed(2)}/s), failures ${link.failures.length}`,
    `(1) rebalance onto node-2 + node-3: API answered in ${ms(apiMs)}; ${moves.length} moves; all done ${rebalancedAt ? `in ${rebalanceS.toFixed(1)} s` : 'NOT within the timeout'}; load after ${JSON.stringify(afterRebalance)}`,
    `(2) drain node-2: ${toMove} moves; all done ${drainedAt ? `in ${drainS.toFixed(1)} s` : 'NOT within the timeout'}`,
    `hand-overs completed: ${gaps.length} of ${moves.length + toMove} planned ("moving" announced ${movesAnnounced})`,
    `hand-over gap (RECONNECTING "moving to another node" → CONNECTED, occurredAt), n=${gap.n}: p50 ${ms(gap.p50)}  p95 ${ms(gap.p95)}  p99 ${ms(gap.p99)}  max ${ms(gap.max)}   target p99 ≤ 1 s: ${verdict(gap.p99 <= 1000)}`,
    `node CPU during (1)+(2): ${cpuDuring}`,
    `other connection.update states seen: ${JSON.stringify(otherStates)}`,
    `sim replaced conflicts during the moves: ${replaced} (target 0: ${verdict(replaced === 0)}); maxConcurrentPerDevice (whole run) ${statsAfter.maxConcurrentPerDevice}; QRs issued during the moves ${statsAfter.qrsIssued - statsBefore.qrsIssued}`,
    `sessions not CONNECTED on node-1/node-3 at the end: ${misplaced.length}${misplaced[0] ? ` (e.g. ${JSON.stringify(misplaced[0])})` : ''}; final states ${JSON.stringify(finalStates)}; /v1/nodes ${JSON.stringify(await nodeLoad(admin))}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
})
