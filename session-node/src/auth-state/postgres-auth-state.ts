import { credsSealContext, deleteCredentials, keySealContext } from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import { type SecretBox, StaleEpoch } from '@wa-cluster/shared'
import {
  type AuthenticationCreds,
  initAuthCreds,
  type SignalDataSet,
  type SignalDataTypeMap,
} from '@whiskeysockets/baileys'
import type pino from 'pino'
import {
  credsRowExists,
  type KeyRowWrite,
  selectCredsRow,
  selectKeyRows,
  writeCredsRow,
  writeKeyRows,
} from './auth-rows.js'
import { createKeyCache } from './key-cache.js'
import { decodeAuthValue, encodeAuthValue, type KeyCategory } from './serialization.js'

export type PostgresAuthStateOptions = {
  database: DatabaseHandle
  /** Seals every value at rest (AUTH_STATE_KEY). */
  secretBox: SecretBox
  sessionId: string
  /** The ownership epoch this process holds; every write is refused once `sessions.epoch` moves past it. */
  epoch: number
  logger?: pino.Logger
  /** Called once, on the first write refused for a stale epoch (the write also throws). */
  onStaleEpoch?: (error: StaleEpoch) => void
  /** Memory budget of the per-session key cache, in bytes. Default 256 KiB. */
  cacheMaxBytes?: number
}

/** Baileys' SignalKeyStore, with the promises spelled out (assignable to `AuthenticationState['keys']`). */
export type PostgresKeyStore = {
  get<T extends keyof SignalDataTypeMap>(
    category: T,
    keyIds: string[],
  ): Promise<{ [id: string]: SignalDataTypeMap[T] }>
  /** One fenced statement per call; `null` values delete. Throws StaleEpoch (changing nothing) when stale. */
  set(data: SignalDataSet): Promise<void>
  /** Deletes every key of the session (fenced), keeping the creds. */
  clear(): Promise<void>
}

export type PostgresAuthState = {
  state: { creds: AuthenticationCreds; keys: PostgresKeyStore }
  /** Writes the current `state.creds` (fenced). */
  saveCreds(): Promise<void>
  /** Whether creds were stored when the state was opened (false: a fresh pairing is needed). */
  hasCreds: boolean
  /** Waits for in-flight writes (and reads) to settle; never throws (the callers of set saw errors). */
  flush(): Promise<void>
}

const DEFAULT_CACHE_MAX_BYTES = 256 * 1024

/**
 * Categories not worth caching: the 812 pre-keys uploaded at pairing are each read at most once (when
 * a contact starts a session with one) and then deleted, so caching them only costs memory.
 */
const UNCACHED_CATEGORIES: ReadonlySet<string> = new Set<KeyCategory>(['pre-key'])

/** A write that has been called but not yet committed; later reads must see it. */
type PendingWrite = { serialized: string | null; writeSeq: number }

/**
 * Baileys auth state backed by `auth_creds` / `auth_keys`, sealed with the secret box and fenced by
 * the session epoch.
 *
 * Ordering: one session's database operations run one at a time, in call order (a FIFO). That keeps
 * two writes of the same key from landing out of order on different pool connections, and means a
 * read issued before a write can never repopulate the cache with a value older than that write.
 * Reads are answered from uncommitted writes first, then the cache, then one batched query.
 */
export async function openPostgresAuthState(options: PostgresAuthStateOptions): Promise<PostgresAuthState> {
  const { database, secretBox, sessionId, epoch, logger } = options
  const cache = createKeyCache(options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES)
  const pending = new Map<string, PendingWrite>()
  let writeSeq = 0
  let staleError: StaleEpoch | undefined
  let tail: Promise<unknown> = Promise.resolve()

  const inOrder = <T>(work: () => Promise<T>): Promise<T> => {
    const result = tail.then(work, work)
    // The caller of this operation sees its error; the next one only waits for it to settle.
    tail = Promise.allSettled([result])
    return result
  }

  const refuseStale = (): never => {
    if (!staleError) {
      staleError = new StaleEpoch(sessionId, epoch)
      logger?.warn({ sessionId, epoch }, 'auth state write refused: epoch is stale')
      options.onStaleEpoch?.(staleError)
    }
    throw staleError
  }

  const cacheKeyOf = (category: string, keyId: string) => `${category}/${keyId}`

  const storedCreds = await selectCredsRow(database, sessionId)
  const creds: AuthenticationCreds = storedCreds
    ? decodeAuthValue('creds', secretBox.open(storedCreds, credsSealContext(sessionId)).toString('utf8'))
    : initAuthCreds()

  const readKeys = async (category: string, keyIds: string[]) => {
    const values = new Map<string, string | null>()
    const missing: string[] = []
    for (const keyId of keyIds) {
      const cacheKey = cacheKeyOf(category, keyId)
      const uncommitted = pending.get(cacheKey)
      const known = uncommitted ? uncommitted.serialized : cache.read(cacheKey)
      if (known === undefined) missing.push(keyId)
      else values.set(keyId, known)
    }
    if (missing.length > 0) {
      const rows = await inOrder(() => selectKeyRows(database, sessionId, category, missing))
      const found = new Map<string, string>()
      for (const row of rows) {
        found.set(
          row.keyId,
          secretBox.open(row.value, keySealContext(sessionId, category, row.keyId)).toString('utf8'),
        )
      }
      for (const keyId of missing) {
        const serialized = found.get(keyId) ?? null
        values.set(keyId, serialized)
        const cacheKey = cacheKeyOf(category, keyId)
        // A write called while this read was queued is newer than what the read saw; it fills the cache.
        if (!UNCACHED_CATEGORIES.has(category) && !pending.has(cacheKey)) cache.remember(cacheKey, serialized)
      }
    }
    return values
  }

  const keys: PostgresKeyStore = {
    async get<T extends keyof SignalDataTypeMap>(category: T, keyIds: string[]) {
      const values = await readKeys(category, keyIds)
      const result: { [id: string]: SignalDataTypeMap[T] } = {}
      for (const [keyId, serialized] of values) {
        if (serialized !== null) result[keyId] = decodeAuthValue(category, serialized)
      }
      return result
    },

    async set(data: SignalDataSet) {
      if (staleError) refuseStale()
      const seq = ++writeSeq
      const batch: { cacheKey: string; category: string; keyId: string; serialized: string | null }[] = []
      // Serialize now: the caller may mutate its objects after set() returns control.
      for (const [category, entries] of Object.entries(data)) {
        for (const [keyId, value] of Object.entries(entries ?? {})) {
          const serialized = value === null || value === undefined ? null : encodeAuthValue(value)
          const cacheKey = cacheKeyOf(category, keyId)
          batch.push({ cacheKey, category, keyId, serialized })
          pending.set(cacheKey, { serialized, writeSeq: seq })
        }
      }
      if (batch.length === 0) return
      const settle = (committed: boolean) => {
        for (const write of batch) {
          if (pending.get(write.cacheKey)?.writeSeq !== seq) continue
          pending.delete(write.cacheKey)
          if (committed && !UNCACHED_CATEGORIES.has(write.category))
            cache.remember(write.cacheKey, write.serialized)
          else cache.forget(write.cacheKey)
        }
      }
      try {
        const applied = await inOrder(() => {
          if (staleError) return Promise.resolve(false)
          const rows: KeyRowWrite[] = batch.map((write) => ({
            category: write.category,
            keyId: write.keyId,
            value:
              write.serialized === null
                ? null
                : secretBox.seal(
                    Buffer.from(write.serialized, 'utf8'),
                    keySealContext(sessionId, write.category, write.keyId),
                  ),
          }))
          return writeKeyRows(database, sessionId, epoch, rows)
        })
        settle(applied)
        if (!applied) refuseStale()
      } catch (error) {
        // A write that failed while the session is still ours (Postgres away) is still what the socket
        // uses: Baileys encrypted with these values and retries the commit. Its entries stay pending, so
        // reads keep returning them and never the older rows in Postgres (a Signal session read back
        // stale encrypts with a spent ratchet, which the recipient cannot decrypt). The retry replaces them.
        if (staleError) settle(false)
        throw error
      }
    },

    async clear() {
      if (staleError) refuseStale()
      const applied = await inOrder(() => deleteCredentials(database, sessionId, epoch, 'keys'))
      cache.clear()
      if (!applied) refuseStale()
    },
  }

  return {
    state: { creds, keys },
    hasCreds: storedCreds !== undefined,
    async saveCreds() {
      if (staleError) refuseStale()
      const sealed = secretBox.seal(Buffer.from(encodeAuthValue(creds), 'utf8'), credsSealContext(sessionId))
      const applied = await inOrder(() => writeCredsRow(database, sessionId, epoch, sealed))
      if (!applied) refuseStale()
    },
    async flush() {
      await tail
    },
  }
}

/** Deletes a session's creds and keys (log-out). Fenced when `epoch` is given: throws StaleEpoch if stale. */
export async function wipeAuthState(
  database: DatabaseHandle,
  sessionId: string,
  epoch?: number,
): Promise<void> {
  const applied = await deleteCredentials(database, sessionId, epoch)
  if (!applied) throw new StaleEpoch(sessionId, epoch ?? -1)
}

export async function hasAuthCreds(database: DatabaseHandle, sessionId: string): Promise<boolean> {
  return credsRowExists(database, sessionId)
}
