// `npx tsx bench/cluster-failover.ts [--sessions 500] [--concurrency 12] [--lease-ttl-ms 15000] [--control-planes 2] [--nodes 3] [--spread]`
//
// By default the N sessions are linked while only node-1 runs, the other nodes start afterwards, and
// node-1 (holding all N) is the one killed: "a node holding 500 sessions". `--spread` links onto all
// nodes and kills the one holding the most.
//
// A cluster of real processes (2 control-planes, 3 session-nodes, private Redis, fresh Postgres database;
// wa-sim as its own process). N sessions are linked through the API (bounded concurrency; the simulated
// phone scans each QR). Then the node holding the most sessions is SIGKILLed, and we measure how long until
// every one of its sessions announced CONNECTED again (connection.update webhook after the kill) and
// GET /v1/sessions shows it CONNECTED on another node. Target: within LEASE_TTL_MS + 30 s. The simulator's
// `replaced` counter (second login while the old socket lives) and QR_READY events after the kill should
// both stay 0.
import { clusterWithSessions } from './support/cluster-setup.js'
import {
  flagBool,
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

const opts = flags({
  sessions: '500',
  concurrency: '12',
  'lease-ttl-ms': '15000',
  'control-planes': '2',
  nodes: '3',
  'timeout-s': '240',
  spread: 'false',
})
const spread = flagBool(opts.spread)
const n = Number(opts.sessions)
const leaseTtlMs = Number(opts['lease-ttl-ms'])
const s = (msValue: number) => `${(msValue / 1000).toFixed(2)} s`

await runBench('cluster-failover', 10 * 60_000, async () => {
  const nodeEnv = { LEASE_TTL_MS: String(leaseTtlMs), SESSION_NODE_CAPACITY: String(Math.max(500, n)) }
  const { sim, receiver, cluster, clients, link } = await clusterWithSessions({
    controlPlanes: Number(opts['control-planes']),
    sessionNodes: spread ? Number(opts.nodes) : 1,
    sessions: n,
    concurrency: Number(opts.concurrency),
    env: nodeEnv,
    label: 'failover',
  })
  const admin = cluster.admin()
  if (!spread) {
    for (let i = 2; i <= Number(opts.nodes); i++) await cluster.startNode(`node-${i}`, nodeEnv)
    await sleep(3000) // heartbeats in, so the leader sees live nodes to re-place onto
  }
  const linkedIds = new Set(link.linked.map((l) => l.id))
  const before = (await listSessions(clients[0]!)).filter((x) => linkedIds.has(x.id))
  const perNode: Record<string, string[]> = {}
  for (const session of before) {
    if (!session.nodeId) continue
    perNode[session.nodeId] ??= []
    perNode[session.nodeId]!.push(session.id)
  }
  const victim = Object.entries(perNode).sort((a, b) => b[1].length - a[1].length)[0]![0]
  const victims = new Set(perNode[victim])
  log(
    `placement: ${JSON.stringify(Object.fromEntries(Object.entries(perNode).map(([k, v]) => [k, v.length])))}; /v1/nodes: ${JSON.stringify(await nodeLoad(admin))}`,
  )
  const statsBefore = await sim.control.stats()

  // Events after the kill.
  let killAt = 0
  const reconnectedAt = new Map<string, number>()
  /** When each CONNECTED was committed (envelope occurredAt), to split login time from delivery time. */
  const committedAt = new Map<string, number>()
  let qrAfterKill = 0
  const statesAfterKill: Record<string, number> = {}
  receiver.on((event) => {
    if (!killAt || event.type !== 'connection.update') return
    statesAfterKill[event.data.state] = (statesAfterKill[event.data.state] ?? 0) + 1
    if (event.data.state === 'QR_READY') qrAfterKill++
    if (
      event.data.state === 'CONNECTED' &&
      victims.has(event.sessionId) &&
      !reconnectedAt.has(event.sessionId)
    ) {
      reconnectedAt.set(event.sessionId, event.receivedAt)
      committedAt.set(event.sessionId, Date.parse(event.occurredAt))
    }
  })

  log(`SIGKILL ${victim} (${victims.size} sessions), LEASE_TTL_MS=${leaseTtlMs}, load ${loadAverage()}`)
  killAt = performance.timeOrigin + performance.now()
  cluster.nodes.get(victim)!.process.signal('SIGKILL')

  const deadline = Date.now() + Number(opts['timeout-s']) * 1000
  let allElsewhereAt: number | undefined
  let firstAt: number | undefined
  let lastLog = 0
  while (Date.now() < deadline) {
    await sleep(1000)
    if (!firstAt && reconnectedAt.size) firstAt = Math.min(...reconnectedAt.values())
    const now = Date.now()
    if (reconnectedAt.size >= victims.size) {
      const sessions = (await listSessions(clients[1 % clients.length]!)).filter((x) => victims.has(x.id))
      if (sessions.every((x) => x.state === 'CONNECTED' && x.nodeId && x.nodeId !== victim)) {
        allElsewhereAt = performance.timeOrigin + performance.now()
        break
      }
    }
    if (now - lastLog > 5000) {
      lastLog = now
      log(
        `  +${s(performance.timeOrigin + performance.now() - killAt)}: ${reconnectedAt.size}/${victims.size} CONNECTED again, load ${loadAverage()}`,
      )
    }
  }
  const recovery = summary([...reconnectedAt.values()].map((at) => at - killAt))
  const statsAfter = await sim.control.stats()
  const finalSessions = (await listSessions(clients[0]!)).filter((x) => linkedIds.has(x.id))
  const finalStates: Record<string, number> = {}
  for (const x of finalSessions) finalStates[x.state] = (finalStates[x.state] ?? 0) + 1
  const finalPlacement: Record<string, number> = {}
  for (const x of finalSessions)
    finalPlacement[x.nodeId ?? 'none'] = (finalPlacement[x.nodeId ?? 'none'] ?? 0) + 1
  const lastConnected = reconnectedAt.size ? Math.max(...reconnectedAt.values()) - killAt : Number.NaN
  const targetMs = leaseTtlMs + 30_000
  const committed = summary([...committedAt.values()].map((at) => at - killAt))
  const delivery = summary(
    [...committedAt.entries()].map(([sessionId, at]) => reconnectedAt.get(sessionId)! - at),
  )

  const lines = [
    '',
    '=== cluster-failover results ===',
    `command: npx tsx bench/cluster-failover.ts --sessions ${n} --concurrency ${opts.concurrency} --lease-ttl-ms ${leaseTtlMs} --control-planes ${opts['control-planes']} --nodes ${opts.nodes}${spread ? ' --spread' : ''}`,
    `machine: load average (1/5/15 min) ${loadAverage()}`,
    `linking: ${link.linked.length}/${n} sessions in ${s(link.elapsedMs)} (${((link.linked.length / link.elapsedMs) * 1000).toFixed(2)}/s), failures ${link.failures.length}`,
    `killed ${victim} holding ${victims.size} sessions (placement before: ${JSON.stringify(Object.fromEntries(Object.entries(perNode).map(([k, v]) => [k, v.length])))})`,
    `first session CONNECTED again after ${firstAt ? s(firstAt - killAt) : 'n/a'}; last after ${s(lastConnected)}; ${reconnectedAt.size}/${victims.size} reconnected`,
    `per-session kill → CONNECTED webhook: p50 ${s(recovery.p50)}  p95 ${s(recovery.p95)}  max ${s(recovery.max)}`,
    `  split: kill → CONNECTED committed p50 ${s(committed.p50)}  p95 ${s(committed.p95)}  max ${s(committed.max)}; committed → webhook received p50 ${s(delivery.p50)}  p95 ${s(delivery.p95)}  max ${s(delivery.max)}`,
    `all ${victims.size} CONNECTED on other nodes (webhooks + GET /v1/sessions) after: ${allElsewhereAt ? s(allElsewhereAt - killAt) : `NOT within ${opts['timeout-s']} s`}   target ≤ lease TTL + 30 s = ${s(targetMs)}: ${verdict(!!allElsewhereAt && allElsewhereAt - killAt <= targetMs)}`,
    `sim replaced conflicts during failover: ${statsAfter.replaced - statsBefore.replaced} (whole run ${statsAfter.replaced}); maxConcurrentPerDevice (whole run) ${statsAfter.maxConcurrentPerDevice}; sim QRs issued after kill ${statsAfter.qrsIssued - statsBefore.qrsIssued}`,
    `QR_READY webhooks after kill: ${qrAfterKill} (target 0); connection.update states after kill: ${JSON.stringify(statesAfterKill)}`,
    `final: states ${JSON.stringify(finalStates)}, placement ${JSON.stringify(finalPlacement)}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
})
