import asyncHooks, { AsyncLocalStorage } from 'node:async_hooks'
import { syncBuiltinESMExports } from 'node:module'

/**
 * Keeps Baileys' per-socket AsyncLocalStorage from costing every promise in the process.
 *
 * Each Baileys socket creates its own AsyncLocalStorage (its key-transaction context) and never
 * disables it. On Node 20 every enabled storage takes part in every async resource's creation: it
 * copies its store onto the new resource as one more property, even when that store is empty. With a
 * few hundred sockets in one process (and every socket ever reconnected still enabled) each promise
 * carries hundreds of properties: measured on a node with ~370 sessions, 1.4 GB of heap and about 70%
 * of its CPU went to that copying and the garbage it made, and linking slowed to a crawl.
 *
 * Two measures, both invisible to Baileys:
 * - storages only copy a store that exists (an empty one is what a missing property reads as anyway),
 *   so an idle socket's storage adds nothing to other sockets' promises;
 * - the storages a socket creates are collected while it is built (`captureStorages`) and disabled when
 *   the socket is done with (`releaseStorages`), so closed sockets stop taking part at all.
 */

type StorageInternals = {
  enabled: boolean
  kResourceStore: symbol
  _propagate?: (resource: object, triggerResource: object, type: string) => void
}

let collecting: Set<AsyncLocalStorage<unknown>> | undefined
const live = new Set<AsyncLocalStorage<unknown>>()
let installed = false

/** AsyncLocalStorage as Baileys gets it: the same class, which also reports where it was created. */
class TrackedAsyncLocalStorage<T> extends AsyncLocalStorage<T> {
  constructor() {
    super()
    if (collecting) {
      collecting.add(this as AsyncLocalStorage<unknown>)
      live.add(this as AsyncLocalStorage<unknown>)
    }
  }

  override disable(): void {
    live.delete(this as AsyncLocalStorage<unknown>)
    super.disable()
  }
}

/** Installs both measures once per process. Call before the first socket is created. */
export function installLeanAsyncContext(): void {
  if (installed) return
  installed = true
  const prototype = AsyncLocalStorage.prototype as unknown as StorageInternals
  // Node 20's propagation step; later Node versions propagate differently and need nothing here.
  if (typeof prototype._propagate === 'function') {
    prototype._propagate = function propagate(this: StorageInternals, resource, triggerResource) {
      if (!this.enabled) return
      const key = this.kResourceStore
      const store = (triggerResource as Record<symbol, unknown>)[key]
      const target = resource as Record<symbol, unknown>
      // Writing `undefined` only matters to overwrite a value a reused resource still carries.
      if (store !== undefined || target[key] !== undefined) target[key] = store
    }
  }
  // `import { AsyncLocalStorage } from 'node:async_hooks'` in Baileys is a live binding to this export.
  ;(asyncHooks as { AsyncLocalStorage: typeof AsyncLocalStorage }).AsyncLocalStorage =
    TrackedAsyncLocalStorage
  syncBuiltinESMExports()
}

/** Runs `build` (which creates a socket) and returns the storages it created alongside its result. */
export function captureStorages<T>(build: () => T): { result: T; storages: AsyncLocalStorage<unknown>[] } {
  const previous = collecting
  const storages = new Set<AsyncLocalStorage<unknown>>()
  collecting = storages
  try {
    return { result: build(), storages: [...storages] }
  } finally {
    collecting = previous
  }
}

/** Disables storages of a socket that is closed and done writing. */
export function releaseStorages(storages: AsyncLocalStorage<unknown>[]): void {
  for (const storage of storages) storage.disable()
}

/** Storages created by sockets and not released yet (for tests and metrics). */
export function liveSocketStorages(): number {
  return live.size
}
