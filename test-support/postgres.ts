import { randomBytes } from 'node:crypto'
import { type DatabaseHandle, openDatabase } from '@wa-cluster/db'
import postgres from 'postgres'

/** The server the integration tests use; each test file gets its own database on it. */
export const TEST_POSTGRES_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

export type TestDatabase = {
  url: string
  name: string
  handle: DatabaseHandle
  /**
   * An outage of this database, as a restart looks to its clients: every open connection is cut and
   * new ones are refused until the returned function is called.
   */
  refuseConnections(): Promise<() => Promise<void>>
  drop(): Promise<void>
}

/** Creates a fresh, migrated database (`wa_test_…`) and returns a handle plus a `drop()` for cleanup. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `wa_${label.replace(/\W/g, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`
  const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(TEST_POSTGRES_URL)
  url.pathname = `/${name}`
  const handle = openDatabase({ url: url.toString() })
  await handle.migrate()
  return {
    url: url.toString(),
    name,
    handle,
    async refuseConnections() {
      const admin = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} })
      await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`)
      await admin.unsafe(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
      )
      return async () => {
        await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`)
        await admin.end()
      }
    },
    async drop() {
      await handle.close()
      const cleanup = postgres(TEST_POSTGRES_URL, { max: 1, onnotice: () => {} })
      await cleanup.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await cleanup.end()
    },
  }
}
