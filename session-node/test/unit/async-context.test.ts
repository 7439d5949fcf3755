import { AsyncLocalStorage } from 'node:async_hooks'
import { describe, expect, it } from 'vitest'
import {
  captureStorages,
  installLeanAsyncContext,
  liveSocketStorages,
  releaseStorages,
} from '../../src/providers/baileys/async-context.js'

installLeanAsyncContext()

/** What Baileys does per socket: `new AsyncLocalStorage()` at construction, `run()` per key transaction. */
function fakeSocket() {
  const storage = new AsyncLocalStorage<{ tx: number }>()
  return {
    storage,
    transaction: <T>(tx: number, work: () => Promise<T>) => storage.run({ tx }, work),
  }
}

/** The per-storage properties Node puts on an async resource (its async ids are other symbols). */
const storeProperties = (resource: object) =>
  Object.getOwnPropertySymbols(resource).filter((symbol) => symbol.description === 'kResourceStore')

describe('lean async context for Baileys sockets', () => {
  it('captures the storages a socket creates, and releasing them takes them out of propagation', async () => {
    const before = liveSocketStorages()
    const built = Array.from({ length: 50 }, () => captureStorages(fakeSocket))
    expect(built.every(({ storages }) => storages.length === 1)).toBe(true)
    expect(liveSocketStorages()).toBe(before + 50)
    // Enabled by a first transaction, as Baileys' are.
    for (const [index, { result }] of built.entries()) await result.transaction(index, async () => {})

    // Code outside any transaction: its promises carry no per-storage property at all.
    const outside = Promise.resolve()
    await outside
    expect(storeProperties(outside)).toEqual([])

    // Inside a transaction the store still follows the async chain, and only that storage's.
    const [first, second] = built.map(({ result }) => result)
    const seen = await first!.transaction(7, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      await Promise.resolve()
      return { mine: first!.storage.getStore(), other: second!.storage.getStore() }
    })
    expect(seen).toEqual({ mine: { tx: 7 }, other: undefined })

    for (const { storages } of built) releaseStorages(storages)
    expect(liveSocketStorages()).toBe(before)
    expect(built.every(({ result }) => result.storage.getStore() === undefined)).toBe(true)
  })

  it('however many sockets run transactions, one storage takes part in each promise made', async () => {
    const built = Array.from({ length: 50 }, () => captureStorages(fakeSocket))
    for (const [index, { result }] of built.entries()) await result.transaction(index, async () => {})
    // Node 20 asks every enabled storage to propagate into each new async resource.
    // (Where Node defines it: the export is the installed subclass now.)
    let prototype = AsyncLocalStorage.prototype as unknown as { _propagate: (...args: unknown[]) => void }
    while (!Object.hasOwn(prototype, '_propagate')) prototype = Object.getPrototypeOf(prototype)
    const original = prototype._propagate
    let visits = 0
    prototype._propagate = function (this: unknown, ...args: unknown[]) {
      visits++
      return original.apply(this, args)
    }
    let inside = 0
    try {
      await built[0]!.result.transaction(1, async () => {
        visits = 0
        void Promise.resolve().then(() => {})
        inside = visits
      })
    } finally {
      prototype._propagate = original
    }
    // One storage for all 50 sockets (a storage per socket visited 50 here).
    expect(inside).toBeGreaterThan(0)
    expect(inside).toBeLessThan(5)
    for (const { storages } of built) releaseStorages(storages)
  })

  it('keeps the stores of sockets apart, nested or not, and exit leaves only its own', async () => {
    const [a, b] = [captureStorages(fakeSocket), captureStorages(fakeSocket)]
    const seen = await a.result.transaction(1, () =>
      b.result.transaction(2, async () => {
        await new Promise((resolve) => setTimeout(resolve, 1))
        const both = [a.result.storage.getStore(), b.result.storage.getStore()]
        const exited = b.result.storage.exit(() => [a.result.storage.getStore(), b.result.storage.getStore()])
        return { both, exited }
      }),
    )
    expect(seen).toEqual({ both: [{ tx: 1 }, { tx: 2 }], exited: [{ tx: 1 }, undefined] })
    expect([a.result.storage.getStore(), b.result.storage.getStore()]).toEqual([undefined, undefined])
    releaseStorages([...a.storages, ...b.storages])
  })

  it('leaves storages made outside a socket alone', () => {
    const before = liveSocketStorages()
    const storage = new AsyncLocalStorage<number>()
    expect(liveSocketStorages()).toBe(before)
    expect(storage.run(3, () => storage.getStore())).toBe(3)
  })
})
