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
 * of its CPU went to that copying and the garbage it made, and linking slowed to a crawl. Even without
 * the copying, each promise's creation still visits every enabled storage: a cost that grows with the
 * sockets a process holds.
 *
 * So a socket does not get a storage of its own. What it creates while it is built (`captureStorages`)
 * is a *slot* in one storage shared by all sockets, whose store maps each slot to its socket's store:
 * however many sockets a process holds, one storage takes part in propagation, and only inside a key
 * transaction (outside any, its store is empty and nothing is copied, see below). A slot offers what
 * Baileys uses of AsyncLocalStorage (`run`, `getStore`) plus `exit`, `enterWith` and `disable`, with the
 * same meaning. A socket's slots are released (`releaseStorages`) when it is done with; a storage made
 * anywhere else is a real one.
 *
 * Storages still only copy a store that exists (an empty one is what a missing property reads as
 * anyway), which keeps the shared storage off every promise made outside a transaction.
 */

type StorageInternals = {
  enabled: boolean
  kResourceStore: symbol
  _propagate?: (resource: object, triggerResource: object, type: string) => void
}

/** What a socket's storage is to its owner: something to release. */
export type SocketStorage = { disable(): void }

/** The real class, kept before the install replaces the export. */
const RealAsyncLocalStorage = AsyncLocalStorage

/**
 * Every socket's slot lives in this one storage: its store maps a slot to that socket's store. Made
 * now, from the real class; Node enables a storage only at its first `run`.
 */
const shared = new RealAsyncLocalStorage<ReadonlyMap<SocketSlot, unknown>>()

let collecting: Set<SocketSlot> | undefined
const live = new Set<SocketSlot>()
let installed = false

/** One socket's storage, kept as an entry in the shared one (see above). */
class SocketSlot {
  private disabled = false

  /** The shared store with this slot's entry set to `store`, or removed when `store` is undefined. */
  private entries(store: unknown): Map<SocketSlot, unknown> {
    const entries = new Map(shared.getStore())
    if (store === undefined) entries.delete(this)
    else entries.set(this, store)
    return entries
  }

  run<R>(store: unknown, callback: (...args: unknown[]) => R, ...args: unknown[]): R {
    this.disabled = false
    return shared.run(this.entries(store), callback, ...args)
  }

  exit<R>(callback: (...args: unknown[]) => R, ...args: unknown[]): R {
    if (!shared.getStore()?.has(this)) return callback(...args)
    return shared.run(this.entries(undefined), callback, ...args)
  }

  enterWith(store: unknown): void {
    this.disabled = false
    shared.enterWith(this.entries(store))
  }

  getStore(): unknown {
    return this.disabled ? undefined : shared.getStore()?.get(this)
  }

  disable(): void {
    this.disabled = true
    live.delete(this)
  }
}

/**
 * AsyncLocalStorage as Baileys gets it: the same class, except that one made while a socket is built
 * is that socket's slot in the shared storage.
 */
class TrackedAsyncLocalStorage<T> extends RealAsyncLocalStorage<T> {
  constructor() {
    super()
    if (collecting) {
      const slot = new SocketSlot()
      collecting.add(slot)
      live.add(slot)
      // A constructor may return another object: the socket holds its slot, never this storage
      // (which, never run, takes no part in propagation).
      // biome-ignore lint/correctness/noConstructorReturn: the slot stands in for the storage
      return slot as unknown as TrackedAsyncLocalStorage<T>
    }
  }
}

/** Installs the slots and the lean propagation once per process. Call before the first socket is created. */
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
export function captureStorages<T>(build: () => T): { result: T; storages: SocketStorage[] } {
  const previous = collecting
  const storages = new Set<SocketSlot>()
  collecting = storages
  try {
    return { result: build(), storages: [...storages] }
  } finally {
    collecting = previous
  }
}

/** Disables storages of a socket that is closed and done writing. */
export function releaseStorages(storages: SocketStorage[]): void {
  for (const storage of storages) storage.disable()
}

/** Storages created by sockets and not released yet (for tests and metrics). */
export function liveSocketStorages(): number {
  return live.size
}
