// `npx tsx bench/broadcast-pacing.ts [--sessions 100] [--recipients 100] [--delay-ms 1000] [--nodes 2]`
//
// A cluster of real processes (1 control-plane, 2 session-nodes, private Redis, fresh Postgres database;
// wa-sim as its own process). N sessions are linked through the API, then each gets one broadcast of
// R recipients with delayMs D (default 100 × 100 = 10,000 messages). We measure, per session:
// the pacing error of each gap between two claims (Postgres' `sending` times; actual gap − delay, never
// negative by construction: the pace runs from the end of the previous send, so the error includes one
// send's duration) and between two receipts on the simulated phones (wa-sim inbox times), the time to
// finish, and the session-nodes' CPU seconds per message sent (the scheduler: claims, pace, progress
// events and the Baileys send).
import { openDatabase } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'
import { clusterWithSessions, nodeCpu } from './support/cluster-setup.js'
import { flags, loadAverage, log, ms, runBench, sleep, summary } from './support/common.js'

const opts = flags({ sessions: '100', recipients: '100', 'delay-ms': '1000', nodes: '2', concurrency: '8' })
const sessionCount = Number(opts.sessions)
const perSession = Number(opts.recipients)
const delayMs = Number(opts['delay-ms'])

await runBench('broadcast-pacing', 60 * 60_000, async () => {
  const { sim, cluster, clients, link } = await clusterWithSessions({
    controlPlanes: 1,
    sessionNodes: Number(opts.nodes),
    sessions: sessionCount,
    concurrency: Number(opts.concurrency),
    label: 'broadcast',
    env: { SEND_RATE_LIMIT_PER_MINUTE: '100000' },
  })
  const tenant = clients[0]!
  const contacts = Array.from({ length: perSession }, (_, index) => `62819${String(index).padStart(7, '0')}`)
  for (const pn of contacts) await sim.control.addContact({ pn })
  const database = openDatabase({ url: cluster.databaseUrl, maxConnections: 2 })

  const cpuBefore = nodeCpu(cluster)
  const startedAt = Date.now()
  const broadcastIds: string[] = []
  for (const session of link.linked) {
    const created = await tenant.POST('/v1/sessions/{sessionId}/broadcasts', {
      params: { path: { sessionId: session.id } },
      body: {
        recipients: contacts.map((to, index) => ({ to, text: `bench ${session.id} ${index}` })),
        delayMs,
      },
    })
    if (!created.data) throw new Error(`broadcast refused: ${JSON.stringify(created.error)}`)
    broadcastIds.push(created.data.id)
  }
  log(`${broadcastIds.length} broadcasts of ${perSession} created in ${Date.now() - startedAt} ms`)
  const total = broadcastIds.length * perSession
  let lastLog = 0
  for (;;) {
    const [row] = await database.rows<{ left: string }>(
      sql`SELECT count(*) AS left FROM messages WHERE broadcast_id IS NOT NULL AND status IN ('queued', 'sending')`,
    )
    const left = Number(row?.left ?? 0)
    if (left === 0) break
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now()
      log(`  ${total - left}/${total} sent, load ${loadAverage()}`)
    }
    await sleep(500)
  }
  const elapsedMs = Date.now() - startedAt
  const cpuAfter = nodeCpu(cluster)
  const cpuSeconds = Object.keys(cpuAfter).reduce(
    (sum, id) => sum + (cpuAfter[id]! - (cpuBefore[id] ?? 0)),
    0,
  )

  const claims = await database.rows<{ session_id: string; at: string }>(sql`
    SELECT session_id, (SELECT min(entry->>'at') FROM jsonb_array_elements(status_history) entry
      WHERE entry->>'status' = 'sending') AS at
    FROM messages WHERE broadcast_id IS NOT NULL ORDER BY session_id, broadcast_index`)
  const claimErrors: number[] = []
  let previous: { session_id: string; at: number } | undefined
  for (const claim of claims) {
    const at = Date.parse(claim.at)
    if (previous?.session_id === claim.session_id) claimErrors.push(at - previous.at - delayMs)
    previous = { session_id: claim.session_id, at }
  }
  const inbox = (await sim.control.inbox()).filter((entry) => entry.text.startsWith('bench '))
  const bySender = new Map<string, number[]>()
  const seen = new Set<string>()
  for (const entry of inbox) {
    if (seen.has(entry.id)) continue
    seen.add(entry.id)
    const times = bySender.get(entry.from) ?? []
    times.push(entry.timestamp)
    bySender.set(entry.from, times)
  }
  const receiveErrors: number[] = []
  for (const times of bySender.values()) {
    times.sort((a, b) => a - b)
    for (let index = 1; index < times.length; index++)
      receiveErrors.push(times[index]! - times[index - 1]! - delayMs)
  }
  const claim = summary(claimErrors)
  const receive = summary(receiveErrors)
  await database.close()
  const lines = [
    '',
    '=== broadcast-pacing results ===',
    `command: npx tsx bench/broadcast-pacing.ts --sessions ${sessionCount} --recipients ${perSession} --delay-ms ${delayMs} --nodes ${opts.nodes}`,
    `machine: load average (1/5/15 min) ${loadAverage()}`,
    `${link.linked.length} sessions × ${perSession} recipients = ${total} messages, delayMs ${delayMs}; all sent in ${(elapsedMs / 1000).toFixed(1)} s (ideal ${(((perSession - 1) * delayMs) / 1000).toFixed(1)} s)`,
    `pacing error, claim gaps (Postgres sending times, gap − delay): p50 ${ms(claim.p50)}  p99 ${ms(claim.p99)}  max ${ms(claim.max)}  min ${ms(claim.min)}`,
    `pacing error, receive gaps (wa-sim inbox, gap − delay): p50 ${ms(receive.p50)}  p99 ${ms(receive.p99)}  max ${ms(receive.max)}  min ${ms(receive.min)}  (${inbox.length} receipts, ${seen.size} distinct)`,
    `session-node CPU: ${cpuSeconds.toFixed(1)} s in all, ${((cpuSeconds * 1000) / total).toFixed(2)} ms per message`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
})
