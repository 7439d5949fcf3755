// `node --expose-gc --import tsx bench/session-memory.ts [--first 10] [--second 60]`
//
// Retained memory per idle connected session inside a session-node, measured after a full GC: one
// process runs a session-node (real Postgres auth state, in-process coordinator) and a wa-sim; sessions
// are linked through the real QR flow; heap and RSS are read after `global.gc()` with `--first` sessions
// and again with `--second`, and the difference is divided by the sessions added. The simulator's own
// per-account state is inside the figure (it is in the same process), so it errs on the high side.
import { parseArgs } from 'node:util'
import { createMemoryCoordinator } from '@wa-cluster/core'
import { createSessionNode, prepareSessionProcess } from '@wa-cluster/session-node'
import {
  createSecretBox,
  generateSecretBoxKey,
  newId,
  parseConfig,
  parseSecretBoxKey,
} from '@wa-cluster/shared'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import { createTestDatabase } from '../test-support/postgres.js'
import { eventually } from '../test-support/processes.js'

const { values } = parseArgs({
  options: { first: { type: 'string', default: '10' }, second: { type: 'string', default: '60' } },
})
const first = Number(values.first)
const second = Number(values.second)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) {
  console.error('run with: node --expose-gc --import tsx bench/session-memory.ts')
  process.exit(1)
}

const sim = await startSimulator({ port: 0 })
const database = await createTestDatabase('bench_memory')
const config = parseConfig(
  {
    WA_WS_URL: sim.url,
    WA_TRUSTED_ROOT_KEY: sim.rootPublicKey,
    LOG_LEVEL: 'silent',
    BAILEYS_LOG_LEVEL: 'silent',
  },
  'all-in-one',
)
prepareSessionProcess(config, pino({ level: 'silent' }))
const node = createSessionNode({
  config,
  nodeId: 'bench-memory',
  database: database.handle,
  secretBox: createSecretBox(parseSecretBoxKey(generateSecretBoxKey())),
  coordinator: createMemoryCoordinator(),
  logger: pino({ level: 'silent' }),
})
await node.start()
const tenantId = newId('ten')
await database.handle.rows(sql`INSERT INTO tenants (id, name) VALUES (${tenantId}, 'bench')`)

let linked = 0
async function linkUpTo(count: number): Promise<void> {
  for (; linked < count; linked++) {
    const id = newId('ses')
    await database.handle.rows(
      sql`INSERT INTO sessions (id, tenant_id, name, desired_state, node_id) VALUES (${id}, ${tenantId}, ${id}, 'connected', 'bench-memory')`,
    )
    await node.reconcile()
    const qr = await eventually(
      'QR',
      async () =>
        (await database.handle.rows<{ qr: string | null }>(sql`SELECT qr FROM sessions WHERE id = ${id}`))[0]
          ?.qr,
    )
    await sim.scan({ qr, phone: `62859${String(linked).padStart(8, '0')}` })
    await eventually(
      'CONNECTED',
      async () =>
        (await database.handle.rows<{ state: string }>(sql`SELECT state FROM sessions WHERE id = ${id}`))[0]
          ?.state === 'CONNECTED',
    )
    if ((linked + 1) % 10 === 0) console.log(`linked ${linked + 1}/${second}`)
  }
}

async function settledMemory(): Promise<{ heapMb: number; rssMb: number }> {
  // Idle long enough for Baileys' post-login work to finish, then collect everything collectable.
  await new Promise((resolve) => setTimeout(resolve, 5_000))
  for (let i = 0; i < 3; i++) gc!()
  const usage = process.memoryUsage()
  return { heapMb: usage.heapUsed / 2 ** 20, rssMb: usage.rss / 2 ** 20 }
}

await linkUpTo(first)
const atFirst = await settledMemory()
console.log(`${first} sessions: heap ${atFirst.heapMb.toFixed(1)} MiB, RSS ${atFirst.rssMb.toFixed(1)} MiB`)
await linkUpTo(second)
const atSecond = await settledMemory()
console.log(
  `${second} sessions: heap ${atSecond.heapMb.toFixed(1)} MiB, RSS ${atSecond.rssMb.toFixed(1)} MiB`,
)
const added = second - first
console.log(
  `per idle connected session (after GC, ${added} sessions added): heap ${((atSecond.heapMb - atFirst.heapMb) / added).toFixed(2)} MiB, RSS ${((atSecond.rssMb - atFirst.rssMb) / added).toFixed(2)} MiB  (target RSS ≤ 2 MB)`,
)
console.log(`sessions still connected: ${node.sessionIds().length}/${second}`)
await node.stop()
await sim.stop()
await database.drop()
process.exit(0)
