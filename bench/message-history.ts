// `npx tsx bench/message-history.ts [--messages 1000000] [--queries 200] [--writes 2000]`
//
// The message history at scale, on a fresh database on the shared Postgres:
//  (a) history reads through the control-plane's Hono app in-process (routes, validation, service,
//      SQL; no socket): one tenant holds --messages rows (20 sessions, 2,000 chats, 30 % inbound,
//      a third with metadata), bulk-inserted with generate_series; each query shape runs --queries
//      times, p50/p99 per shape.
//  (b) the inbound write cost per message, before and after storing its history row, in the same
//      run on the same 1M-row table: the owner's append of one `messages.upsert` event (the fast
//      path statement, claimed) with and without the `received` row (and its chat upsert), --writes
//      each, interleaved in blocks of 100 so both see the same machine.

import { appendAndClaimEvents } from '@wa-cluster/core'
import type { InboundMessage } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { createTenantThroughApi, createTestApi } from '../control-plane/test/support/test-context.js'
import { recordInboundMessages } from '../session-node/src/messages/message-events.js'
import { flags, loadAverage, log, ms, onCleanup, runBench, summary } from './support/common.js'

const opts = flags({ messages: '1000000', queries: '200', writes: '2000' })
const messageCount = Number(opts.messages)
const queryCount = Number(opts.queries)
const writeCount = Number(opts.writes)

await runBench('message-history', 60 * 60_000, async () => {
  // The per-tenant request limit would throttle the query loop, not measure it.
  const api = await createTestApi('bench_history', { TENANT_REQUESTS_PER_MINUTE: 100_000_000 })
  onCleanup(() => api.close())
  const { apiKey, tenantId } = await createTenantThroughApi(api, 'History bench')
  const sessions: string[] = []
  for (let n = 0; n < 20; n++)
    sessions.push((await api.call('POST', '/v1/sessions', { key: apiKey, body: {} })).body.id)
  const other = await createTenantThroughApi(api, 'Other tenant')
  await api.call('POST', '/v1/sessions', { key: other.apiKey, body: {} })

  log(`inserting ${messageCount} messages…`)
  const started = performance.now()
  // Ids as the gateway makes them: time-ordered (a millisecond apart, ending now), so `after` and the
  // newest-first order behave as in production; one in 10 rows belongs to another session's tenant.
  const now = Date.now()
  const batch = 100_000
  for (let offset = 0; offset < messageCount; offset += batch) {
    await api.ctx.database.rows(sql`
      INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, wa_message_id, type, text, status,
        metadata, created_at)
      SELECT 'msg_' || lpad(to_hex(${now}::bigint - (${messageCount}::bigint - i)), 10, '0') || lpad(i::text, 12, '0'),
        ${tenantId}, (${sql.raw(`ARRAY[${sessions.map((id) => `'${id}'`).join(',')}]`)})[1 + i % 20],
        CASE WHEN i % 10 < 3 THEN 'in' ELSE 'out' END,
        (6281200000000 + i % 2000)::text || '@s.whatsapp.net', 'WA' || i,
        CASE WHEN i % 50 = 0 THEN 'image' ELSE 'text' END, 'message number ' || i,
        CASE WHEN i % 10 < 3 THEN 'received' WHEN i % 100 = 99 THEN 'failed' WHEN i % 3 = 0 THEN 'read'
          ELSE 'delivered' END,
        CASE WHEN i % 3 = 0 THEN jsonb_build_object('customerId', (i % 5000)::text) END,
        to_timestamp((${now}::bigint - (${messageCount}::bigint - i)) / 1000.0)
      FROM generate_series(${offset + 1}::bigint, ${Math.min(offset + batch, messageCount)}::bigint) AS i`)
  }
  await api.ctx.database.rows(sql`ANALYZE messages`)
  log(`inserted in ${((performance.now() - started) / 1000).toFixed(0)} s`)

  const middle = (
    await api.ctx.database.rows<{ id: string }>(
      sql`SELECT id FROM messages WHERE tenant_id = ${tenantId} ORDER BY id DESC OFFSET ${Math.floor(messageCount / 2)} LIMIT 1`,
    )
  )[0]!.id
  const day = new Date(now - messageCount / 2).toISOString()
  const dayEnd = new Date(now - messageCount / 2 + 86_400_000 / 24).toISOString()
  const shapes: Record<string, (n: number) => string> = {
    'newest page (tenant)': () => '/v1/messages?limit=50',
    'newest page (session)': () => `/v1/sessions/${sessions[0]}/messages?limit=50`,
    'deep page (after = middle)': () => `/v1/messages?limit=50&after=${middle}`,
    'status=failed (1 %)': () => '/v1/messages?limit=50&status=failed',
    'chatId, any format': (n) => `/v1/messages?limit=50&chatId=0812${String(n % 2000).padStart(8, '0')}`,
    'chat of a session': (n) =>
      `/v1/sessions/${sessions[n % 20]}/chats/62812${String(n % 2000).padStart(8, '0')}/messages?limit=50`,
    'metadata.customerId': (n) => `/v1/messages?limit=50&metadata.customerId=${n % 5000}`,
    'from/until (1 h window)': () =>
      `/v1/messages?limit=50&from=${encodeURIComponent(day)}&until=${encodeURIComponent(dayEnd)}`,
    'direction=in&type=image': () => '/v1/messages?limit=50&direction=in&type=image',
  }
  const results: Record<string, ReturnType<typeof summary> & { rows: number }> = {}
  for (const [name, pathOf] of Object.entries(shapes)) {
    const times: number[] = []
    let rows = 0
    for (let n = 0; n < queryCount; n++) {
      const before = performance.now()
      const response = await api.call('GET', pathOf(n), { key: apiKey })
      times.push(performance.now() - before)
      if (response.status !== 200) throw new Error(`${name}: ${response.status} ${response.text}`)
      rows += response.body.data.length
    }
    results[name] = { ...summary(times), rows: rows / queryCount }
    log(
      `${name}: p50 ${ms(results[name]!.p50)}, p99 ${ms(results[name]!.p99)}, ${rows / queryCount} rows a page`,
    )
  }

  log(`inbound writes: ${writeCount} each, before (event only) and after (event + history row + chat)…`)
  const sessionId = sessions[1]!
  const [{ epoch }] = (await api.ctx.database.rows<{ epoch: number }>(
    sql`SELECT epoch::int AS epoch FROM sessions WHERE id = ${sessionId}`,
  )) as [{ epoch: number }]
  const message = (n: number): InboundMessage => ({
    id: `BENCH${n}`,
    waMessageId: `BENCH${n}`,
    chatId: `${6281300000000 + (n % 200)}@s.whatsapp.net`,
    from: `${6281300000000 + (n % 200)}@s.whatsapp.net`,
    fromMe: false,
    timestamp: Math.floor(Date.now() / 1000),
    pushName: 'Bench',
    type: 'text',
    text: `inbound ${n}`,
  })
  const eventOnly: number[] = []
  const withRow: number[] = []
  for (let n = 0; n < writeCount; n += 100) {
    for (const [variant, times] of [
      ['before', eventOnly],
      ['after', withRow],
    ] as const) {
      for (let k = n; k < n + 100 && k < writeCount; k++) {
        const input = message(variant === 'before' ? k : writeCount + k)
        const before = performance.now()
        if (variant === 'before')
          await appendAndClaimEvents(
            api.ctx.database,
            { sessionId, epoch, events: [{ type: 'messages.upsert', data: { messages: [input] } }] },
            30_000,
          )
        else
          await recordInboundMessages(api.ctx.database, {
            sessionId,
            epoch,
            messages: [input],
            claimLeaseMs: 30_000,
          })
        times.push(performance.now() - before)
      }
    }
  }
  const before = summary(eventOnly)
  const after = summary(withRow)
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
  log(`before: p50 ${ms(before.p50)}, p99 ${ms(before.p99)}, mean ${ms(mean(eventOnly))}`)
  log(`after:  p50 ${ms(after.p50)}, p99 ${ms(after.p99)}, mean ${ms(mean(withRow))}`)
  log(
    `ratio after/before: p50 ${(after.p50 / before.p50).toFixed(2)}, mean ${(mean(withRow) / mean(eventOnly)).toFixed(2)}`,
  )
  log(`load average ${loadAverage()}`)
})
