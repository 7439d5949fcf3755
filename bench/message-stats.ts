/**
 * Message statistics at 1,000,000 stored messages: the p50/p99 of the statistics reads (answered from
 * the `message_stats` counters), a scan of `messages` answering the same question for comparison, and
 * the write cost of the counting trigger per message: single-row inserts and status updates (how the
 * API and the owning node write) and one bulk insert, each with and without the trigger, in the same
 * run on the same database.
 *
 *   npx tsx bench/message-stats.ts [--messages 1000000] [--sessions 50] [--days 90] [--writes 5000] [--reads 200]
 */
import type { DatabaseHandle } from '@wa-cluster/db'
import { sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../control-plane/src/context.js'
import { readMessageStats } from '../control-plane/src/services/stats.js'
import { createTestDatabase } from '../test-support/postgres.js'
import { seedSession, seedTenant } from '../test-support/seed.js'
import { flags, log, ms, summary } from './support/common.js'

const args = flags({ messages: '1000000', sessions: '50', days: '90', writes: '5000', reads: '200' })
const messageCount = Number(args.messages)
const sessionCount = Number(args.sessions)
const days = Number(args.days)
const writes = Number(args.writes)
const reads = Number(args.reads)

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now()
  const result = await work()
  return [result, performance.now() - started]
}

async function setTrigger(database: DatabaseHandle, enabled: boolean): Promise<void> {
  await database.rows(
    enabled
      ? sql`ALTER TABLE messages ENABLE TRIGGER messages_count_stats`
      : sql`ALTER TABLE messages DISABLE TRIGGER messages_count_stats`,
  )
}

/** `count` single-row inserts then as many single-row status updates, each its own statement. */
async function singleRowWrites(database: DatabaseHandle, tenantId: string, sessionId: string, tag: string) {
  const [, insertMs] = await timed(async () => {
    for (let index = 0; index < writes; index++)
      await database.rows(sql`
        INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, status)
        VALUES (${`msg_${tag}_${index}`}, ${tenantId}, ${sessionId}, 'out', '6281234567890@s.whatsapp.net', 'queued')`)
  })
  const [, updateMs] = await timed(async () => {
    for (let index = 0; index < writes; index++)
      await database.rows(sql`UPDATE messages SET status = 'sent' WHERE id = ${`msg_${tag}_${index}`}`)
  })
  return { insertMs, updateMs }
}

/** One INSERT … SELECT generate_series of `count` rows spread over the sessions and `days`. */
async function bulkInsert(database: DatabaseHandle, tenantId: string, tag: string, count: number, from = 0) {
  await database.rows(sql`
    INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, status, created_at)
    SELECT ${`msg_${tag}_`}::text || i, ${tenantId}, 'ses_bench_' || (i % ${sessionCount}::int),
      CASE WHEN i % 5 = 0 THEN 'in' ELSE 'out' END,
      '62812' || lpad((i % 100000)::text, 8, '0') || '@s.whatsapp.net',
      (ARRAY['queued', 'sent', 'delivered', 'read', 'read', 'delivered', 'sent', 'failed', 'read', 'delivered'])[i % 10 + 1],
      now() - (i % (${days}::int * 24 * 60)) * interval '1 minute'
    FROM generate_series(${from}::int, ${from + count - 1}::int) AS i`)
}

async function main() {
  const test = await createTestDatabase('bench_stats')
  const database = test.handle
  try {
    const tenantId = await seedTenant(database)
    const writeSession = await seedSession(database, tenantId)
    for (let index = 0; index < sessionCount; index++)
      await database.rows(
        sql`INSERT INTO sessions (id, tenant_id, name) VALUES (${`ses_bench_${index}`}, ${tenantId}, 'bench')`,
      )

    log(`write cost: ${writes} single-row inserts + ${writes} status updates, without then with the trigger`)
    await setTrigger(database, false)
    const without = await singleRowWrites(database, tenantId, writeSession, 'plain')
    await setTrigger(database, true)
    const withTrigger = await singleRowWrites(database, tenantId, writeSession, 'counted')
    const bulkRows = 100_000
    await setTrigger(database, false)
    const [, bulkWithoutMs] = await timed(() => bulkInsert(database, tenantId, 'bulkplain', bulkRows))
    await setTrigger(database, true)
    const [, bulkWithMs] = await timed(() => bulkInsert(database, tenantId, 'bulkcounted', bulkRows))
    const perMessage = (totalMs: number) => (totalMs / writes) * 1000
    log(
      `single-row INSERT: ${perMessage(without.insertMs).toFixed(0)} µs → ${perMessage(withTrigger.insertMs).toFixed(0)} µs per message (×${(withTrigger.insertMs / without.insertMs).toFixed(2)})`,
    )
    log(
      `single-row status UPDATE: ${perMessage(without.updateMs).toFixed(0)} µs → ${perMessage(withTrigger.updateMs).toFixed(0)} µs per message (×${(withTrigger.updateMs / without.updateMs).toFixed(2)})`,
    )
    log(
      `bulk INSERT of ${bulkRows}: ${((bulkRows / bulkWithoutMs) * 1000).toFixed(0)} → ${((bulkRows / bulkWithMs) * 1000).toFixed(0)} rows/s (×${(bulkWithMs / bulkWithoutMs).toFixed(2)} time)`,
    )

    const stored = 2 * writes + 2 * bulkRows
    const rest = messageCount - stored
    log(
      `filling to ${messageCount} messages (${rest} more, trigger on, ${sessionCount} sessions over ${days} days)`,
    )
    const chunk = 100_000
    for (let from = 0; from < rest; from += chunk)
      await bulkInsert(database, tenantId, 'fill', Math.min(chunk, rest - from), from)
    await database.rows(sql`VACUUM ANALYZE messages`)
    await database.rows(sql`VACUUM ANALYZE message_stats`)
    const [counted] = await database.rows<{
      messages: string
      counters: string
      total: string
      inbound: string
    }>(sql`
      SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM message_stats) AS counters,
        (SELECT sum(total) FROM message_stats) AS total, (SELECT sum(inbound) FROM message_stats) AS inbound`)
    log(
      `stored: ${counted!.messages} messages, ${counted!.counters} counter rows; counted total ${counted!.total} + inbound ${counted!.inbound}`,
    )

    const ctx = { database } as ControlPlaneContext
    const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString()
    const queries: [string, () => Promise<unknown>][] = [
      ['tenant, all time', () => readMessageStats({ ctx, tenantId, query: {}, timeZone: 'UTC' })],
      [
        'tenant, 30 days by day (Asia/Jakarta)',
        () =>
          readMessageStats({
            ctx,
            tenantId,
            query: { from: monthAgo, groupBy: 'day' },
            timeZone: 'Asia/Jakarta',
          }),
      ],
      [
        'one session, all time by day',
        () =>
          readMessageStats({
            ctx,
            tenantId,
            sessionId: 'ses_bench_7',
            query: { groupBy: 'day' },
            timeZone: 'UTC',
          }),
      ],
    ]
    for (const [name, query] of queries) {
      await query()
      const durations: number[] = []
      for (let index = 0; index < reads; index++) durations.push((await timed(query))[1])
      const figures = summary(durations)
      log(`stats read, ${name}: p50 ${ms(figures.p50)}, p99 ${ms(figures.p99)} (n=${figures.n})`)
    }
    const scans: number[] = []
    for (let index = 0; index < 5; index++) {
      scans.push(
        (
          await timed(() =>
            database.rows(sql`
              SELECT count(*) FILTER (WHERE direction = 'out') AS total,
                count(*) FILTER (WHERE status = 'failed') AS failed, count(*) FILTER (WHERE direction = 'in') AS inbound
              FROM messages WHERE tenant_id = ${tenantId}`),
          )
        )[1],
      )
    }
    const scan = summary(scans)
    log(`for comparison, the same totals by scanning messages: p50 ${ms(scan.p50)} (n=${scan.n})`)
  } finally {
    await test.drop()
  }
}

await main()
