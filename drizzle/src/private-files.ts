import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import { resolve, sep } from 'node:path'

const privateRoots = new Set<string>()

/** Files an older version left readable by others: made owner-only once, at open. */
function tightenExisting(root: string): void {
  if (!fs.existsSync(root)) return
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isSymbolicLink()) continue
    const path = `${entry.parentPath}${sep}${entry.name}`
    const mode = fs.statSync(path).mode & 0o777
    if (mode & 0o077) fs.chmodSync(path, mode & ~0o077)
  }
}

/**
 * Keeps the files of an embedded database readable by their owner only. PGlite's file system layer
 * (emscripten's NODEFS) creates every file and then chmods it to the mode Postgres asked for inside
 * its virtual file system, 0666, so the process umask never applies to them. Under `dir`, chmod drops
 * the group and other bits; everywhere else it is untouched. Idempotent.
 */
export function keepFilesPrivate(dir: string): void {
  const root = resolve(dir)
  if (privateRoots.has(root)) return
  const first = privateRoots.size === 0
  privateRoots.add(root)
  tightenExisting(root)
  if (!first) return
  const chmodSync = fs.chmodSync
  fs.chmodSync = (path: fs.PathLike, mode: fs.Mode) => {
    const target = resolve(String(path))
    const underPrivateRoot = [...privateRoots].some((r) => target === r || target.startsWith(r + sep))
    if (!underPrivateRoot) return chmodSync(path, mode)
    const numeric = typeof mode === 'string' ? Number.parseInt(mode, 8) : mode
    return chmodSync(path, numeric & ~0o077)
  }
  // ESM importers of node:fs read named exports that are copies; bring them in line with the patch.
  syncBuiltinESMExports()
}
