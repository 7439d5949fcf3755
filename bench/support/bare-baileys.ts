// Child process for bench/gateway-memory.ts: N bare Baileys clients with in-memory auth in ONE process
// against a wa-sim process. Each pairs by QR (the simulated phone scans via the control API), restarts
// after 515 and logs in. Protocol on stdout, one JSON line each:
//   {"ready":true}                         after imports, before any client
//   {"linked":k,"failed":f}                progress
//   {"done":true,"linked":k,"failed":f}    all attempted
//   {"heapUsed":…,"rss":…}                 answer to SIGUSR2
// Linking starts on SIGUSR1 (so the parent can take its baseline first).
// Args: --url --control --root --count --prefix --concurrency
import { parseArgs } from 'node:util'
import { SimControlClient } from '@wa-cluster/wa-sim'
import {
  type AuthenticationCreds,
  initAuthCreds,
  makeWASocket,
  type SignalDataTypeMap,
  WA_CERT_DETAILS,
} from '@whiskeysockets/baileys'
import pino from 'pino'

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    control: { type: 'string' },
    root: { type: 'string' },
    count: { type: 'string', default: '100' },
    prefix: { type: 'string', default: '62858' },
    concurrency: { type: 'string', default: '8' },
  },
})
const emit = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)
WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(values.root!, 'base64')
const control = new SimControlClient(values.control!)
const logger = pino({ level: 'error' })
const count = Number(values.count)
const sockets: unknown[] = []
let linked = 0
let failed = 0

process.on('SIGUSR2', () => {
  const usage = process.memoryUsage()
  emit({ heapUsed: usage.heapUsed, rss: usage.rss })
})

function linkOne(index: number): Promise<void> {
  const phone = `${values.prefix}${String(index).padStart(7, '0')}`
  const creds: AuthenticationCreds = initAuthCreds()
  const store: Record<string, Record<string, unknown>> = {}
  const keys = {
    get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
      const bucket = store[type] ?? {}
      return Object.fromEntries(
        ids.filter((id) => bucket[id] !== undefined).map((id) => [id, bucket[id]]),
      ) as {
        [id: string]: SignalDataTypeMap[T]
      }
    },
    set: async (data: Record<string, Record<string, unknown>>) => {
      for (const [type, entries] of Object.entries(data)) {
        store[type] ??= {}
        const bucket = store[type]
        for (const [id, value] of Object.entries(entries ?? {})) {
          if (value === null || value === undefined) delete bucket[id]
          else bucket[id] = value
        }
      }
    },
  }
  return new Promise((resolve) => {
    let settled = false
    const settle = (ok: boolean) => {
      if (settled) return
      settled = true
      if (ok) linked++
      else failed++
      resolve()
    }
    const start = () => {
      const sock = makeWASocket({
        waWebSocketUrl: values.url!,
        auth: { creds, keys: keys as never },
        logger: logger as never,
        markOnlineOnConnect: false,
      })
      sockets[index] = sock
      sock.ev.on('creds.update', (update) => Object.assign(creds, update))
      sock.ev.on('connection.update', (update) => {
        if (update.qr) control.scan({ qr: update.qr, phone, pushName: `Bare ${index}` }).catch(() => {})
        if (update.connection === 'open') settle(true)
        if (update.connection === 'close') {
          const code = (update.lastDisconnect?.error as { output?: { statusCode?: number } })?.output
            ?.statusCode
          if (code === 515) start()
          else settle(false)
        }
      })
    }
    start()
  })
}

setInterval(() => {}, 1 << 30) // keeps the process alive while it waits and idles
const go = new Promise((resolve) => process.once('SIGUSR1', resolve))
emit({ ready: true })
await go
let next = 0
let lastReport = Date.now()
await Promise.all(
  Array.from({ length: Math.min(count, Number(values.concurrency)) }, async () => {
    while (next < count) {
      await linkOne(next++)
      if (Date.now() - lastReport > 5000) {
        lastReport = Date.now()
        emit({ linked, failed })
      }
    }
  }),
)
emit({ done: true, linked, failed })
