// Child process for bench/media-send.ts: one bare Baileys client with in-memory auth, linked to a
// wa-sim process by QR, that sends the given files to one recipient all at once, each as a video read
// from disk as a stream. Protocol on stdout, one JSON line each:
//   {"ready":true}                        linked and logged in
//   {"sent":n,"elapsedMs":…}              after SIGUSR1: all n files sent (the server acked each)
//   {"error":"…"}                         a send failed
// Args: --url --control --root --ca (PEM file) --phone --to --files (comma-separated paths)
import { createReadStream, readFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { rootCertificates } from 'node:tls'
import { parseArgs } from 'node:util'
import { SimControlClient } from '@wa-cluster/wa-sim'
import {
  type AuthenticationCreds,
  initAuthCreds,
  makeWASocket,
  type SignalDataTypeMap,
  WA_CERT_DETAILS,
  type WASocket,
} from '@whiskeysockets/baileys'
import pino from 'pino'

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    control: { type: 'string' },
    root: { type: 'string' },
    ca: { type: 'string' },
    phone: { type: 'string' },
    to: { type: 'string' },
    files: { type: 'string' },
  },
})
const emit = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)
WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(values.root!, 'base64')
const control = new SimControlClient(values.control!)
const fetchAgent = new Agent({ ca: [...rootCertificates, readFileSync(values.ca!, 'utf8')], keepAlive: true })
const creds: AuthenticationCreds = initAuthCreds()
const store: Record<string, Record<string, unknown>> = {}
const keys = {
  get: async <T extends keyof SignalDataTypeMap>(type: T, ids: string[]) => {
    const bucket = store[type] ?? {}
    return Object.fromEntries(ids.filter((id) => bucket[id] !== undefined).map((id) => [id, bucket[id]])) as {
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

const socket = await new Promise<WASocket>((resolve, reject) => {
  const start = () => {
    const sock = makeWASocket({
      waWebSocketUrl: values.url!,
      auth: { creds, keys: keys as never },
      logger: pino({ level: 'error' }) as never,
      markOnlineOnConnect: false,
      fetchAgent,
    })
    sock.ev.on('creds.update', (update) => Object.assign(creds, update))
    sock.ev.on('connection.update', (update) => {
      if (update.qr) control.scan({ qr: update.qr, phone: values.phone!, pushName: 'Bare' }).catch(reject)
      if (update.connection === 'open') resolve(sock)
      if (update.connection === 'close') {
        const code = (update.lastDisconnect?.error as { output?: { statusCode?: number } })?.output
          ?.statusCode
        if (code === 515) start()
        else reject(new Error(`closed with ${code}`))
      }
    })
  }
  start()
})

setInterval(() => {}, 1 << 30)
const go = new Promise((resolve) => process.once('SIGUSR1', resolve))
emit({ ready: true })
await go
const files = values.files!.split(',')
const jid = `${values.to}@s.whatsapp.net`
const started = performance.now()
try {
  await Promise.all(
    files.map((file) =>
      socket.sendMessage(jid, { video: { stream: createReadStream(file) }, mimetype: 'video/mp4' }),
    ),
  )
  emit({ sent: files.length, elapsedMs: performance.now() - started })
} catch (error) {
  emit({ error: (error as Error).message })
}
