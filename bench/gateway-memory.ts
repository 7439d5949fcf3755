// `npx tsx bench/gateway-memory.ts [--sessions 100] [--idle-ms 45000] [--concurrency 8] [--settle-ms 5000] [--skip-bare]`
//
// RSS per idle connected session in an all-in-one gateway process (real Postgres database created for the
// run, real Redis), wa-sim as its own process. VmRSS from /proc/<pid>/status at baseline (after start-up
// and --settle-ms of quiet), then N sessions linked through the API + the simulator's scan, --idle-ms of
// idling (covers Baileys' 30 s keepalive), VmRSS again: (after − baseline)/N. Heap used comes from the
// gateway's /metrics (nodejs_heap_size_used_bytes). Each reading is taken twice: as the process stands
// (garbage not yet collected), then right after a full GC requested through the V8 inspector (the
// retained cost). The per-session figures are reported for both.
//
// Same-run baseline: the same N as bare Baileys clients with in-memory auth in ONE process
// (bench/support/bare-baileys.ts) against the same simulator, measured the same way, after the gateway
// was stopped (so the two never compete for CPU).
import { randomBytes } from 'node:crypto'
import {
  createTenant,
  flagBool,
  flags,
  gatewayWithSim,
  linkSessions,
  loadAverage,
  log,
  type ManagedProcess,
  onCleanup,
  procStats,
  runBench,
  scrapeMetric,
  sleep,
  startProcess,
  verdict,
} from './support/common.js'
import { heapSnapshotEnv, snapshotSummary } from './support/heap-summary.js'
import { collectGarbage, inspectorEnv } from './support/inspector-gc.js'

const opts = flags({
  sessions: '100',
  'idle-ms': '45000',
  concurrency: '8',
  'settle-ms': '5000',
  'skip-bare': 'false',
  // After the figures are taken: a V8 heap snapshot of each measured process, summarised by constructor.
  'heap-snapshot': 'false',
})
const snapshots = flagBool(opts['heap-snapshot'])
const snapshotLines: string[] = []
const n = Number(opts.sessions)
const idleMs = Number(opts['idle-ms'])
const concurrency = Number(opts.concurrency)
const settleMs = Number(opts['settle-ms'])
const mb = (v: number) => `${v.toFixed(1)} MB`

await runBench('gateway-memory', 9.5 * 60_000, async () => {
  const { sim, receiver, tracker, gateway } = await gatewayWithSim(
    'memory',
    snapshots ? heapSnapshotEnv() : inspectorEnv(),
  )
  const metricsUrl = gateway.metricsUrl
  const { tenant } = await createTenant(gateway.baseUrl, gateway.adminKey, receiver.url)
  await sleep(settleMs)
  const gwBase = procStats(gateway.pid)
  const gwHeapBase = (await scrapeMetric(metricsUrl, 'nodejs_heap_size_used_bytes')) ?? Number.NaN
  const gwBaseGc = await afterGc(gateway.process.lines, gateway.pid, metricsUrl)
  log(
    `gateway pid ${gateway.pid}: baseline RSS ${mb(gwBase.rssMb)}, heap used ${mb(gwHeapBase / 2 ** 20)}; after GC ${gcText(gwBaseGc)}`,
  )

  const prefix = `6286${randomBytes(1)[0]! % 10}`
  const result = await linkSessions({
    clients: [tenant],
    sim: sim.control,
    tracker,
    count: n,
    concurrency,
    phonePrefix: prefix,
    label: 'gateway linking',
  })
  if (result.failures.length) log(`link failures: ${result.failures.length}; first: ${result.failures[0]}`)
  const gwLinked = procStats(gateway.pid)
  log(
    `linked ${result.linked.length}/${n} in ${(result.elapsedMs / 1000).toFixed(1)} s; RSS now ${mb(gwLinked.rssMb)}; idling ${idleMs / 1000} s`,
  )
  await sleep(idleMs)
  const gwAfter = procStats(gateway.pid)
  const gwHeapAfter = (await scrapeMetric(metricsUrl, 'nodejs_heap_size_used_bytes')) ?? Number.NaN
  const gwAfterGc = await afterGc(gateway.process.lines, gateway.pid, metricsUrl)
  const stillConnected = tracker.count('CONNECTED')
  const gwPer = (gwAfter.rssMb - gwBase.rssMb) / result.linked.length
  const gwHeapPer = (gwHeapAfter - gwHeapBase) / 2 ** 20 / result.linked.length
  log(
    `gateway after idle: RSS ${mb(gwAfter.rssMb)}, heap ${mb(gwHeapAfter / 2 ** 20)}, ${stillConnected} CONNECTED`,
  )
  if (snapshots) {
    log('heap snapshot of the gateway…')
    snapshotLines.push(
      'gateway',
      ...(await snapshotSummary(gateway.pid, (sig) => gateway.process.signal(sig))),
    )
  }
  await gateway.process.stop('SIGTERM', 20_000)

  // ---------------------------------------------------------------- bare Baileys, same N, same sim
  let bare:
    | {
        base: number
        after: number
        heapBase: number
        heapAfter: number
        baseGc: GcReading | undefined
        afterGc: GcReading | undefined
        linked: number
        linkMs: number
      }
    | undefined
  if (!flagBool(opts['skip-bare'])) {
    const child: ManagedProcess = startProcess(
      'bare-baileys',
      'bench/support/bare-baileys.ts',
      snapshots ? heapSnapshotEnv() : inspectorEnv(),
      [
        '--url',
        sim.url,
        '--control',
        sim.controlUrl,
        '--root',
        sim.rootPublicKey,
        '--count',
        String(n),
        '--prefix',
        `6287${randomBytes(1)[0]! % 10}`,
        '--concurrency',
        String(concurrency),
      ],
    )
    onCleanup(() => child.stop('SIGKILL'))
    const pid = child.child.pid!
    const heap = async () => {
      const seen = child.lines.length
      child.signal('SIGUSR2')
      for (let i = 0; i < 100 && !child.lines.slice(seen).some((l) => l.includes('heapUsed')); i++)
        await sleep(20)
      const line = child.lines.slice(seen).find((l) => l.includes('heapUsed'))
      return line ? (JSON.parse(line).heapUsed as number) : Number.NaN
    }
    await child.waitForLine(/"ready":true/, 60_000)
    await sleep(settleMs)
    const base = procStats(pid).rssMb
    const heapBase = await heap()
    const baseGc = await afterGc(child.lines, pid, heap)
    log(`bare Baileys pid ${pid}: baseline RSS ${mb(base)}`)
    const started = performance.now()
    child.signal('SIGUSR1')
    let lastShown = ''
    const progress = setInterval(() => {
      const last = child.lines.filter((l) => l.includes('"linked"')).at(-1)
      if (!last || last === lastShown) return
      lastShown = last
      log(`bare linking: ${last}`)
    }, 5000)
    const done = await child.waitForLine(/"done":true/, 5 * 60_000)
    clearInterval(progress)
    const linkMs = performance.now() - started
    log(`bare: ${done}; idling ${idleMs / 1000} s`)
    await sleep(idleMs)
    bare = {
      base,
      after: procStats(pid).rssMb,
      heapBase,
      heapAfter: await heap(),
      baseGc,
      afterGc: await afterGc(child.lines, pid, heap),
      linked: JSON.parse(done).linked,
      linkMs,
    }
    if (snapshots) {
      log('heap snapshot of the bare Baileys process…')
      snapshotLines.push('bare Baileys', ...(await snapshotSummary(pid, (sig) => child.signal(sig))))
    }
    await child.stop('SIGTERM', 5000)
  }

  const lines = [
    '',
    '=== gateway-memory results ===',
    `command: npx tsx bench/gateway-memory.ts --sessions ${n} --idle-ms ${idleMs} --concurrency ${concurrency} --settle-ms ${settleMs}`,
    `machine: load average (1/5/15 min) ${loadAverage()}`,
    `all-in-one gateway (1 process, Postgres-backed auth, webhooks, outbox):`,
    `    linked ${result.linked.length}/${n} in ${(result.elapsedMs / 1000).toFixed(1)} s; CONNECTED after ${idleMs / 1000} s idle: ${stillConnected}`,
    `    ${result.phases}`,
    `    RSS baseline ${mb(gwBase.rssMb)} → after idle ${mb(gwAfter.rssMb)} (right after linking ${mb(gwLinked.rssMb)})`,
    `    RSS per idle session, as it stands: ${mb(gwPer)}   target ≤ 2 MB: ${verdict(gwPer <= 2)}`,
    `    heap used ${mb(gwHeapBase / 2 ** 20)} → ${mb(gwHeapAfter / 2 ** 20)}: ${mb(gwHeapPer)} per session`,
    ...gcLines(gwBaseGc, gwAfterGc, result.linked.length, true),
  ]
  if (bare) {
    const barePer = (bare.after - bare.base) / bare.linked
    lines.push(
      `bare Baileys clients, in-memory auth, 1 process (same simulator, same N, same method):`,
      `    linked ${bare.linked}/${n} in ${(bare.linkMs / 1000).toFixed(1)} s`,
      `    RSS baseline ${mb(bare.base)} → after idle ${mb(bare.after)}: ${mb(barePer)} per session`,
      `    heap used ${mb(bare.heapBase / 2 ** 20)} → ${mb(bare.heapAfter / 2 ** 20)}: ${mb((bare.heapAfter - bare.heapBase) / 2 ** 20 / bare.linked)} per session`,
      ...gcLines(bare.baseGc, bare.afterGc, bare.linked, false),
      `same-run ratio gateway/bare RSS per session, as it stands: ${(gwPer / barePer).toFixed(2)}×`,
    )
    const gwGcPer = perSession(gwBaseGc, gwAfterGc, result.linked.length)
    const bareGcPer = perSession(bare.baseGc, bare.afterGc, bare.linked)
    if (gwGcPer && bareGcPer)
      lines.push(
        `same-run ratio gateway/bare RSS per session, after full GC: ${(gwGcPer.rss / bareGcPer.rss).toFixed(2)}×`,
      )
  }
  lines.push(...snapshotLines)
  process.stdout.write(`${lines.join('\n')}\n`)
})

type GcReading = { rssMb: number; heapMb: number }

/** RSS and heap used right after a full GC through the inspector; undefined when snapshots are on. */
async function afterGc(
  lines: string[],
  pid: number,
  heap: string | (() => Promise<number>),
): Promise<GcReading | undefined> {
  if (snapshots) return undefined
  await collectGarbage(lines)
  const used =
    typeof heap === 'string'
      ? ((await scrapeMetric(heap, 'nodejs_heap_size_used_bytes')) ?? Number.NaN)
      : await heap()
  return { rssMb: procStats(pid).rssMb, heapMb: used / 2 ** 20 }
}

function gcText(reading: GcReading | undefined): string {
  return reading ? `RSS ${mb(reading.rssMb)}, heap used ${mb(reading.heapMb)}` : 'not taken'
}

function perSession(before: GcReading | undefined, after: GcReading | undefined, count: number) {
  if (!before || !after || count === 0) return undefined
  return { rss: (after.rssMb - before.rssMb) / count, heap: (after.heapMb - before.heapMb) / count }
}

function gcLines(
  before: GcReading | undefined,
  after: GcReading | undefined,
  count: number,
  withTarget: boolean,
): string[] {
  const per = perSession(before, after, count)
  if (!per) return []
  return [
    `    after a full GC: ${gcText(before)} → ${gcText(after)}`,
    `    RSS per idle session, after full GC: ${mb(per.rss)}${withTarget ? `   target ≤ 2 MB: ${verdict(per.rss <= 2)}` : ''}; heap ${mb(per.heap)} per session`,
  ]
}
