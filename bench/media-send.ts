// `npx tsx bench/media-send.ts [--files 20] [--mb 16] [--skip-bare]`
//
// Media sends at size: --files concurrent sends of --mb MB videos (distinct random files on disk) to one
// contact, through an all-in-one gateway process (real Postgres database created for the run, real
// Redis), wa-sim as its own process. Each send is a multipart/form-data POST whose `file` part streams
// from disk (fs.openAsBlob); the gateway stores it in Postgres pieces, then its session sends it (one
// session: its sends go one at a time). Reported: the time until every POST was answered 202 (accept),
// until every message was `sent` (end to end), throughput, and the gateway's peak RSS over its baseline
// (VmRSS sampled every 20 ms).
//
// Same-run baseline: one bare Baileys client (bench/support/bare-media-send.ts) sending the same files
// with sendMessage all at once (each a stream from disk) to the same simulator, after the gateway was
// stopped, measured the same way.
import { randomBytes } from 'node:crypto'
import { openAsBlob, rmSync, writeFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createTenant,
  flagBool,
  flags,
  gatewayWithSim,
  linkSessions,
  loadAverage,
  log,
  type ManagedProcess,
  onCleanup,
  procStats,
  runBench,
  sleep,
  startProcess,
} from './support/common.js'

const opts = flags({ files: '20', mb: '16', 'skip-bare': 'false' })
const fileCount = Number(opts.files)
const fileBytes = Number(opts.mb) * 1024 * 1024
const mb = (bytes: number) => bytes / (1024 * 1024)

/** Samples a process's VmRSS every 20 ms until stopped; the highest reading. */
function peakRss(pid: number) {
  let peak = procStats(pid).rssMb
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procStats(pid).rssMb)
    } catch {}
  }, 20)
  return () => {
    clearInterval(timer)
    return peak
  }
}

await runBench('media-send', 20 * 60_000, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wa-bench-media-'))
  onCleanup(() => rmSync(dir, { recursive: true, force: true }))
  const files = Array.from({ length: fileCount }, (_, index) => {
    const path = join(dir, `clip-${index}.mp4`)
    // An MP4 header so the type is sniffed; the rest random, so nothing compresses or repeats.
    writeFileSync(
      path,
      Buffer.concat([Buffer.from('00000018667479706d703432', 'hex'), randomBytes(fileBytes - 12)]),
    )
    return path
  })
  const contact = '6281390000001'
  const { sim, receiver, tracker, gateway } = await gatewayWithSim('media')
  await sim.control.addContact({ pn: contact, name: 'Receiver' })
  const { tenant, tenantKey: apiKey } = await createTenant(gateway.baseUrl, gateway.adminKey, receiver.url)
  const { linked } = await linkSessions({
    clients: [tenant],
    sim: sim.control,
    tracker,
    count: 1,
    concurrency: 1,
    phonePrefix: '62859',
  })
  const sessionId = linked[0]!.id
  await sleep(3000)
  const base = procStats(gateway.pid).rssMb
  log(
    `gateway baseline RSS ${base.toFixed(1)} MB; sending ${fileCount} × ${opts.mb} MB; load ${loadAverage()}`,
  )

  const stopSampling = peakRss(gateway.pid)
  const started = performance.now()
  const ids = await Promise.all(
    files.map(async (path) => {
      const form = new FormData()
      form.append('to', contact)
      form.append('type', 'video')
      form.append('file', await openAsBlob(path, { type: 'video/mp4' }), 'clip.mp4')
      const response = await fetch(`${gateway.baseUrl}/v1/sessions/${sessionId}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}` },
        body: form,
      })
      const body = (await response.json()) as { id?: string; error?: unknown }
      if (response.status !== 202 || !body.id)
        throw new Error(`send answered ${response.status} ${JSON.stringify(body)}`)
      return body.id
    }),
  )
  const acceptedMs = performance.now() - started
  const acceptPeak = procStats(gateway.pid).rssMb
  const pending = new Set(ids)
  while (pending.size > 0) {
    for (const id of [...pending]) {
      const message = await tenant.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
        params: { path: { sessionId, messageId: id } },
      })
      const status = message.data?.status
      if (status === 'failed') throw new Error(`message ${id} failed: ${JSON.stringify(message.data?.error)}`)
      if (status && status !== 'queued' && status !== 'sending') pending.delete(id)
    }
    await sleep(100)
  }
  const sentMs = performance.now() - started
  const gatewayPeak = stopSampling()
  const totalMb = mb(fileBytes * fileCount)
  log(
    `gateway: accepted all in ${(acceptedMs / 1000).toFixed(1)} s (RSS then ${acceptPeak.toFixed(1)} MB), ` +
      `all sent in ${(sentMs / 1000).toFixed(1)} s = ${(totalMb / (sentMs / 1000)).toFixed(1)} MB/s; ` +
      `peak RSS ${gatewayPeak.toFixed(1)} MB = +${(gatewayPeak - base).toFixed(1)} MB over baseline`,
  )
  await gateway.process.stop('SIGTERM', 15_000)

  if (flagBool(opts['skip-bare'])) return
  const caFile = join(dir, 'media-ca.pem')
  writeFileSync(caFile, sim.mediaCa)
  const child: ManagedProcess = startProcess('bare-media', 'bench/support/bare-media-send.ts', {}, [
    '--url',
    sim.url,
    '--control',
    sim.controlUrl,
    '--root',
    sim.rootPublicKey,
    '--ca',
    caFile,
    '--phone',
    '6285990000009',
    '--to',
    contact,
    '--files',
    files.join(','),
  ])
  onCleanup(() => child.stop('SIGKILL'))
  await child.waitForLine(/"ready":true/, 120_000)
  await sleep(3000)
  const bareBase = procStats(child.child.pid!).rssMb
  const stopBare = peakRss(child.child.pid!)
  child.signal('SIGUSR1')
  const line = await child.waitForLine(/"sent"|"error"/, 15 * 60_000)
  const barePeak = stopBare()
  const result = JSON.parse(line) as { sent?: number; elapsedMs?: number; error?: string }
  if (result.error) throw new Error(`bare Baileys: ${result.error}`)
  const bareMs = result.elapsedMs!
  log(
    `bare Baileys: all sent in ${(bareMs / 1000).toFixed(1)} s = ${(totalMb / (bareMs / 1000)).toFixed(1)} MB/s; ` +
      `peak RSS ${barePeak.toFixed(1)} MB = +${(barePeak - bareBase).toFixed(1)} MB over baseline ${bareBase.toFixed(1)} MB`,
  )
  log(
    `ratio gateway/bare: time ${(sentMs / bareMs).toFixed(2)}×, added RSS ${((gatewayPeak - base) / Math.max(1, barePeak - bareBase)).toFixed(2)}×`,
  )
})
