// `npx tsx bench/event-stream.ts [--streams 100] [--linked 10] [--contacts 5] [--rate 200] [--seconds 10] [--idle 10000] [--batch-ms 10]`
//
// The live event stream through the public API on loopback, against one all-in-one gateway process
// (real Postgres database created for the run, real Redis at 127.0.0.1:6379 with a private key prefix),
// wa-sim as its own process:
//  (a) inbound message → SSE stream: --streams SSE connections of one tenant are open; the simulator's
//      /send is called at --rate msg/s for --seconds over --linked sessions (open loop); latency = just
//      before the send call → the `messages.upsert` event read on each stream, matched by text. Every
//      (message, stream) pair is one sample.
//  (c) outbox append → SSE stream, the stream path alone: the same streams, events appended straight
//      to the outbox (as the session-node's append does) at --rate/s for --seconds; latency = just
//      before the append → read on each stream.
//  (b) RSS of the gateway with --idle idle SSE streams open (opened 200 at a time; each counted once
//      it said `: ready`), against its RSS before them.
// --batch-ms sets the gateway's STREAM_BATCH_MS (the shortest time between two feed reads; 0 = a read
// per commit), to compare the stream path with and without batching.

import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { appendAndClaimEvents } from '@wa-cluster/core'
import { openDatabase } from '@wa-cluster/db'
import { receivedText } from '../test-support/seed.js'
import {
  apiFailure,
  createTenant,
  flags,
  gatewayWithSim,
  loadAverage,
  log,
  ms,
  procStats,
  runBench,
  scrapeMetric,
  sleep,
  summary,
  verdict,
} from './support/common.js'

const opts = flags({
  streams: '100',
  linked: '10',
  contacts: '5',
  rate: '200',
  seconds: '10',
  idle: '10000',
  'batch-ms': '10',
})
const streamCount = Number(opts.streams)
const linkedCount = Number(opts.linked)
const contactCount = Number(opts.contacts)
const rate = Number(opts.rate)
const seconds = Number(opts.seconds)
const idleCount = Number(opts.idle)
const batchMs = String(Number(opts['batch-ms']))

/** One SSE connection read by hand: calls `onEvent` with each event's data, resolves once `: ready` came. */
function openStream(
  url: string,
  apiKey: string,
  onEvent: (data: string) => void,
): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      url,
      { headers: { authorization: `Bearer ${apiKey}` }, agent: false },
      (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`stream answered ${response.statusCode}`))
          response.resume()
          return
        }
        response.setEncoding('utf8')
        let buffer = ''
        let ready = false
        response.on('data', (chunk: string) => {
          buffer += chunk
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const frame = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            if (!ready && frame.includes(': ready')) {
              ready = true
              resolve({ close: () => request.destroy() })
            }
            for (const line of frame.split('\n')) if (line.startsWith('data: ')) onEvent(line.slice(6))
          }
        })
      },
    )
    request.on('error', reject)
  })
}

await runBench('event-stream', 12 * 60_000, async () => {
  const { sim, database, receiver, tracker, gateway } = await gatewayWithSim('event_stream', {
    STREAM_BATCH_MS: batchMs,
  })
  const { tenant, tenantKey } = await createTenant(gateway.baseUrl, gateway.adminKey, receiver.url)
  const streamUrl = `${gateway.baseUrl}/v1/events/stream?types=messages.upsert`

  // ---------------------------------------------------------------- link sessions, warm up
  const phonePrefix = `6285${randomBytes(2).readUInt16BE() % 10}`
  const linked: { id: string; phone: string }[] = []
  for (let i = 0; i < linkedCount; i++) {
    const created = await tenant.POST('/v1/sessions', { body: { name: `stream-${i}` } })
    if (!created.data) throw apiFailure('create session', created)
    const connect = await tenant.POST('/v1/sessions/{sessionId}/connect', {
      params: { path: { sessionId: created.data.id } },
    })
    if (!connect.data?.qr) throw apiFailure('connect', connect)
    const phone = `${phonePrefix}${String(i).padStart(7, '0')}`
    const connected = tracker.waitFor(created.data.id, 'CONNECTED', 60_000)
    await sim.control.scan({ qr: connect.data.qr, phone, pushName: `Stream ${i}` })
    await connected
    linked.push({ id: created.data.id, phone })
  }
  const contacts = Array.from(
    { length: contactCount },
    (_, i) => `6281${phonePrefix.slice(-1)}8${String(i).padStart(6, '0')}`,
  )
  for (const pn of contacts) await sim.control.addContact({ pn, name: `Contact ${pn.slice(-3)}` })
  log(`linked ${linked.length} sessions, ${contacts.length} contacts`)

  // ---------------------------------------------------------------- (a) latency with N streams
  const now = () => performance.timeOrigin + performance.now()
  const sentAt = new Map<string, number>()
  /** text → arrival time on each stream */
  const arrivals = new Map<string, number[]>()
  const streams: { close(): void }[] = []
  /** text → (arrival − the envelope's occurredAt) on each stream: the outbox → stream part alone. */
  const fromOutbox = new Map<string, number[]>()
  // The reader runs on the same 2 cores as the gateway: it picks the two fields it needs out of the
  // envelope instead of parsing 100 copies of every event.
  const onEvent = (data: string) => {
    const at = now()
    const text = /"text":"((?:[^"\\]|\\.)*)"/.exec(data)?.[1]
    if (!text || !sentAt.has(text)) return
    const occurredAt = /"occurredAt":"([^"]+)"/.exec(data)?.[1]
    const egress = fromOutbox.get(text) ?? []
    if (egress.length === 0) fromOutbox.set(text, egress)
    egress.push(at - Date.parse(occurredAt ?? ''))
    const list = arrivals.get(text) ?? []
    if (list.length === 0) arrivals.set(text, list)
    list.push(at)
  }
  for (let i = 0; i < streamCount; i++) streams.push(await openStream(streamUrl, tenantKey, onEvent))
  log(`${streams.length} streams open`)
  const send = async (from: string, to: string, text: string) => {
    sentAt.set(text, now())
    const result = await sim.control.send({ from, to, text })
    if (result.devices !== 1) throw new Error(`send to ${to} reached ${result.devices} devices`)
  }
  const tag = randomBytes(3).toString('hex')
  const warmTexts: string[] = []
  for (const session of linked)
    for (const contact of contacts) {
      const text = `warm ${tag} ${contact} ${session.phone}`
      warmTexts.push(text)
      await send(contact, session.phone, text)
    }
  const everywhere = (text: string) => (arrivals.get(text)?.length ?? 0) >= streamCount
  const warmDeadline = Date.now() + 60_000
  while (warmTexts.some((t) => !everywhere(t)) && Date.now() < warmDeadline) await sleep(50)
  /** Waits until the gateway uses under 15 % of a core for a second (at most a minute); the seconds it took. */
  const settle = async () => {
    const settleStart = Date.now()
    for (let busy = 1; busy > 0.15 && Date.now() - settleStart < 60_000; ) {
      const before = procStats(gateway.pid).cpuSeconds
      await sleep(1000)
      busy = procStats(gateway.pid).cpuSeconds - before
    }
    return ((Date.now() - settleStart) / 1000).toFixed(1)
  }
  // Let the pre-key refill after the first messages settle (see gateway-latency.ts).
  log(`warm-up done; gateway idle again after ${await settle()} s`)

  const totalMessages = rate * seconds
  const runTexts: string[] = []
  const sendErrors: string[] = []
  const pending: Promise<void>[] = []
  const gwBefore = procStats(gateway.pid)
  const runStart = performance.now()
  for (let i = 0; i < totalMessages; i++) {
    const due = runStart + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const session = linked[i % linked.length]!
    const contact = contacts[Math.floor(i / linked.length) % contacts.length]!
    const text = `run ${tag} #${i}`
    runTexts.push(text)
    pending.push(
      send(contact, session.phone, text).catch((error) => void sendErrors.push((error as Error).message)),
    )
  }
  const sendPhaseMs = performance.now() - runStart
  await Promise.all(pending)
  const drainDeadline = Date.now() + 60_000
  while (runTexts.some((t) => !everywhere(t)) && Date.now() < drainDeadline) await sleep(50)
  const gwAfter = procStats(gateway.pid)
  const samples = runTexts.flatMap((text) => (arrivals.get(text) ?? []).map((at) => at - sentAt.get(text)!))
  const lastStream = runTexts.flatMap((text) => {
    const list = arrivals.get(text)
    return list && list.length >= streamCount ? [Math.max(...list) - sentAt.get(text)!] : []
  })
  const lat = summary(samples)
  const egress = summary(runTexts.flatMap((text) => fromOutbox.get(text) ?? []))
  const last = summary(lastStream)
  const loadAfterA = loadAverage()

  // ---------------------------------------------------------------- (c) outbox append → stream
  // What (a) left behind (receipts, webhook deliveries of its messages) is done first: (c) measures the
  // stream path alone.
  log(`(a) done; gateway idle again after ${await settle()} s`)
  const outbox = openDatabase({ url: database.url, maxConnections: 4 })
  const gwBeforeC = procStats(gateway.pid)
  const benchBeforeC = process.cpuUsage()
  const heldBackBefore = (await scrapeMetric(gateway.metricsUrl, 'event_feed_held_back_reads_total')) ?? 0
  const directTexts: string[] = []
  const directStart = performance.now()
  const appends: Promise<unknown>[] = []
  for (let i = 0; i < totalMessages; i++) {
    const due = directStart + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const text = `direct ${tag} #${i}`
    directTexts.push(text)
    sentAt.set(text, now())
    appends.push(
      // The session-node's append, prepared; without a lease it claims nothing, so the gateway's
      // dispatcher still delivers the webhooks.
      appendAndClaimEvents(
        outbox,
        {
          sessionId: linked[i % linked.length]!.id,
          events: [
            {
              type: 'messages.upsert',
              data: { messages: [receivedText(`direct-${i}`, text, `${contacts[0]}@s.whatsapp.net`)] },
            },
          ],
        },
        undefined,
      ),
    )
  }
  await Promise.all(appends)
  const directDeadline = Date.now() + 60_000
  while (directTexts.some((t) => !everywhere(t)) && Date.now() < directDeadline) await sleep(50)
  await outbox.close()
  const direct = summary(
    directTexts.flatMap((text) => (arrivals.get(text) ?? []).map((at) => at - sentAt.get(text)!)),
  )
  const loadAfterC = loadAverage()
  const gwAfterC = procStats(gateway.pid)
  const benchCpuC = process.cpuUsage(benchBeforeC)
  const heldBack =
    ((await scrapeMetric(gateway.metricsUrl, 'event_feed_held_back_reads_total')) ?? 0) - heldBackBefore
  for (const stream of streams) stream.close()
  await sleep(1000)

  // ---------------------------------------------------------------- (b) RSS with idle streams
  const rssBefore = procStats(gateway.pid).rssMb
  const idle: { close(): void }[] = []
  // Each stream filters to one session that receives nothing: idle, but a real tenant feed.
  const idleUrl = `${gateway.baseUrl}/v1/events/stream?sessionId=${linked[0]!.id}&types=messages.update`
  const idleStart = performance.now()
  for (let opened = 0; opened < idleCount; ) {
    const batch = Math.min(200, idleCount - opened)
    idle.push(
      ...(await Promise.all(Array.from({ length: batch }, () => openStream(idleUrl, tenantKey, () => {})))),
    )
    opened += batch
    if (opened % 2000 === 0)
      log(`  ${opened} idle streams open, gateway RSS ${procStats(gateway.pid).rssMb.toFixed(0)} MB`)
  }
  const openSeconds = (performance.now() - idleStart) / 1000
  await sleep(5000)
  const rssIdle = procStats(gateway.pid).rssMb
  const loadAfterB = loadAverage()
  for (const stream of idle) stream.close()

  const lines = [
    '',
    '=== event-stream results ===',
    `command: npx tsx bench/event-stream.ts --streams ${streamCount} --linked ${linkedCount} --contacts ${contactCount} --rate ${rate} --seconds ${seconds} --idle ${idleCount} --batch-ms ${batchMs}`,
    `machine: load average (1/5/15 min) at end of (a): ${loadAfterA}; at end of (b): ${loadAfterB}`,
    `(a) sim /send call → messages.upsert read on each of ${streamCount} SSE streams (${rate}/s for ${seconds} s, ${linked.length} sessions)`,
    `    sent ${runTexts.length} in ${(sendPhaseMs / 1000).toFixed(2)} s, send errors ${sendErrors.length}${sendErrors[0] ? ` (first: ${sendErrors[0]})` : ''}`,
    `    samples ${lat.n}/${runTexts.length * streamCount} (message × stream)`,
    `    p50 ${ms(lat.p50)}  p95 ${ms(lat.p95)}  p99 ${ms(lat.p99)}  max ${ms(lat.max)}   target p99 ≤ 50 ms: ${verdict(lat.p99 <= 50)}`,
    `    last of the ${streamCount} streams per message: p50 ${ms(last.p50)}  p99 ${ms(last.p99)}  max ${ms(last.max)}`,
    `    envelope occurredAt (the inserting transaction's start, ms clock) → read on the stream: p50 ${ms(egress.p50)}  p99 ${ms(egress.p99)}  max ${ms(egress.max)}`,
    `    gateway CPU during (a): ${(gwAfter.cpuSeconds - gwBefore.cpuSeconds).toFixed(1)} s; RSS ${gwAfter.rssMb.toFixed(0)} MB`,
    `(c) outbox append → read on each of ${streamCount} SSE streams (${rate}/s for ${seconds} s; load average after: ${loadAfterC})`,
    `    samples ${direct.n}/${directTexts.length * streamCount}; p50 ${ms(direct.p50)}  p95 ${ms(direct.p95)}  p99 ${ms(direct.p99)}  max ${ms(direct.max)}; feed re-reads for events held behind an older transaction: ${heldBack}`,
    `    CPU during (c): gateway ${(gwAfterC.cpuSeconds - gwBeforeC.cpuSeconds).toFixed(1)} s, this bench process (the ${streamCount} readers) ${((benchCpuC.user + benchCpuC.system) / 1e6).toFixed(1)} s`,
    `(b) ${idle.length} idle SSE streams on the gateway (opened in ${openSeconds.toFixed(1)} s)`,
    `    gateway RSS ${rssBefore.toFixed(0)} MB before → ${rssIdle.toFixed(0)} MB with them (+${(rssIdle - rssBefore).toFixed(0)} MB, ${(((rssIdle - rssBefore) * 1024) / Math.max(1, idle.length)).toFixed(1)} KB per stream)   target ≤ 1 GB: ${verdict(rssIdle <= 1024)}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
})
