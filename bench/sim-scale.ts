/**
 * wa-sim scale benchmark: N concurrent linked Baileys sessions against one simulator process.
 *
 *   npx tsx bench/sim-scale.ts [--sessions 5000] [--paired 50] [--workers 4] [--idle-ms 45000]
 *
 * Honest shortcut: pairing from scratch makes each Baileys client generate and upload 812 prekeys
 * (~250 ms CPU), i.e. ~20 CPU-minutes for 5,000 on this 2-core machine. So `--paired` sessions go
 * through the full real flow (QR → scan → 515 → login → prekey upload), and the rest are
 * pre-linked: this script creates their creds (initAuthCreds) and writes them, with their companion
 * device, noise key, identity and 20 uploaded prekeys, into a simulator state file before starting
 * the simulator. Those sessions then do a real Noise handshake + login + the whole post-login query
 * sequence, exactly as a gateway restart would. Clients run in worker processes; the simulator runs
 * alone in its own child process, so its RSS/CPU are its own.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { installLeanAsyncContext } from '@wa-cluster/session-node'
import {
  type AuthenticationCreds,
  BufferJSON,
  Curve,
  initAuthCreds,
  type KeyPair,
  makeWASocket,
  WA_CERT_DETAILS,
} from '@whiskeysockets/baileys'
import { AccountRegistry, lidJid, pnJid } from '../wa-sim/src/account-registry.js'
import { SimControlClient } from '../wa-sim/src/control-client.js'
import { SimLogger } from '../wa-sim/src/logger.js'
import { createServerIdentity } from '../wa-sim/src/server-identity.js'
import { StateFileWriter } from '../wa-sim/src/state-file.js'

const here = dirname(fileURLToPath(import.meta.url))
const PREKEYS_PER_PRELINKED = 20

interface SessionSpec {
  index: number
  phone: string
  /** Serialized creds (BufferJSON) for a pre-linked session; absent = pair via QR. */
  creds?: string
}

interface WorkerInit {
  url: string
  controlUrl: string
  rootPublicKey: string
  sessions: SessionSpec[]
  sharedPreKeys: string
  concurrency: number
}

type WorkerReport =
  | {
      kind: 'progress'
      open: number
      failed: number
      closedAfterOpen: number
      closeCodes: Record<string, number>
    }
  | { kind: 'status'; open: number; closedAfterOpen: number; inbound: number; rssMb: number }

// ---------------------------------------------------------------- worker: runs Baileys clients
async function runWorker(): Promise<void> {
  // Hundreds of Baileys sockets per worker: without this each socket's AsyncLocalStorage is copied onto
  // every promise, the worker's event loop stalls past the keepalive and its sockets drop (408). The
  // gateway runs the same measure (session-node/src/providers/baileys/async-context.ts).
  installLeanAsyncContext()
  const init = await new Promise<WorkerInit>((resolve) =>
    process.once('message', (m) => resolve(m as WorkerInit)),
  )
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(init.rootPublicKey, 'base64')
  const control = new SimControlClient(init.controlUrl)
  const sharedPreKeys = JSON.parse(init.sharedPreKeys, BufferJSON.reviver) as Record<string, KeyPair>
  const logger = new SimLogger('silent')
  let open = 0
  let failed = 0
  let closedAfterOpen = 0
  let inbound = 0
  const closeCodes: Record<string, number> = {}
  const report = () =>
    process.send?.({ kind: 'progress', open, failed, closedAfterOpen, closeCodes } satisfies WorkerReport)

  const connectOne = (spec: SessionSpec) =>
    new Promise<void>((resolve) => {
      const creds: AuthenticationCreds = spec.creds
        ? JSON.parse(spec.creds, BufferJSON.reviver)
        : initAuthCreds()
      // A copy per client: a pkmsg consumes (deletes) the prekey it used.
      const store: Record<string, Record<string, unknown>> = {
        'pre-key': spec.creds ? { ...sharedPreKeys } : {},
      }
      const keys = {
        get: (type: string, ids: string[]) => {
          const bucket = store[type] ?? {}
          return Object.fromEntries(
            ids.filter((id) => bucket[id] !== undefined).map((id) => [id, bucket[id]]),
          )
        },
        set: (data: Record<string, Record<string, unknown>>) => {
          for (const [type, values] of Object.entries(data)) {
            store[type] ??= {}
            const bucket = store[type]
            for (const [id, value] of Object.entries(values ?? {})) {
              if (value === null || value === undefined) delete bucket[id]
              else bucket[id] = value
            }
          }
        },
      }
      let wasOpen = false
      let settled = false
      const settle = () => {
        if (!settled) {
          settled = true
          resolve()
        }
      }
      const start = () => {
        const sock = makeWASocket({
          waWebSocketUrl: init.url,
          auth: { creds, keys: keys as never },
          logger: logger as never,
          markOnlineOnConnect: false,
          connectTimeoutMs: 120_000,
          defaultQueryTimeoutMs: 120_000,
        })
        sock.ev.on('creds.update', (update) => Object.assign(creds, update))
        sock.ev.on('messages.upsert', ({ messages }) => {
          if (messages.some((m) => m.message?.conversation?.startsWith('bench '))) inbound++
        })
        sock.ev.on('connection.update', (update) => {
          if (update.qr) {
            control.scan({ qr: update.qr, phone: spec.phone }).catch(() => {})
          }
          if (update.connection === 'open') {
            wasOpen = true
            open++
            report()
            settle()
          }
          if (update.connection === 'close') {
            const code = (update.lastDisconnect?.error as { output?: { statusCode?: number } })?.output
              ?.statusCode
            if (code === 515) {
              start()
              return
            }
            closeCodes[String(code)] = (closeCodes[String(code)] ?? 0) + 1
            if (wasOpen) {
              open--
              closedAfterOpen++
            } else failed++
            report()
            settle()
          }
        })
      }
      start()
    })

  // Bounded concurrency: a login burst of thousands at once would only queue in the event loop.
  let next = 0
  await Promise.all(
    Array.from({ length: init.concurrency }, async () => {
      while (next < init.sessions.length) {
        const spec = init.sessions[next++]!
        await connectOne(spec)
      }
    }),
  )
  report()
  process.on('message', (m) => {
    if ((m as { kind?: string }).kind === 'status') {
      process.send?.({
        kind: 'status',
        open,
        closedAfterOpen,
        inbound,
        rssMb: Math.round(process.memoryUsage().rss / 1e6),
      } satisfies WorkerReport)
    }
  })
}

// ---------------------------------------------------------------- coordinator
function processStats(pid: number): { rssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const ticks = Number(stat[11]) + Number(stat[12])
  return { rssMb: rssKb / 1024, cpuSeconds: ticks / 100 }
}

async function runCoordinator(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string', default: '5000' },
      paired: { type: 'string', default: '50' },
      workers: { type: 'string', default: '8' },
      'idle-ms': { type: 'string', default: '45000' },
      concurrency: { type: 'string', default: '25' },
    },
  })
  const sessions = Number(values.sessions)
  const paired = Math.min(Number(values.paired), sessions)
  const workerCount = Number(values.workers)
  const idleMs = Number(values['idle-ms'])
  const log = (line: string) => console.log(`[sim-scale ${new Date().toISOString().slice(11, 19)}] ${line}`)
  log(
    `${sessions} sessions: ${paired} paired via QR from scratch, ${sessions - paired} pre-linked; ${workerCount} client workers`,
  )

  // 1. Seed the simulator state with the pre-linked sessions.
  const dir = mkdtempSync(join(tmpdir(), 'sim-scale-'))
  const stateFile = join(dir, 'sim-state.json')
  const registry = new AccountRegistry(new SimLogger('silent'), () => {})
  const sharedPreKeys: Record<string, KeyPair> = {}
  const uploaded: { keyId: number; publicKey: Buffer }[] = []
  for (let keyId = 1; keyId <= PREKEYS_PER_PRELINKED; keyId++) {
    const pair = Curve.generateKeyPair()
    sharedPreKeys[String(keyId)] = pair
    uploaded.push({ keyId, publicKey: Buffer.from(pair.public) })
  }
  const specs: SessionSpec[] = []
  const seedStart = Date.now()
  for (let index = 0; index < sessions; index++) {
    const phone = `6289${String(index).padStart(9, '0')}`
    if (index < paired) {
      specs.push({ index, phone })
      continue
    }
    const creds = initAuthCreds()
    const account = registry.getOrCreate(phone, `Bench ${index}`)
    const device = registry.addCompanion(account, {
      noisePublicKey: Buffer.from(creds.noiseKey.public),
      identityKey: Buffer.from(creds.signedIdentityKey.public),
      registrationId: creds.registrationId,
      signedPreKey: {
        keyId: creds.signedPreKey.keyId,
        publicKey: Buffer.from(creds.signedPreKey.keyPair.public),
        signature: Buffer.from(creds.signedPreKey.signature),
      },
      platform: 'CHROME',
    })
    device.bootstrapped = true
    registry.storePreKeys(device, uploaded)
    creds.me = { id: pnJid(phone, device.id), lid: lidJid(account.lid, device.id), name: account.name }
    creds.registered = true
    creds.nextPreKeyId = PREKEYS_PER_PRELINKED + 1
    creds.firstUnuploadedPreKeyId = PREKEYS_PER_PRELINKED + 1
    specs.push({ index, phone, creds: JSON.stringify(creds, BufferJSON.replacer) })
  }
  await new StateFileWriter(stateFile, () => ({
    version: 1,
    identity: createServerIdentity(),
    accounts: registry.all(),
  })).flush()
  log(`seeded ${sessions - paired} pre-linked accounts in ${Date.now() - seedStart} ms`)

  // 2. Start the simulator as its own process.
  const sim: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(here, '../wa-sim/src/main.ts'),
      '--port',
      '0',
      '--state-file',
      stateFile,
      '--no-bootstrap',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  sim.on('exit', (code, signal) => log(`simulator exited (code ${code}, signal ${signal})`))
  const first = await new Promise<string>((resolve) =>
    createInterface({ input: sim.stdout! }).once('line', resolve),
  )
  const {
    url,
    control: controlUrl,
    rootPublicKey,
  } = JSON.parse(first) as { url: string; control: string; rootPublicKey: string }
  const control = new SimControlClient(controlUrl)
  await new Promise((resolve) => setTimeout(resolve, 3_000))
  const baseline = processStats(sim.pid!)
  log(
    `simulator pid ${sim.pid} at ${url}; baseline RSS ${baseline.rssMb.toFixed(0)} MB, CPU ${baseline.cpuSeconds.toFixed(1)} s`,
  )

  // 3. Start the client workers.
  const workers: ChildProcess[] = []
  const progress = new Map<number, Extract<WorkerReport, { kind: 'progress' }>>()
  const statusReplies: WorkerReport[] = []
  const started = Date.now()
  for (let w = 0; w < workerCount; w++) {
    // A big heap: a worker near the default limit GC-thrashes, stalls past the keepalive and drops all its sockets.
    const worker = fork(fileURLToPath(import.meta.url), ['--worker'], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=3072'],
    })
    worker.on('message', (m: WorkerReport) => {
      if (m.kind === 'progress') progress.set(w, m)
      else statusReplies.push(m)
    })
    const mine = specs.filter((spec) => spec.index % workerCount === w)
    worker.send({
      url,
      controlUrl,
      rootPublicKey,
      sessions: mine,
      sharedPreKeys: JSON.stringify(sharedPreKeys, BufferJSON.replacer),
      concurrency: Number(values.concurrency),
    } satisfies WorkerInit)
    workers.push(worker)
  }
  const totals = () =>
    [...progress.values()].reduce(
      (sum, p) => ({
        open: sum.open + p.open,
        failed: sum.failed + p.failed,
        closed: sum.closed + p.closedAfterOpen,
      }),
      { open: 0, failed: 0, closed: 0 },
    )
  let allOnlineMs = 0
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const t = totals()
    const stats = await control.stats()
    const proc = processStats(sim.pid!)
    const codes: Record<string, number> = {}
    for (const p of progress.values())
      for (const [code, n] of Object.entries(p.closeCodes)) codes[code] = (codes[code] ?? 0) + n
    log(
      `open ${t.open}/${sessions} (failed ${t.failed}, closes ${JSON.stringify(codes)}) · sim online ${stats.online} · sim RSS ${proc.rssMb.toFixed(0)} MB · sim CPU ${(proc.cpuSeconds - baseline.cpuSeconds).toFixed(1)} s`,
    )
    if (t.open + t.failed + t.closed >= sessions) {
      allOnlineMs = Date.now() - started
      break
    }
  }
  const online = await control.stats()
  const atOnline = processStats(sim.pid!)
  log(
    `all sessions settled after ${(allOnlineMs / 1000).toFixed(1)} s; idling ${idleMs / 1000} s across the 30 s keepalive`,
  )

  // 4. A few inbound messages as a liveness sample, then idle past the keepalive.
  const contact = '6281000000001'
  await control.addContact({ pn: contact, name: 'Bench contact' })
  const sample = specs.filter((_, i) => i % Math.max(1, Math.floor(sessions / 20)) === 0).slice(0, 20)
  for (const spec of sample)
    await control.send({ from: contact, to: spec.phone, text: `bench ${spec.index}` })
  await new Promise((resolve) => setTimeout(resolve, idleMs))
  for (const worker of workers) worker.send({ kind: 'status' })
  await new Promise((resolve) => setTimeout(resolve, 3_000))
  const after = await control.stats()
  const idle = processStats(sim.pid!)
  const clientOpen = statusReplies.reduce((s, r) => s + (r.kind === 'status' ? r.open : 0), 0)
  const clientDropped = statusReplies.reduce((s, r) => s + (r.kind === 'status' ? r.closedAfterOpen : 0), 0)
  const inbound = statusReplies.reduce((s, r) => s + (r.kind === 'status' ? r.inbound : 0), 0)
  const clientRss = statusReplies.reduce((s, r) => s + (r.kind === 'status' ? r.rssMb : 0), 0)

  const perSessionKb = ((idle.rssMb - baseline.rssMb) * 1024) / Math.max(1, after.online)
  console.log('\n=== wa-sim scale benchmark ===')
  console.log(
    `sessions requested            ${sessions} (${paired} paired via QR, ${sessions - paired} pre-linked logins)`,
  )
  console.log(
    `sessions online (sim)         ${online.online} when settled, ${after.online} after ${idleMs / 1000} s idle`,
  )
  console.log(
    `client-side open / dropped    ${clientOpen} / ${clientDropped} (failed before open: ${totals().failed})`,
  )
  console.log(
    `time to bring all online      ${(allOnlineMs / 1000).toFixed(1)} s (progress polled every 5 s)`,
  )
  console.log(
    `simulator RSS                 baseline ${baseline.rssMb.toFixed(0)} MB, online ${atOnline.rssMb.toFixed(0)} MB, idle ${idle.rssMb.toFixed(0)} MB`,
  )
  console.log(
    `RSS per session (idle)        ${perSessionKb.toFixed(1)} KB above the loaded baseline; ${((idle.rssMb * 1024) / Math.max(1, after.online)).toFixed(1)} KB total RSS / sessions`,
  )
  console.log(
    `simulator CPU                 ${(atOnline.cpuSeconds - baseline.cpuSeconds).toFixed(1)} s to bring all online, ${(idle.cpuSeconds - atOnline.cpuSeconds).toFixed(1)} s during idle+sample`,
  )
  console.log(
    `keepalive check               ${after.online === online.online && clientDropped === 0 ? 'PASS' : 'FAIL'} (all stayed connected through the 30 s keepalive)`,
  )
  console.log(`inbound sample                ${inbound}/${sample.length} texts decrypted by sessions`)
  console.log(
    `logins ${after.logins}, replaced ${after.replaced}, maxConcurrentPerDevice ${after.maxConcurrentPerDevice}, pairings ${after.pairings}, unknown iqs ${after.unknownIqs}`,
  )
  console.log(`client workers RSS total      ${clientRss} MB`)
  const codes: Record<string, number> = {}
  for (const p of progress.values())
    for (const [code, n] of Object.entries(p.closeCodes)) codes[code] = (codes[code] ?? 0) + n
  console.log(`client close codes            ${JSON.stringify(codes)}`)

  for (const worker of workers) worker.kill()
  sim.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  rmSync(dir, { recursive: true, force: true })
  process.exit(0)
}

if (process.argv.includes('--worker')) await runWorker()
else await runCoordinator()
