// `npx tsx bench/webhook-latency.ts`: the webhook fast path on real Postgres. Appends events at a fixed
// rate (default 200/s for 10 s, spread over several sessions), each followed by notify() as the session
// runner does, and measures append → received at a local receiver (p50/p99), plus commit → received.
//
// Env: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a scratch database is
// created on it and dropped), BENCH_RATE (events/s), BENCH_SECONDS, BENCH_SESSIONS.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { appendAndClaimEvents, createOutboundPolicy, generateWebhookSecret } from '@wa-cluster/core'
import { openDatabase } from '@wa-cluster/db'
import { createWebhookDispatcher } from '@wa-cluster/session-node'
import { createSecretBox, newId } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import postgres from 'postgres'
import { receivedText } from '../test-support/seed.js'

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const rate = Number(process.env.BENCH_RATE ?? 200)
const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const sessionCount = Number(process.env.BENCH_SESSIONS ?? 10)
const total = rate * seconds

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const format = (ms: number) => `${ms.toFixed(1)} ms`

// Scratch database, so the bench never touches real data.
const databaseName = `wa_bench_webhooks_${randomBytes(4).toString('hex')}`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
await admin.unsafe(`CREATE DATABASE ${databaseName}`)
const url = new URL(serverUrl)
url.pathname = `/${databaseName}`
const database = openDatabase({ url: url.toString() })
await database.migrate()

const appendStartedAt = new Map<string, number>()
const committedAt = new Map<string, number>()
const receivedAt = new Map<string, number>()
const receiver = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const now = performance.now()
    const id = request.headers['webhook-id']
    if (typeof id === 'string' && !receivedAt.has(id)) receivedAt.set(id, now)
    response.writeHead(204).end()
  })
})
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`

const secretBox = createSecretBox(randomBytes(32))
const tenantId = newId('ten')
await database.rows(sql`INSERT INTO tenants (id, name) VALUES (${tenantId}, 'bench')`)
const sealed = secretBox.seal(Buffer.from(generateWebhookSecret()), `webhook:${tenantId}`)
await database.rows(
  sql`INSERT INTO webhooks (tenant_id, url, secret_sealed) VALUES (${tenantId}, ${receiverUrl}, ${sealed})`,
)
const sessionIds: string[] = []
for (let n = 0; n < sessionCount; n++) {
  const sessionId = newId('ses')
  await database.rows(
    sql`INSERT INTO sessions (id, tenant_id, name, epoch) VALUES (${sessionId}, ${tenantId}, ${`bench ${n}`}, 1)`,
  )
  sessionIds.push(sessionId)
}

const dispatcher = createWebhookDispatcher({
  database,
  secretBox,
  logger: pino({ level: 'warn' }),
  // The bench's receiver listens on this machine.
  outboundPolicy: createOutboundPolicy('127.0.0.0/8,::1/128,localhost'),
  options: {},
})
await dispatcher.start()

console.log(
  `webhook latency bench: ${rate} events/s for ${seconds} s over ${sessionCount} session(s), Postgres ${url.host}, receiver ${receiverUrl}`,
)
const startedAt = performance.now()
const appends: Promise<void>[] = []
let appendFailures = 0
const progress = setInterval(() => {
  const elapsed = (performance.now() - startedAt) / 1000
  console.log(`  ${elapsed.toFixed(0)} s: appended ${committedAt.size}, received ${receivedAt.size}`)
}, 1000)

for (let n = 0; n < total; n++) {
  // Open-loop schedule: event n is due at n/rate seconds, whether or not earlier ones have finished.
  const dueAt = startedAt + (n * 1000) / rate
  const wait = dueAt - performance.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  const sessionId = sessionIds[n % sessionCount]!
  const began = performance.now()
  appends.push(
    // Without a lease the append claims nothing: the dispatcher's claim, woken by notify(), sends it.
    appendAndClaimEvents(
      database,
      {
        sessionId,
        epoch: 1,
        events: [{ type: 'messages.upsert', data: { messages: [receivedText(`m${n}`, `hello ${n}`)] } }],
      },
      undefined,
    ).then(
      ({ envelopes: [event] }) => {
        committedAt.set(event!.id, performance.now())
        appendStartedAt.set(event!.id, began)
        dispatcher.notify()
      },
      () => {
        appendFailures++
      },
    ),
  )
}
await Promise.all(appends)
const drainDeadline = performance.now() + 30_000
while (receivedAt.size < committedAt.size && performance.now() < drainDeadline)
  await new Promise((resolve) => setTimeout(resolve, 20))
clearInterval(progress)
const sentFor = (performance.now() - startedAt) / 1000

const fromAppend: number[] = []
const fromCommit: number[] = []
for (const [id, received] of receivedAt) {
  const began = appendStartedAt.get(id)
  const committed = committedAt.get(id)
  // The receiver can see an event before its append promise resolves here; it still counts.
  if (began !== undefined) fromAppend.push(received - began)
  if (committed !== undefined) fromCommit.push(Math.max(0, received - committed))
}
fromAppend.sort((a, b) => a - b)
fromCommit.sort((a, b) => a - b)
const [counts] = await database.rows<{ delivered: number | string; attempts: number | string }>(
  sql`SELECT count(*) FILTER (WHERE delivery = 'delivered') AS delivered, coalesce(sum(attempts), 0) AS attempts FROM events`,
)

console.log(
  `\nresults (${fromAppend.length}/${total} received in ${sentFor.toFixed(1)} s; append failures ${appendFailures})`,
)
console.log(
  `  append -> received   p50 ${format(percentile(fromAppend, 50))}  p90 ${format(percentile(fromAppend, 90))}  p99 ${format(percentile(fromAppend, 99))}  max ${format(fromAppend.at(-1) ?? Number.NaN)}`,
)
console.log(
  `  commit -> received   p50 ${format(percentile(fromCommit, 50))}  p90 ${format(percentile(fromCommit, 90))}  p99 ${format(percentile(fromCommit, 99))}  max ${format(fromCommit.at(-1) ?? Number.NaN)}`,
)
console.log(`  outbox: ${Number(counts?.delivered)} delivered, ${Number(counts?.attempts)} attempts`)

await dispatcher.stop()
receiver.closeAllConnections()
receiver.close()
await database.close()
await admin.unsafe(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`)
await admin.end()
