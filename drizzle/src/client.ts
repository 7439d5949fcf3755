import { chmodSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import type { SQL } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { keepFilesPrivate } from './private-files.js'
import * as schema from './schema/index.js'

export type Schema = typeof schema
/** The query builder; the same API whether Postgres or PGlite is behind it. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>

export type DatabaseOptions =
  /** A real Postgres server (production, the cluster, tests). */
  | {
      url: string
      maxConnections?: number
      /** How long the server lets a connection idle inside a transaction (default 10 s). */
      idleInTransactionTimeoutMs?: number
    }
  /** Embedded PGlite: data in `dataDir`, or in memory when `dataDir` is omitted. */
  | { dataDir?: string; url?: undefined }

export type DatabaseHandle = {
  db: Database
  kind: 'postgres' | 'pglite'
  /** Runs raw SQL and returns its rows, hiding the drivers' different result shapes. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>
  /**
   * Calls `onNotification` with the payload of every NOTIFY on `channel` (a connection of its own on
   * Postgres, re-established by the driver after a drop; `onListening` runs on every (re)subscription,
   * since notifications sent while it was down are lost). Resolves to the unsubscribe.
   */
  listen(
    channel: string,
    onNotification: (payload: string) => void,
    onListening?: () => void,
  ): Promise<() => Promise<void>>
  /** Applies the generated migrations in drizzle/migrations. */
  migrate(): Promise<void>
  close(): Promise<void>
}

/** Rows of a `db.execute()` / `tx.execute()` result, whichever driver produced it. */
export function resultRows<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[]
}

const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url))

/** How long the server lets a connection sit inside a transaction between two statements. */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000

export function openDatabase(options: DatabaseOptions): DatabaseHandle {
  if (options.url) {
    const client = postgres(options.url, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      // Short idle lifetime keeps a restarted server from leaving us with dead sockets for long.
      idle_timeout: 30,
      connect_timeout: 10,
      connection: {
        // A process frozen inside a transaction (SIGSTOP, a VM pause) keeps its row locks for as long
        // as it stays frozen, and the failover that re-places its sessions would wait on them. No
        // transaction of ours idles between statements for long, so the server ends such a one.
        idle_in_transaction_session_timeout:
          options.idleInTransactionTimeoutMs ?? IDLE_IN_TRANSACTION_TIMEOUT_MS,
      },
    })
    const db = drizzlePostgres(client, { schema })
    return {
      db: db as unknown as Database,
      kind: 'postgres',
      rows: async (query) => resultRows(await db.execute(query)),
      async listen(channel, onNotification, onListening) {
        const { unlisten } = await client.listen(channel, onNotification, onListening)
        return unlisten
      },
      migrate: () => migratePostgres(db, { migrationsFolder }),
      close: () => client.end({ timeout: 5 }),
    }
  }
  const dataDir = 'dataDir' in options ? options.dataDir : undefined
  if (dataDir) {
    // Credentials and Signal keys live in these files: owner only, like a real Postgres data directory.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    chmodSync(dataDir, 0o700)
    keepFilesPrivate(dataDir)
  }
  const client = new PGlite(dataDir)
  const db = drizzlePglite(client, { schema })
  return {
    db: db as unknown as Database,
    kind: 'pglite',
    rows: async (query) => resultRows(await db.execute(query)),
    async listen(channel, onNotification, onListening) {
      // One in-process database: a NOTIFY reaches this callback when its transaction commits.
      const unlisten = await client.listen(channel, onNotification)
      onListening?.()
      return unlisten
    },
    migrate: () => migratePglite(db, { migrationsFolder }),
    close: () => client.close(),
  }
}
