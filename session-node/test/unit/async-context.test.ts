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

  it('leaves storages made outside a socket alone', () => {
    const before = liveSocketStorages()
    const storage = new AsyncLocalStorage<number>()
    expect(liveSocketStorages()).toBe(before)
    expect(storage.run(3, () => storage.getStore())).toBe(3)
  })
})
