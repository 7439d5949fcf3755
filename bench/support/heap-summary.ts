// Takes a V8 heap snapshot of a child started with NODE_OPTIONS from `heapSnapshotEnv()` (SIGUSR2) and
// sums self sizes by constructor / node type, and strings by their first characters: a cheap way to see
// what the extra heap per session is made of.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { RESULTS_DIR, sleep } from './common.js'

const DIR = join(RESULTS_DIR, 'heap')

export function heapSnapshotEnv(): Record<string, string> {
  mkdirSync(DIR, { recursive: true })
  return { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${DIR}` }
}

/** Signals `pid`, waits for its snapshot file and returns the top entries (self size, MB). */
export async function snapshotSummary(pid: number, signal: (s: NodeJS.Signals) => void, top = 15) {
  const before = new Set(existsSync(DIR) ? readdirSync(DIR) : [])
  signal('SIGUSR2')
  let file: string | undefined
  for (let i = 0; i < 600 && !file; i++) {
    await sleep(500)
    const candidate = readdirSync(DIR).find(
      (f) => !before.has(f) && f.includes(`.${pid}.`) && f.endsWith('.heapsnapshot'),
    )
    // The file is complete once its size stops changing.
    if (candidate) {
      const { statSync } = await import('node:fs')
      const size1 = statSync(join(DIR, candidate)).size
      await sleep(1500)
      if (statSync(join(DIR, candidate)).size === size1 && size1 > 0) file = candidate
    }
  }
  if (!file) return ['(no heap snapshot written)']
  const path = join(DIR, file)
  const snapshot = JSON.parse(readFileSync(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
    nodes: number[]
    strings: string[]
  }
  rmSync(path, { force: true })
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const byKey = new Map<string, number>()
  const byString = new Map<string, number>()
  let total = 0
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]!]!
    const name = snapshot.strings[snapshot.nodes[i + nameAt]!] ?? ''
    const size = snapshot.nodes[i + sizeAt]!
    total += size
    const key =
      type === 'object' || type === 'closure' || type === 'native' ? `${type} ${name.slice(0, 60)}` : type
    byKey.set(key, (byKey.get(key) ?? 0) + size)
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') {
      const prefix = JSON.stringify(name.slice(0, 28))
      byString.set(prefix, (byString.get(prefix) ?? 0) + size)
    }
  }
  const mb = (v: number) => `${(v / 2 ** 20).toFixed(1)} MB`
  const lines = [`heap snapshot: ${mb(total)} self size in total; top by constructor/type:`]
  for (const [key, size] of [...byKey].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`      ${mb(size).padStart(9)}  ${key}`)
  lines.push('    top strings by first characters:')
  for (const [key, size] of [...byString].sort((a, b) => b[1] - a[1]).slice(0, 8))
    lines.push(`      ${mb(size).padStart(9)}  ${key}`)
  return lines
}
