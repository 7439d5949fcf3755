// `npx tsx bench/gateway-latency.ts [--sessions 30] [--warmup 3] [--linked 10] [--contacts 5] [--rate 200] [--seconds 10]`
//
// Through the public API on loopback, against one all-in-one gateway process (real Postgres database
// created for the run, real Redis at 127.0.0.1:6379 with a private key prefix), wa-sim as its own process:
//  (a) POST /v1/sessions/{id}/connect → response carrying the first QR (sequential, one at a time;
//      the first --warmup connects are reported separately, not counted);
//  (b) inbound message → webhook: the simulator's /send is called at --rate msg/s for --seconds over
//      --linked sessions from --contacts contacts (open loop: sends are fired on schedule, not after the
//      previous one returns); latency = just before the send call → webhook arrival, matched by text.
//      Every contact↔session pair exchanges one warm-up message first (Signal session set-up).
import { randomBytes } from 'node:crypto'
import {
  apiFailure,
  createTenant,
  flags,
  gatewayWithSim,
  loadAverage,
  log,
  ms,
  postgresCpuSeconds,
  procStats,
  runBench,
  scrapeMetric,
  sleep,
  summary,
  verdict,
} from './support/common.js'

const opts = flags({
  sessions: '30',
  warmup: '3',
  linked: '10',
  contacts: '5',
  rate: '200',
  seconds: '10',
})
const sessionCount = Number(opts.sessions)
const warmupCount = Number(opts.warmup)
const linkedCount = Math.min(Number(opts.linked), sessionCount + warmupCount)
const contactCount = Number(opts.contacts)
const rate = Number(opts.rate)
const seconds = Number(opts.seconds)

await runBench('gateway-latency', 9 * 60_000, async () => {
  const { sim, receiver, tracker, gateway } = await gatewayWithSim('latency')
  const { tenant } = await createTenant(gateway.baseUrl, gateway.adminKey, receiver.url)

  // ---------------------------------------------------------------- (a) connect → first QR
  const total = warmupCount + sessionCount
  const connectMs: number[] = []
  const warmupMs: number[] = []
  const sessions: { id: string; qr: string }[] = []
  for (let i = 0; i < total; i++) {
    const created = await tenant.POST('/v1/sessions', { body: { name: `lat-${i}` } })
    if (!created.data) throw apiFailure('create session', created)
    const id = created.data.id
    const started = performance.now()
    const connect = await tenant.POST('/v1/sessions/{sessionId}/connect', {
      params: { path: { sessionId: id } },
    })
    const elapsed = performance.now() - started
    if (connect.data?.state !== 'QR_READY' || !connect.data.qr)
      throw apiFailure(`connect ${id} (state ${connect.data?.state})`, connect)
    ;(i < warmupCount ? warmupMs : connectMs).push(elapsed)
    sessions.push({ id, qr: connect.data.qr })
    if ((i + 1) % 10 === 0) log(`connect → QR: ${i + 1}/${total} (last ${ms(elapsed)})`)
  }
  const qr = summary(connectMs)
  const loadAfterA = loadAverage()

  // ---------------------------------------------------------------- (b) link, warm up, then the run
  const phonePrefix = `6285${randomBytes(2).readUInt16BE() % 10}`
  const linked: { id: string; phone: string }[] = []
  for (let i = 0; i < linkedCount; i++) {
    const session = sessions[i]!
    const phone = `${phonePrefix}${String(i).padStart(7, '0')}`
    const connected = tracker.waitFor(session.id, 'CONNECTED', 60_000)
    await sim.control.scan({ qr: session.qr, phone, pushName: `Lat ${i}` })
    await connected
    linked.push({ id: session.id, phone })
  }
  // The others stop showing QRs.
  for (const session of sessions.slice(linkedCount))
    await tenant.POST('/v1/sessions/{sessionId}/disconnect', { params: { path: { sessionId: session.id } } })
  log(`linked ${linked.length} sessions`)

  const contacts = Array.from(
    { length: contactCount },
    (_, i) => `6281${phonePrefix.slice(-1)}9${String(i).padStart(6, '0')}`,
  )
  for (const pn of contacts) await sim.control.addContact({ pn, name: `Contact ${pn.slice(-3)}` })

  const sentAt = new Map<string, number>()
  const latency = new Map<string, number>()
  // Split at the envelope's occurredAt (the gateway's clock = ours): ingress = send → event occurred
  // (sim → Baileys decrypt → outbox), egress = occurred → webhook received (outbox → dispatcher → HTTP).
  const ingress = new Map<string, number>()
  const egress = new Map<string, number>()
  receiver.on((event) => {
    if (event.type !== 'messages.upsert') return
    for (const message of event.data.messages as { text?: string }[]) {
      const start = message.text ? sentAt.get(message.text) : undefined
      if (start !== undefined && !latency.has(message.text!)) {
        latency.set(message.text!, event.receivedAt - start)
        const occurred = Date.parse(event.occurredAt)
        ingress.set(message.text!, occurred - start)
        egress.set(message.text!, event.receivedAt - occurred)
      }
    }
  })
  const now = () => performance.timeOrigin + performance.now()
  const send = async (from: string, to: string, text: string) => {
    sentAt.set(text, now())
    const result = await sim.control.send({ from, to, text })
    if (result.devices !== 1) throw new Error(`send to ${to} reached ${result.devices} devices`)
  }
  // Warm-up: one message per contact↔session pair (first message carries the Signal session set-up).
  const tag = randomBytes(3).toString('hex')
  const warmTexts: string[] = []
  for (const session of linked)
    for (const contact of contacts) {
      const text = `warm ${tag} ${contact} ${session.phone}`
      warmTexts.push(text)
      await send(contact, session.phone, text)
    }
  const warmDeadline = Date.now() + 60_000
  while (warmTexts.some((t) => !latency.has(t)) && Date.now() < warmDeadline) await sleep(50)
  const warm = summary(warmTexts.map((t) => latency.get(t) ?? Number.NaN).filter((v) => !Number.isNaN(v)))
  log(`warm-up: ${warm.n}/${warmTexts.length} delivered, p50 ${ms(warm.p50)} max ${ms(warm.max)}`)

  // Steady state: the warm-up's first messages consumed one-time pre-keys, and Baileys answers the
  // simulator's "pre-key count low" by generating and storing a new batch. Wait until the gateway's
  // CPU falls back to idle (< 15% of a core over a second) before the timed run.
  const settleStart = Date.now()
  for (let busy = 1; busy > 0.15 && Date.now() - settleStart < 60_000; ) {
    const before = procStats(gateway.pid).cpuSeconds
    await sleep(1000)
    busy = procStats(gateway.pid).cpuSeconds - before
  }
  log(`gateway idle again ${((Date.now() - settleStart) / 1000).toFixed(1)} s after the warm-up`)

  const totalMessages = rate * seconds
  const runTexts: string[] = []
  const sendErrors: string[] = []
  const pending: Promise<void>[] = []
  const metricsUrl = gateway.metricsUrl
  const gcBefore = (await scrapeMetric(metricsUrl, 'nodejs_gc_duration_seconds_sum', 'sum')) ?? Number.NaN
  const sentSecond: number[] = []
  // Event-loop lag of the gateway while the run goes (prom-client resets its lag histogram at each
  // scrape, so each sample covers the last second).
  const lagSamples: string[] = []
  const lagTimer = setInterval(async () => {
    const p99 = await scrapeMetric(metricsUrl, 'nodejs_eventloop_lag_p99_seconds')
    const max = await scrapeMetric(metricsUrl, 'nodejs_eventloop_lag_max_seconds')
    lagSamples.push(`${((p99 ?? Number.NaN) * 1000).toFixed(0)}/${((max ?? Number.NaN) * 1000).toFixed(0)}`)
  }, 1000)
  const gwBefore = procStats(gateway.pid)
  const simBefore = procStats(sim.process.child.pid!)
  const pgBefore = postgresCpuSeconds()
  const benchBefore = process.cpuUsage()
  const runStart = performance.now()
  log(
    `sending ${totalMessages} messages at ${rate}/s over ${linked.length} sessions from ${contacts.length} contacts`,
  )
  for (let i = 0; i < totalMessages; i++) {
    const due = runStart + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const session = linked[i % linked.length]!
    const contact = contacts[Math.floor(i / linked.length) % contacts.length]!
    const text = `run ${tag} #${i}`
    runTexts.push(text)
    sentSecond.push(Math.floor((performance.now() - runStart) / 1000))
    pending.push(
      send(contact, session.phone, text).catch((error) => void sendErrors.push((error as Error).message)),
    )
    if ((i + 1) % rate === 0)
      log(`  sent ${i + 1}/${totalMessages}, received ${runTexts.filter((t) => latency.has(t)).length}`)
  }
  const sendPhaseMs = performance.now() - runStart
  await Promise.all(pending)
  const drainDeadline = Date.now() + 60_000
  while (runTexts.some((t) => !latency.has(t)) && Date.now() < drainDeadline) await sleep(50)
  clearInterval(lagTimer)
  const gcAfter = (await scrapeMetric(metricsUrl, 'nodejs_gc_duration_seconds_sum', 'sum')) ?? Number.NaN
  const perSecond: string[] = []
  for (let second = 0; second < seconds; second++) {
    const values = runTexts.flatMap((t, i) =>
      sentSecond[i] === second && latency.has(t) ? [latency.get(t)!] : [],
    )
    const s1 = summary(values)
    perSecond.push(`${second}s: p50 ${s1.p50.toFixed(0)} p99 ${s1.p99.toFixed(0)} max ${s1.max.toFixed(0)}`)
  }
  const gwAfter = procStats(gateway.pid)
  const simAfter = procStats(sim.process.child.pid!)
  const pgAfter = postgresCpuSeconds()
  const benchCpu = process.cpuUsage(benchBefore)
  const wallS = (performance.now() - runStart) / 1000
  const received = runTexts.filter((t) => latency.has(t))
  const lat = summary(received.map((t) => latency.get(t)!))
  const loadAfterB = loadAverage()

  // ---------------------------------------------------------------- figures
  const lines = [
    '',
    '=== gateway-latency results ===',
    `command: npx tsx bench/gateway-latency.ts --sessions ${sessionCount} --warmup ${warmupCount} --linked ${linkedCount} --contacts ${contactCount} --rate ${rate} --seconds ${seconds}`,
    `machine: load average (1/5/15 min) at end of (a): ${loadAfterA}; at end of (b): ${loadAfterB}`,
    '(a) POST /connect → first QR in the response (sequential, real Baileys in the gateway process)',
    `    warm-up connects (not counted): ${warmupMs.map((v) => ms(v)).join(', ')}`,
    `    n=${qr.n} p50 ${ms(qr.p50)}  p95 ${ms(qr.p95)}  max ${ms(qr.max)}  min ${ms(qr.min)}   target p50 ≤ 150 ms: ${verdict(qr.p50 <= 150)}`,
    `(b) sim /send call → messages.upsert webhook received (${rate}/s for ${seconds} s, ${linked.length} sessions, ${contacts.length} contacts)`,
    `    sent ${runTexts.length} in ${(sendPhaseMs / 1000).toFixed(2)} s (achieved ${(runTexts.length / (sendPhaseMs / 1000)).toFixed(1)}/s), send errors ${sendErrors.length}${sendErrors[0] ? ` (first: ${sendErrors[0]})` : ''}`,
    `    received ${received.length}/${runTexts.length}`,
    `    p50 ${ms(lat.p50)}  p95 ${ms(lat.p95)}  p99 ${ms(lat.p99)}  max ${ms(lat.max)}   targets p50 ≤ 20 ms: ${verdict(lat.p50 <= 20)}, p99 ≤ 100 ms: ${verdict(lat.p99 <= 100)}`,
    `    CPU during (b) over ${wallS.toFixed(1)} s wall (2 cores): gateway ${(gwAfter.cpuSeconds - gwBefore.cpuSeconds).toFixed(1)} s (user ${(gwAfter.userSeconds - gwBefore.userSeconds).toFixed(1)}, system ${(gwAfter.systemSeconds - gwBefore.systemSeconds).toFixed(1)}; ${(((gwAfter.cpuSeconds - gwBefore.cpuSeconds) * 1000) / runTexts.length).toFixed(2)} ms per message), sim ${(simAfter.cpuSeconds - simBefore.cpuSeconds).toFixed(1)} s, PostgreSQL ${(pgAfter - pgBefore).toFixed(1)} s, this bench process (contacts' HTTP calls, webhook receiver) ${((benchCpu.user + benchCpu.system) / 1e6).toFixed(1)} s; gateway RSS ${gwAfter.rssMb.toFixed(0)} MB`,
  ]
  const ing = summary(received.map((t) => ingress.get(t)!))
  const eg = summary(received.map((t) => egress.get(t)!))
  lines.push(
    `    split at envelope occurredAt (ms clock resolution): send → occurredAt p50 ${ms(ing.p50)} p99 ${ms(ing.p99)} max ${ms(ing.max)}; occurredAt → received p50 ${ms(eg.p50)} p99 ${ms(eg.p99)} max ${ms(eg.max)}`,
    `    by send second (ms): ${perSecond.join(' | ')}`,
    `    gateway event-loop lag p99/max (ms, prom-client, sampled each second): ${lagSamples.join(' ')}`,
    `    gateway GC time during (b): ${((gcAfter - gcBefore) * 1000).toFixed(0)} ms`,
  )
  process.stdout.write(`${lines.join('\n')}\n`)
})
