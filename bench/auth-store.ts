/**
 * Auth-state store throughput: a recorded Baileys key workload (a pairing's pre-key upload plus 1,000
 * messages' Signal session traffic) replayed call by call against Baileys' useMultiFileAuthState and
 * the Postgres store (PostgreSQL on 127.0.0.1, PGlite on disk and in memory), in the same run.
 *
 *   npx tsx bench/auth-store.ts [--messages 1000] [--contacts 20] [--rounds 3]
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { type DatabaseHandle, openDatabase } from '@wa-cluster/db'
import { createSecretBox } from '@wa-cluster/shared'
import {
  type AuthenticationCreds,
  BufferJSON,
  type SignalDataSet,
  type SignalKeyStore,
  useMultiFileAuthState,
} from '@whiskeysockets/baileys'
import { sql } from 'drizzle-orm'
import { openPostgresAuthState } from '../session-node/src/auth-state/index.js'
import { createTestDatabase } from '../test-support/postgres.js'
import { describeWorkload, recordWorkload, type Workload } from './auth-store-workload.js'

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000' },
    contacts: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' },
    'memory-sessions': { type: 'string', default: '20' },
  },
})

type ReplayOp =
  | { kind: 'get'; category: Parameters<SignalKeyStore['get']>[0]; keyIds: string[] }
  | { kind: 'set'; data: SignalDataSet }
  | { kind: 'save-creds'; creds: AuthenticationCreds }

/** A store under test: its keys, and a saveCreds that persists whatever creds object it is handed. */
type StoreRun = {
  keys: SignalKeyStore
  saveCreds(creds: AuthenticationCreds): Promise<void>
  finish(): Promise<void>
}

type StoreUnderTest = { name: string; open(round: number): Promise<StoreRun>; close(): Promise<void> }

/** Decoded before the clock starts, so a replay times the store and nothing else. */
function materialise(workload: Workload): ReplayOp[] {
  return workload.ops.map((op) => {
    if (op.kind === 'get') return op
    if (op.kind === 'set') return { kind: 'set', data: JSON.parse(op.data, BufferJSON.reviver) }
    return { kind: 'save-creds', creds: JSON.parse(op.creds, BufferJSON.reviver) }
  })
}

/** Awaits each call in order, as Baileys does. */
async function replay(
  ops: ReplayOp[],
  run: StoreRun,
  onProgress: (done: number) => void,
): Promise<{ wallMs: number; msByKind: Record<ReplayOp['kind'], number> }> {
  const msByKind = { get: 0, set: 0, 'save-creds': 0 }
  const started = performance.now()
  for (const [index, op] of ops.entries()) {
    const opStarted = performance.now()
    if (op.kind === 'get') await run.keys.get(op.category, op.keyIds)
    else if (op.kind === 'set') await run.keys.set(op.data)
    else await run.saveCreds(op.creds)
    msByKind[op.kind] += performance.now() - opStarted
    if ((index + 1) % 1000 === 0) onProgress(index + 1)
  }
  await run.finish()
  return { wallMs: performance.now() - started, msByKind }
}

function multiFileStore(): StoreUnderTest {
  const folders: string[] = []
  return {
    name: 'useMultiFileAuthState (files)',
    async open() {
      const folder = await mkdtemp(join(tmpdir(), 'wa-bench-auth-'))
      folders.push(folder)
      const { state, saveCreds } = await useMultiFileAuthState(folder)
      return {
        keys: state.keys,
        saveCreds: async (creds) => {
          Object.assign(state.creds, creds)
          await saveCreds()
        },
        finish: async () => {},
      }
    },
    async close() {
      await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })))
    },
  }
}

function postgresStore(name: string, database: DatabaseHandle, cleanup: () => Promise<void>): StoreUnderTest {
  const secretBox = createSecretBox(randomBytes(32))
  return {
    name,
    async open(round) {
      const suffix = `${round}_${randomBytes(4).toString('hex')}`
      await database.rows(
        sql`INSERT INTO tenants (id, name) VALUES (${`bench_${suffix}`}, 'bench') ON CONFLICT DO NOTHING`,
      )
      const sessionId = `bench_session_${suffix}`
      await database.rows(
        sql`INSERT INTO sessions (id, tenant_id, name, epoch) VALUES (${sessionId}, ${`bench_${suffix}`}, 'bench', 1)`,
      )
      const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
      return {
        keys: opened.state.keys,
        saveCreds: async (creds) => {
          Object.assign(opened.state.creds, creds)
          await opened.saveCreds()
        },
        finish: () => opened.flush(),
      }
    },
    close: cleanup,
  }
}

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as () => void

function heapBytes(): number {
  for (let pass = 0; pass < 3; pass++) collectGarbage()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external
}

/**
 * The store's memory per session once idle: sessions that went through the whole workload (pairing
 * upload, 1,000 messages) stay open, and the heap (plus Buffers) they add is divided among them.
 */
async function measureIdleMemory(store: StoreUnderTest, ops: ReplayOp[], sessions: number): Promise<number> {
  const kept: StoreRun[] = []
  const before = heapBytes()
  for (let index = 0; index < sessions; index++) {
    const run = await store.open(1_000 + index)
    await replay(ops, run, () => {})
    kept.push(run)
    process.stdout.write(`\r  memory: ${index + 1}/${sessions} sessions replayed`)
  }
  const perSession = (heapBytes() - before) / sessions
  process.stdout.write('\n')
  if (kept.length !== sessions) throw new Error('sessions were not kept alive')
  return perSession
}

async function main() {
  const messages = Number(args.messages)
  const contacts = Number(args.contacts)
  const rounds = Number(args.rounds)

  console.log(
    `recording the workload: pairing pre-key upload + ${messages} messages with ${contacts} contacts…`,
  )
  const workload = await recordWorkload({ messages, contacts })
  const ops = materialise(workload)
  console.log(`  ${ops.length} store calls: ${describeWorkload(workload)}`)

  const postgres = await createTestDatabase('bench_auth')
  const pgliteFolder = await mkdtemp(join(tmpdir(), 'wa-bench-pglite-'))
  const pgliteDisk = openDatabase({ dataDir: pgliteFolder })
  await pgliteDisk.migrate()
  const pgliteMemory = openDatabase({})
  await pgliteMemory.migrate()

  const stores: StoreUnderTest[] = [
    multiFileStore(),
    postgresStore('Postgres store on PostgreSQL 127.0.0.1', postgres.handle, () => postgres.drop()),
    postgresStore('Postgres store on PGlite (disk)', pgliteDisk, async () => {
      await pgliteDisk.close()
      await rm(pgliteFolder, { recursive: true, force: true })
    }),
    postgresStore('Postgres store on PGlite (memory)', pgliteMemory, () => pgliteMemory.close()),
  ]

  // Rounds interleave the stores so drift in the machine's load hits them all alike; each round uses
  // a fresh folder / session. The best round is reported (the least disturbed by the rest of the box).
  const timings = new Map<string, number[]>(stores.map((store) => [store.name, []]))
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const store of stores) {
        const run = await store.open(round)
        const label = `round ${round}/${rounds} ${store.name}`
        const { wallMs, msByKind } = await replay(ops, run, (done) =>
          process.stdout.write(`\r  ${label}: ${done}/${ops.length}`),
        )
        timings.get(store.name)!.push(wallMs)
        const split = Object.entries(msByKind)
          .map(([kind, ms]) => `${kind} ${ms.toFixed(0)}`)
          .join(', ')
        process.stdout.write(`\r  ${label}: ${ops.length} ops in ${wallMs.toFixed(0)} ms (${split})\n`)
      }
    }
    const memorySessions = Number(args['memory-sessions'])
    if (memorySessions > 0) {
      const perSession = await measureIdleMemory(stores[1]!, ops, memorySessions)
      console.log(
        `  memory: ${(perSession / 1024).toFixed(0)} KiB of heap + Buffers per idle session (${memorySessions} sessions, PostgreSQL store)`,
      )
    }
  } finally {
    for (const store of stores) await store.close()
  }

  // Best and median per store: the box may be shared, and the best round is the least disturbed one.
  const best = (name: string) => Math.min(...timings.get(name)!)
  const median = (name: string) => {
    const sorted = [...timings.get(name)!].sort((a, b) => a - b)
    return sorted[Math.floor((sorted.length - 1) / 2)]!
  }
  const baselineName = stores[0]!.name
  console.log(`\nresults (${rounds} rounds; ${ops.length} ops each, awaited in order)`)
  console.log(
    `${'store'.padEnd(42)} ${'best ms'.padStart(8)} ${'ops/s'.padStart(7)} ${'ratio'.padStart(6)}  ${'median ms'.padStart(9)} ${'ops/s'.padStart(7)} ${'ratio'.padStart(6)}`,
  )
  for (const store of stores) {
    const cells = [best, median].map((pick) => {
      const wallMs = pick(store.name)
      const opsPerSecond = (ops.length / wallMs) * 1000
      const ratio = pick(baselineName) / wallMs
      return [wallMs.toFixed(0), opsPerSecond.toFixed(0).padStart(7), ratio.toFixed(2).padStart(6)] as const
    })
    const [bestCells, medianCells] = cells as [(typeof cells)[0], (typeof cells)[0]]
    console.log(
      `${store.name.padEnd(42)} ${bestCells[0].padStart(8)} ${bestCells[1]} ${bestCells[2]}  ${medianCells[0].padStart(9)} ${medianCells[1]} ${medianCells[2]}`,
    )
  }
  console.log('ratio = store ops/s ÷ useMultiFileAuthState ops/s (≥ 1.00: the Postgres store keeps up)')
  console.log(`peak RSS ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB`)
}

await main()
