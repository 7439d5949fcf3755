import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import net from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type ManagedProcess, startProcess } from '../../../test-support/processes.js'

/**
 * `npm start` on a laptop with nothing configured: PGlite in DATA_DIR, in-process coordination, a
 * generated admin key. What it creates is private, it listens on this machine only and says so, it
 * shows the admin key once, and its metrics are not on the public port.
 */

/** Every path under `root` (root included) with its permission bits. */
function modesUnder(root: string): { path: string; mode: number; directory: boolean }[] {
  const entries = readdirSync(root, { recursive: true, withFileTypes: true }).map((entry) =>
    join(entry.parentPath, entry.name),
  )
  return [root, ...entries].map((path) => {
    const stat = statSync(path)
    return { path, mode: stat.mode & 0o777, directory: stat.isDirectory() }
  })
}

/** Local addresses (hex, as /proc/net/tcp* writes them) of the sockets listening on `port`. */
function listeningAddresses(port: number): string[] {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0')
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[3] === '0A' && fields[1]?.endsWith(`:${portHex}`))
      .map((fields) => fields[1]!.split(':')[0]!),
  )
}

/** True when a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy()
      resolve(true)
    })
    socket.setTimeout(2000, () => {
      socket.destroy()
      resolve(false)
    })
    socket.on('error', () => resolve(false))
  })
}

function bannerOf(gateway: ManagedProcess): string {
  const start = gateway.lines.findIndex((line) => line.startsWith('wa-cluster is running at'))
  return gateway.lines.slice(start, start + 8).join('\n')
}

describe('all-in-one laptop defaults (real process, PGlite, nothing configured)', () => {
  let root: string
  let dataDir: string
  let port: number
  let metricsPort: number
  let gateway: ManagedProcess | undefined
  let env: Record<string, string>

  async function startGateway(extra: Record<string, string> = {}): Promise<ManagedProcess> {
    const started = startProcess('laptop', 'all-in-one/src/main.ts', { ...env, ...extra })
    gateway = started
    await started.waitForLine(/^wa-cluster is running at/, 90_000)
    await started.waitForLine(/^ {2}data:/)
    return started
  }

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'wa-laptop-'))
    // Does not exist yet: the gateway creates it (and its parent).
    dataDir = join(root, 'home', '.wa-cluster')
    port = await freePort()
    metricsPort = await freePort()
    env = {
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
    }
  })

  afterAll(async () => {
    await gateway?.stop('SIGTERM')
    if (root) rmSync(root, { recursive: true, force: true })
  })

  it('first start: binds 127.0.0.1, prints that URL and the new admin key once', async () => {
    const first = await startGateway()
    const banner = bannerOf(first)
    expect(banner).toContain(`wa-cluster is running at http://127.0.0.1:${port}\n`)
    expect(banner).toMatch(/listening: {2}127\.0\.0\.1 port \d+: this machine only/)
    const adminKey = /admin key: {2}(wak_admin_\S+)/.exec(banner)?.[1]
    expect(adminKey).toBeDefined()
    expect(banner).toContain(join(dataDir, 'secrets.json'))

    // The printed key is the operator key.
    const tenants = await fetch(`http://127.0.0.1:${port}/v1/tenants`, {
      headers: { authorization: `Bearer ${adminKey}` },
    })
    expect(tenants.status).toBe(200)

    // Only the loopback address listens, on both ports.
    for (const bound of [port, metricsPort]) {
      const addresses = listeningAddresses(bound)
      expect(addresses.length).toBeGreaterThan(0)
      expect(addresses.every((address) => address === '0100007F')).toBe(true)
    }
    const external = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)
    if (external) expect(await accepts(external.address, port)).toBe(false)
    // The JSON log line never carries the key.
    expect(first.lines.filter((line) => line.startsWith('{')).join('\n')).not.toContain(adminKey!)
  })

  it('creates DATA_DIR 0700 and every file in it without group or other access', () => {
    const modes = modesUnder(dataDir)
    expect(modes.length).toBeGreaterThan(100) // PGlite's cluster is there
    expect(modes[0]).toMatchObject({ path: dataDir, mode: 0o700 })
    const open = modes.filter((entry) => (entry.mode & 0o077) !== 0)
    expect(open.map((entry) => `${entry.path} ${entry.mode.toString(8)}`)).toEqual([])
    expect(modes.filter((entry) => entry.directory).every((entry) => entry.mode === 0o700)).toBe(true)
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600)
  })

  it('serves /metrics only on METRICS_PORT, not on the public port', async () => {
    const publicMetrics = await fetch(`http://127.0.0.1:${port}/metrics`)
    expect(publicMetrics.status).toBe(404)
    expect(await publicMetrics.text()).not.toContain('nodejs_')
    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toMatch(
      /http_requests_total\{route="\/v1\/tenants",method="GET",status="200"\}/,
    )
    expect(bannerOf(gateway!)).toContain(`metrics:    http://127.0.0.1:${metricsPort}/metrics`)
  })

  it('a restart does not print the admin key again; it says where the key is kept', async () => {
    const stored = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as { adminApiKey: string }
    expect(await gateway!.stop('SIGTERM')).toBe(0)
    const again = await startGateway()
    const banner = bannerOf(again)
    expect(again.lines.join('\n')).not.toContain(stored.adminApiKey)
    expect(banner).toContain(`admin key:  kept in ${join(dataDir, 'secrets.json')}`)
    const tenants = await fetch(`http://127.0.0.1:${port}/v1/tenants`, {
      headers: { authorization: `Bearer ${stored.adminApiKey}` },
    })
    expect(tenants.status).toBe(200)
    expect(await again.stop('SIGTERM')).toBe(0)
  })

  it('tightens a DATA_DIR left readable by others; never prints a key given in ADMIN_API_KEY; HOST=0.0.0.0 is announced', async () => {
    // As an older version left it: the directory and PGlite's files readable by every local user.
    chmodSync(dataDir, 0o755)
    const relation = join(dataDir, 'pgdata', 'PG_VERSION')
    chmodSync(relation, 0o666)
    const adminKey = 'operator-key-from-the-environment-0123'
    const everywhere = await startGateway({ ADMIN_API_KEY: adminKey, HOST: '0.0.0.0' })
    expect(statSync(dataDir).mode & 0o777).toBe(0o700)
    expect(statSync(relation).mode & 0o777).toBe(0o600)
    expect(everywhere.lines.join('\n')).not.toContain(adminKey)
    const banner = bannerOf(everywhere)
    expect(banner).toContain('admin key:  from ADMIN_API_KEY')
    expect(banner).toContain(`wa-cluster is running at http://127.0.0.1:${port}\n`)
    expect(banner).toMatch(/listening: {2}every network interface \(HOST=0\.0\.0\.0\) port \d+/)
    expect(listeningAddresses(port)).toContain('00000000')
    expect(await everywhere.stop('SIGTERM')).toBe(0)
  })
})
