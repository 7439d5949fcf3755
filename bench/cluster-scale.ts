// `npx tsx bench/cluster-scale.ts [--sessions 2000] [--nodes 3] [--control-planes 1] [--concurrency 16]
//                                 [--idle-ms 45000] [--link-budget-s 330] [--reuse] [--reset] [--max-minutes 10.5]`
//
// N sessions across 3 session-node processes (plus control-plane(s), private Redis, Postgres; wa-sim as its
// own process). Reports RSS per node process and per session, time to link / to log in, and whether every
// session stayed CONNECTED through --idle-ms (covers Baileys' 30 s keepalive).
//
// Fresh pairings cost Baileys ~250 ms CPU each (plus the gateway's encrypted key writes), so 2,000 of them do
// not fit in one ≤ 10 min run on this 2-core machine. `--reuse` keeps the bench database (wa_bench_scale_keep),
// the simulator's state file and the keys/tenant/session list (bench/results/cluster-scale-*.json) between
// runs: sessions linked by earlier runs log in with their stored credentials (a real Noise handshake + login
// + post-login queries, as after a cluster restart: POST /connect answers CONNECTED without a QR), and each
// run links fresh sessions (real QR pairing) within --link-budget-s until N is reached. The output says how
// many sessions were stored logins and how many fresh pairings. `--reset` deletes the kept state first.
// Without `--reuse` everything is fresh and dropped at the end (so N is capped by the link budget).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateSecretBoxKey } from '@wa-cluster/shared'
import { nodeCpu } from './support/cluster-setup.js'
import {
  apiFailure,
  benchDatabase,
  createClient,
  createTenant,
  dropDatabase,
  flagBool,
  flags,
  linkSessions,
  listSessions,
  loadAverage,
  log,
  onCleanup,
  persistentDatabase,
  procStats,
  RESULTS_DIR,
  runBench,
  scrapeMetric,
  sleep,
  startBenchCluster,
  startHookReceiver,
  startSimProcess,
  summary,
  trackStates,
  verdict,
} from './support/common.js'

const opts = flags({
  sessions: '2000',
  nodes: '3',
  'control-planes': '1',
  concurrency: '16',
  'idle-ms': '45000',
  'link-budget-s': '330',
  reuse: 'false',
  reset: 'false',
  'max-minutes': '10.5',
})
const target = Number(opts.sessions)
const nodeCount = Number(opts.nodes)
const idleMs = Number(opts['idle-ms'])
const reuse = flagBool(opts.reuse)
const KEEP_DB = 'wa_bench_scale_keep'
const metaFile = join(RESULTS_DIR, 'cluster-scale-state.json')
const simStateFile = join(RESULTS_DIR, 'cluster-scale-sim.json')
type Meta = {
  adminKey: string
  authStateKey: string
  tenantKey: string
  phonePrefix: string
  phoneOffset?: number
  sessions: { id: string; phone: string }[]
}
const mb = (v: number) => `${v.toFixed(1)} MB`

await runBench('cluster-scale', Number(opts['max-minutes']) * 60_000, async () => {
  const runStarted = performance.now()
  log(`load average at start: ${loadAverage()}`)
  if (flagBool(opts.reset)) {
    await dropDatabase(KEEP_DB)
    rmSync(metaFile, { force: true })
    rmSync(simStateFile, { force: true })
    log('reset: kept database, simulator state and session list deleted')
  }
  let meta: Meta | undefined
  let databaseUrl: string
  if (reuse) {
    const db = await persistentDatabase(KEEP_DB)
    databaseUrl = db.url
    if (db.existed && existsSync(metaFile) && existsSync(simStateFile))
      meta = JSON.parse(readFileSync(metaFile, 'utf8'))
    else if (db.existed) {
      // Inconsistent leftovers: start over rather than log in with credentials the simulator forgot.
      await dropDatabase(KEEP_DB)
      databaseUrl = (await persistentDatabase(KEEP_DB)).url
    }
    log(
      meta
        ? `reuse: ${meta.sessions.length} stored sessions in ${KEEP_DB}`
        : `reuse: no stored state yet, starting ${KEEP_DB}`,
    )
  } else databaseUrl = (await benchDatabase('scale')).url

  const sim = await startSimProcess(reuse ? { stateFile: simStateFile } : {})
  const receiver = await startHookReceiver()
  const tracker = trackStates(receiver)
  const capacity = String(Math.ceil((target / nodeCount) * 1.5))
  const cluster = await startBenchCluster({
    controlPlanes: Number(opts['control-planes']),
    sessionNodes: nodeCount,
    simUrl: sim.url,
    simRootKey: sim.rootPublicKey,
    databaseUrl,
    adminKey: meta?.adminKey ?? `admin-${generateSecretBoxKey()}`,
    authStateKey: meta?.authStateKey,
    env: { SESSION_NODE_CAPACITY: capacity },
    nodeStopSignal: reuse ? 'SIGTERM' : 'SIGKILL',
  })
  const baseline: Record<string, number> = {}
  const heapBase: Record<string, number> = {}
  await sleep(3000)
  for (const [id, node] of cluster.nodes) {
    baseline[id] = procStats(node.process.child.pid!).rssMb
    heapBase[id] =
      (await scrapeMetric(`http://127.0.0.1:${node.port}/metrics`, 'nodejs_heap_size_used_bytes')) ??
      Number.NaN
  }
  log(
    `cluster up (capacity ${capacity}/node); node baseline RSS ${JSON.stringify(Object.fromEntries(Object.entries(baseline).map(([k, v]) => [k, Math.round(v)])))} MB`,
  )

  const cpUrl = cluster.controlPlanes[0]!.url
  if (!meta) {
    const created = await createTenant(cpUrl, cluster.adminKey, receiver.url, 'scale')
    meta = {
      adminKey: cluster.adminKey,
      authStateKey: cluster.authStateKey,
      tenantKey: created.tenantKey,
      phonePrefix: '62890',
      sessions: [],
    }
  } else {
    const tenant = createClient({ baseUrl: cpUrl, apiKey: meta.tenantKey })
    const webhook = await tenant.PUT('/v1/webhook', { body: { url: receiver.url } })
    if (!webhook.data) throw apiFailure('put webhook', webhook)
  }
  const saveMeta = () => reuse && meta && writeFileSync(metaFile, JSON.stringify(meta))
  saveMeta()
  onCleanup(saveMeta)
  const clients = cluster.controlPlanes.map((cp) =>
    createClient({ baseUrl: cp.url, apiKey: meta!.tenantKey }),
  )
  if (reuse) {
    // Runs before the nodes stop: every kept session is disconnected through the API (credentials kept),
    // so the next run's nodes start empty (honest baseline) and POST /connect logs each one in again.
    onCleanup(async () => {
      const list = meta!.sessions
      log(`reuse: disconnecting ${list.length} sessions (credentials kept) for the next run`)
      let next = 0
      await Promise.all(
        Array.from({ length: 32 }, async (_, w) => {
          while (next < list.length)
            await clients[w % clients.length]!.POST('/v1/sessions/{sessionId}/disconnect', {
              params: { path: { sessionId: list[next++]!.id } },
            })
        }),
      )
    })
  }
  const keptIds = new Set(meta.sessions.map((x) => x.id))
  const running = (await listSessions(clients[0]!)).filter(
    (r) => keptIds.has(r.id) && ['CONNECTED', 'CONNECTING', 'RECONNECTING'].includes(r.state),
  ).length
  if (running)
    log(
      `WARNING: ${running} stored sessions were already running when the nodes started (previous run did not disconnect them): the RSS baseline includes them`,
    )
  const cpuStart = nodeCpu(cluster)

  // ---------------------------------------------------------------- stored sessions: log in again
  let storedLogin:
    | { n: number; ms: number; connected: number; qr: number; other: Record<string, number> }
    | undefined
  if (meta.sessions.length) {
    const started = performance.now()
    const other: Record<string, number> = {}
    let next = 0
    let qr = 0
    let lastLog = 0
    const stored = meta.sessions
    await Promise.all(
      Array.from({ length: 32 }, async (_, worker) => {
        while (next < stored.length) {
          const session = stored[next++]!
          const response = await clients[worker % clients.length]!.POST('/v1/sessions/{sessionId}/connect', {
            params: { path: { sessionId: session.id } },
          })
          const state = response.data?.state ?? `http ${response.response.status}`
          if (state === 'QR_READY') qr++
          if (state !== 'CONNECTED') other[state] = (other[state] ?? 0) + 1
          if (Date.now() - lastLog > 5000) {
            lastLog = Date.now()
            log(`stored logins: ${next}/${stored.length} answered, load ${loadAverage()}`)
          }
        }
      }),
    )
    const rows = await listSessions(clients[0]!)
    const connected = rows.filter((r) => r.state === 'CONNECTED').length
    storedLogin = { n: stored.length, ms: performance.now() - started, connected, qr, other }
    log(
      `stored logins: ${connected}/${stored.length} CONNECTED in ${((performance.now() - started) / 1000).toFixed(1)} s (no QR: ${qr === 0}); not CONNECTED answers ${JSON.stringify(other)}`,
    )
    // A stored session that could not log in (e.g. sim forgot it) is dropped from the kept list.
    const bad = new Set(rows.filter((r) => r.state !== 'CONNECTED').map((r) => r.id))
    if (bad.size) {
      meta.sessions = meta.sessions.filter((x) => !bad.has(x.id))
      for (const sessionId of bad)
        await clients[0]!.DELETE('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })
      log(`removed ${bad.size} stored sessions that did not come back`)
    }
  }

  // ---------------------------------------------------------------- fresh pairings within the budget
  const budgetMs = Number(opts['link-budget-s']) * 1000 - (performance.now() - runStarted)
  const toLink = Math.max(0, target - meta.sessions.length)
  let fresh = { linked: 0, ms: 0, failures: 0, stoppedByBudget: false }
  if (toLink > 0 && budgetMs > 10_000) {
    const first = meta.sessions.length
    const started = performance.now()
    let lastSave = 0
    const result = await linkSessions({
      clients,
      sim: sim.control,
      tracker,
      count: toLink,
      concurrency: Number(opts.concurrency),
      phonePrefix: meta.phonePrefix,
      firstIndex: first + (meta.phoneOffset ?? 0),
      label: 'fresh pairing',
      timeoutPerSessionMs: 180_000,
      deadlineAt: started + budgetMs,
      onLinked: (l) => {
        meta!.sessions.push({ id: l.id, phone: l.phone })
        if (performance.now() - lastSave > 5000) {
          lastSave = performance.now()
          saveMeta()
        }
      },
    })
    saveMeta()
    log(result.phases)
    // Failed indexes may have left half-linked phones: later runs skip past every index used.
    meta.phoneOffset = (meta.phoneOffset ?? 0) + result.failures.length
    if (result.failures[0]) log(`link failures: ${result.failures.length}; first: ${result.failures[0]}`)
    const done = result.linked.length
    fresh.failures = result.failures.length
    fresh = {
      linked: done,
      ms: performance.now() - started,
      failures: fresh.failures,
      stoppedByBudget: done < toLink,
    }
  }
  const cpuLinked = nodeCpu(cluster)

  // ---------------------------------------------------------------- idle through a keepalive
  const total = meta.sessions.length
  const ids = new Set(meta.sessions.map((x) => x.id))
  const linkedRss: Record<string, number> = {}
  for (const [id, node] of cluster.nodes) linkedRss[id] = procStats(node.process.child.pid!).rssMb
  let drops = 0
  const dropStates: Record<string, number> = {}
  const offIdle = receiver.on((event) => {
    if (event.type === 'connection.update' && ids.has(event.sessionId) && event.data.state !== 'CONNECTED') {
      drops++
      dropStates[event.data.state] = (dropStates[event.data.state] ?? 0) + 1
    }
  })
  const simBefore = await sim.control.stats()
  log(`idling ${idleMs / 1000} s with ${total} sessions`)
  const idleEnd = Date.now() + idleMs
  while (Date.now() < idleEnd) {
    await sleep(Math.min(15_000, idleEnd - Date.now()))
    log(
      `  idle: ${JSON.stringify(Object.fromEntries([...cluster.nodes].map(([id, n]) => [id, `${Math.round(procStats(n.process.child.pid!).rssMb)} MB`])))}, non-CONNECTED events ${drops}, load ${loadAverage()}`,
    )
  }
  offIdle()
  const simAfter = await sim.control.stats()
  const rows = (await listSessions(clients[0]!)).filter((r) => ids.has(r.id))
  const perNode: Record<string, number> = {}
  for (const r of rows)
    if (r.state === 'CONNECTED') perNode[r.nodeId ?? 'none'] = (perNode[r.nodeId ?? 'none'] ?? 0) + 1
  const connected = rows.filter((r) => r.state === 'CONNECTED').length
  const nodeLines: string[] = []
  let rssSum = 0
  let baseSum = 0
  const perSession: number[] = []
  for (const [id, node] of cluster.nodes) {
    const rss = procStats(node.process.child.pid!).rssMb
    const heap =
      (await scrapeMetric(`http://127.0.0.1:${node.port}/metrics`, 'nodejs_heap_size_used_bytes')) ??
      Number.NaN
    const sessions = perNode[id] ?? 0
    rssSum += rss
    baseSum += baseline[id]!
    if (sessions) perSession.push((rss - baseline[id]!) / sessions)
    nodeLines.push(
      `    ${id}: ${sessions} sessions, RSS ${mb(baseline[id]!)} → ${mb(rss)} (after linking ${mb(linkedRss[id]!)}), ` +
        `${sessions ? mb((rss - baseline[id]!) / sessions) : 'n/a'} per session; heap ${mb(heapBase[id]! / 2 ** 20)} → ${mb(heap / 2 ** 20)}; ` +
        `CPU ${(cpuLinked[id]! - cpuStart[id]!).toFixed(1)} s during login/linking`,
    )
  }
  const simRss = procStats(sim.process.child.pid!).rssMb
  const per = summary(perSession)

  const lines = [
    '',
    '=== cluster-scale results ===',
    `command: npx tsx bench/cluster-scale.ts --sessions ${target} --nodes ${nodeCount} --control-planes ${opts['control-planes']} --concurrency ${opts.concurrency} --idle-ms ${idleMs} --link-budget-s ${opts['link-budget-s']}${reuse ? ' --reuse' : ''}`,
    `machine: load average (1/5/15 min) ${loadAverage()}`,
    `mode: ${reuse ? `--reuse (database ${KEEP_DB} + simulator state file kept between runs)` : 'fresh (everything created and dropped in this run)'}`,
    storedLogin
      ? `stored credentials (linked by earlier runs): ${storedLogin.connected}/${storedLogin.n} CONNECTED via POST /connect in ${(storedLogin.ms / 1000).toFixed(1)} s (${((storedLogin.n / storedLogin.ms) * 1000).toFixed(1)}/s), QR answers ${storedLogin.qr}`
      : 'stored credentials: none (first run)',
    `fresh QR pairings this run: ${fresh.linked} in ${(fresh.ms / 1000).toFixed(1)} s (${fresh.ms ? ((fresh.linked / fresh.ms) * 1000).toFixed(2) : '0'}/s, concurrency ${opts.concurrency}), failures ${fresh.failures}${fresh.stoppedByBudget ? ` — stopped by the ${opts['link-budget-s']} s link budget; run again with --reuse to continue` : ''}`,
    `sessions at the end: ${total} of the ${target} asked (${verdict(total >= target)} the ${target} target); CONNECTED after ${idleMs / 1000} s idle: ${connected}/${total}; non-CONNECTED connection.update during idle: ${drops} ${JSON.stringify(dropStates)}`,
    `sim during idle: replaced ${simAfter.replaced - simBefore.replaced}, logins ${simAfter.logins - simBefore.logins}; live sockets ${simAfter.online}; sim RSS ${mb(simRss)}`,
    'per node process (RSS from /proc VmRSS, baseline = 3 s after "session-node ready"):',
    ...nodeLines,
    `all nodes: ${mb(rssSum)} RSS for ${connected} sessions (${mb(baseSum)} baseline); (RSS − baseline)/sessions per node: ${perSession.map((v) => mb(v)).join(', ')} (max ${mb(per.max)}); total ${mb(rssSum / Math.max(1, connected))} per session including the baselines`,
    `wall time ${((performance.now() - runStarted) / 1000).toFixed(1)} s`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
})
