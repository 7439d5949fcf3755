// `npx tsx bench/cluster-rebalance.ts [--sessions 500] [--concurrency 12] [--control-planes 2]`
//
// A cluster of real processes (2 control-planes, 2 session-nodes, private Redis, fresh Postgres database;
// wa-sim as its own process) with N linked sessions; then a third node starts and POST /v1/rebalance runs.
// Per moved session, the hand-over gap = occurredAt of its CONNECTED connection.update minus occurredAt of
// the RECONNECTING "moving to another node" one (both from the webhook envelopes). Target p99 ≤ 1 s,
// 0 simulator `replaced` conflicts, and every moved session ends CONNECTED on its new node.
import { clusterWithSessions, nodeCpu } from './support/cluster-setup.js'
import {
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

const opts = flags({ sessions: '500', concurrency: '12', 'control-planes': '2', 'timeout-s': '180' })
const n = Number(opts.sessions)
const ms = (v: number) => `${v.toFixed(0)} ms`

await runBench('cluster-rebalance', 10 * 60_000, async () => {
  const { sim, receiver, cluster, clients, link } = await clusterWithSessions({
    controlPlanes: Number(opts['control-planes']),
    sessionNodes: 2,
    sessions: n,
    concurrency: Number(opts.concurrency),
    env: { SESSION_NODE_CAPACITY: String(Math.max(500, n)) },
    label: 'rebalance',
  })
  const admin = cluster.admin()
  const linkedIds = new Set(link.linked.map((l) => l.id))

  // Per session: when it said "moving" and when it next said CONNECTED (server-side occurredAt).
  let watching = false
  const movingAt = new Map<string, number>()
  const connectedAfterMove = new Map<string, number>()
  const otherStates: Record<string, number> = {}
  receiver.on((event) => {
    if (!watching || event.type !== 'connection.update') return
    const at = Date.parse(event.occurredAt)
    const { state, reason } = event.data
    if (state === 'RECONNECTING' && reason === 'moving to another node') {
      if (!movingAt.has(event.sessionId)) movingAt.set(event.sessionId, at)
    } else if (state === 'CONNECTED' && movingAt.has(event.sessionId)) {
      if (!connectedAfterMove.has(event.sessionId)) connectedAfterMove.set(event.sessionId, at)
    } else otherStates[state] = (otherStates[state] ?? 0) + 1
  })

  await cluster.startNode('node-3', { SESSION_NODE_CAPACITY: String(Math.max(500, n)) })
  log(`node-3 started; load before rebalance ${JSON.stringify(await nodeLoad(admin))}`)
  const statsBefore = await sim.control.stats()
  const cpuBefore = nodeCpu(cluster)
  watching = true
  const started = performance.now()
  const response = await admin.post('/v1/rebalance', {})
  const apiMs = performance.now() - started
  if (response.status !== 200) throw new Error(`rebalance: ${response.status} ${response.text.slice(0, 300)}`)
  const moves = response.body.moves as { sessionId: string; from: string; to: string }[]
  log(
    `POST /v1/rebalance answered in ${ms(apiMs)}: ${moves.length} moves, before ${JSON.stringify(response.body.before)} after ${JSON.stringify(response.body.after)}`,
  )

  const moved = new Set(moves.map((m) => m.sessionId))
  const deadline = Date.now() + Number(opts['timeout-s']) * 1000
  let lastLog = 0
  let doneAt: number | undefined
  while (Date.now() < deadline) {
    await sleep(500)
    if ([...moved].every((id) => connectedAfterMove.has(id))) {
      doneAt = performance.now()
      break
    }
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now()
      log(
        `  ${connectedAfterMove.size}/${moved.size} moved sessions CONNECTED again (${movingAt.size} said "moving"), load ${loadAverage()}`,
      )
    }
  }
  const cpuDone = nodeCpu(cluster)
  const moveWallS = ((doneAt ?? performance.now()) - started) / 1000
  const cpuDuring = Object.entries(cpuDone)
    .map(([id, cpu]) => `${id} ${(cpu - (cpuBefore[id] ?? 0)).toFixed(1)} s`)
    .join(', ')
  await sleep(2000) // let stragglers' late events land before counting
  const statsAfter = await sim.control.stats()
  const gaps = [...moved]
    .filter((id) => connectedAfterMove.has(id) && movingAt.has(id))
    .map((id) => connectedAfterMove.get(id)! - movingAt.get(id)!)
  const gap = summary(gaps)
  const final = (await listSessions(clients[0]!)).filter((x) => linkedIds.has(x.id))
  const wrongPlace = moves.filter((m) => {
    const row = final.find((x) => x.id === m.sessionId)
    return row?.state !== 'CONNECTED' || row.nodeId !== m.to
  })
  const finalStates: Record<string, number> = {}
  for (const x of final) finalStates[x.state] = (finalStates[x.state] ?? 0) + 1
  const firstMoving = movingAt.size ? Math.min(...movingAt.values()) : Number.NaN
  const lastConnected = connectedAfterMove.size ? Math.max(...connectedAfterMove.values()) : Number.NaN
  const noMoving = [...moved].filter((id) => !movingAt.has(id)).length

  const lines = [
    '',
    '=== cluster-rebalance results ===',
    `command: npx tsx bench/cluster-rebalance.ts --sessions ${n} --concurrency ${opts.concurrency} --control-planes ${opts['control-planes']}`,
    `machine: load average (1/5/15 min) ${loadAverage()}`,
    `linking: ${link.linked.length}/${n} sessions on 2 nodes in ${(link.elapsedMs / 1000).toFixed(1)} s (${((link.linked.length / link.elapsedMs) * 1000).toFixed(2)}/s), failures ${link.failures.length}`,
    `rebalance: API answered in ${ms(apiMs)}; ${moves.length} moves planned; before ${JSON.stringify(response.body.before)} → after ${JSON.stringify(response.body.after)}`,
    `all moved sessions CONNECTED again ${doneAt ? `${((doneAt - started) / 1000).toFixed(2)} s after POST` : `NOT within ${opts['timeout-s']} s`} (first "moving" → last CONNECTED: ${((lastConnected - firstMoving) / 1000).toFixed(2)} s)`,
    `hand-over gap (RECONNECTING "moving to another node" → CONNECTED, occurredAt), n=${gap.n}: p50 ${ms(gap.p50)}  p99 ${ms(gap.p99)}  max ${ms(gap.max)}   target p99 ≤ 1 s: ${verdict(gap.p99 <= 1000)}`,
    `node CPU from POST to the last CONNECTED (${moveWallS.toFixed(1)} s wall): ${cpuDuring}`,
    `moved sessions without a "moving" event: ${noMoving}; other connection.update states seen during the move: ${JSON.stringify(otherStates)}`,
    `sim replaced conflicts during rebalance: ${statsAfter.replaced - statsBefore.replaced} (target 0: ${verdict(statsAfter.replaced - statsBefore.replaced === 0)}); maxConcurrentPerDevice (whole run) ${statsAfter.maxConcurrentPerDevice}; QRs issued during rebalance ${statsAfter.qrsIssued - statsBefore.qrsIssued}`,
    `moved sessions not CONNECTED on their target node at the end: ${wrongPlace.length}${wrongPlace[0] ? ` (e.g. ${JSON.stringify(final.find((x) => x.id === wrongPlace[0]!.sessionId))})` : ''}; final states ${JSON.stringify(finalStates)}; /v1/nodes ${JSON.stringify(await nodeLoad(admin))}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
})
