import type { DatabaseHandle } from '@wa-cluster/db'
import type { SecretBox } from '@wa-cluster/shared'
import { type SQL, sql } from 'drizzle-orm'
import {
  credsSealContext,
  endpointSealingContext,
  keySealContext,
  webhookSecretSealContext,
} from './seal-contexts.js'

/** A column of sealed values, its table's primary key and the AAD each row was sealed with. */
type SealedColumn = {
  table: string
  column: string
  key: string[]
  /** Other columns the context needs. */
  extra?: string[]
  context(row: Record<string, string>): string
}

/** Every sealed value the cluster stores. A new sealed column is added here, or rotation misses it. */
export const SEALED_COLUMNS: SealedColumn[] = [
  {
    table: 'auth_creds',
    column: 'value',
    key: ['session_id'],
    context: (row) => credsSealContext(row.session_id!),
  },
  {
    table: 'auth_keys',
    column: 'value',
    key: ['session_id', 'category', 'key_id'],
    context: (row) => keySealContext(row.session_id!, row.category!, row.key_id!),
  },
  {
    table: 'webhooks',
    column: 'secret_sealed',
    key: ['tenant_id'],
    context: (row) => webhookSecretSealContext(row.tenant_id!),
  },
  {
    table: 'webhooks',
    column: 'previous_secret_sealed',
    key: ['tenant_id'],
    context: (row) => webhookSecretSealContext(row.tenant_id!),
  },
  {
    table: 'webhook_endpoints',
    column: 'secret_sealed',
    key: ['id'],
    context: (row) => endpointSealingContext(row.tenant_id!, row.id!),
    extra: ['tenant_id'],
  },
  {
    table: 'webhook_endpoints',
    column: 'previous_secret_sealed',
    key: ['id'],
    context: (row) => endpointSealingContext(row.tenant_id!, row.id!),
    extra: ['tenant_id'],
  },
]

export type ResealProgress = {
  table: string
  /** Rows looked at so far in this table. */
  scanned: number
  /** Rows re-sealed with the primary key. */
  resealed: number
  /** Rows already sealed with the primary key. */
  current: number
  /** Rows changed by their owner between our read and our write: left alone (the owner sealed them). */
  changed: number
  /** Rows no key of the ring opens. */
  unreadable: number
}

export type ResealResult = { tables: ResealProgress[]; remaining: number; unreadable: number }

/**
 * Re-seals every stored secret with the primary key, batch by batch, while the cluster runs. Each
 * write is a compare-and-set on the exact bytes read, so a value an owner rewrote meanwhile (sealed
 * with the primary key by then) is never overwritten with an older one. `dryRun` only counts.
 * Returns per-table counts and how many values are still sealed with another key.
 */
export async function resealSecrets(input: {
  database: DatabaseHandle
  secretBox: SecretBox
  batchSize?: number
  dryRun?: boolean
  onProgress?: (progress: ResealProgress) => void
}): Promise<ResealResult> {
  const { database, secretBox } = input
  const batchSize = input.batchSize ?? 500
  const tables: ResealProgress[] = []
  for (const target of SEALED_COLUMNS) {
    const progress: ResealProgress = {
      table: target.table,
      scanned: 0,
      resealed: 0,
      current: 0,
      changed: 0,
      unreadable: 0,
    }
    const keyList = sql.join(
      target.key.map((column) => sql.identifier(column)),
      sql`, `,
    )
    let after: string[] | undefined
    for (;;) {
      const from: SQL = after
        ? sql`AND (${keyList}) > (${sql.join(
            after.map((value) => sql`${value}`),
            sql`, `,
          )})`
        : sql``
      const selected = sql.join(
        [...target.key, ...(target.extra ?? [])].map((column) => sql.identifier(column)),
        sql`, `,
      )
      const rows = await database.rows<Record<string, string> & { sealed: Buffer | Uint8Array }>(sql`
        SELECT ${selected}, ${sql.identifier(target.column)} AS sealed FROM ${sql.identifier(target.table)}
        WHERE ${sql.identifier(target.column)} IS NOT NULL ${from} ORDER BY ${keyList} LIMIT ${batchSize}`)
      if (rows.length === 0) break
      for (const row of rows) {
        progress.scanned++
        const sealed = Buffer.from(row.sealed)
        if (secretBox.isCurrent(sealed)) {
          progress.current++
          continue
        }
        let plaintext: Buffer
        try {
          plaintext = secretBox.open(sealed, target.context(row))
        } catch {
          progress.unreadable++
          continue
        }
        if (input.dryRun) continue
        const match = sql.join(
          target.key.map((column) => sql`${sql.identifier(column)} = ${row[column]}`),
          sql` AND `,
        )
        const updated = await database.rows(sql`
          UPDATE ${sql.identifier(target.table)} SET ${sql.identifier(target.column)} = ${secretBox.seal(plaintext, target.context(row))}
          WHERE ${match} AND ${sql.identifier(target.column)} = ${sealed}
          RETURNING 1 AS updated`)
        if (updated.length > 0) progress.resealed++
        else progress.changed++
      }
      after = target.key.map((column) => rows[rows.length - 1]![column]!)
      input.onProgress?.({ ...progress })
    }
    tables.push(progress)
  }
  const remaining = await countNotCurrent(database, secretBox)
  return { tables, remaining, unreadable: tables.reduce((sum, table) => sum + table.unreadable, 0) }
}

/** How many stored values are not sealed with the primary key (to confirm a rotation finished). */
export async function countNotCurrent(database: DatabaseHandle, secretBox: SecretBox): Promise<number> {
  // The key id sits at bytes 2..9 of a version-2 value (Postgres substring is 1-based).
  const primary = Buffer.from(secretBox.primaryKeyId, 'hex')
  let total = 0
  for (const target of SEALED_COLUMNS) {
    const column = sql.identifier(target.column)
    const [row] = await database.rows<{ count: string | number }>(sql`
      SELECT count(*) AS count FROM ${sql.identifier(target.table)}
      WHERE get_byte(${column}, 0) <> 2 OR substring(${column} FROM 2 FOR 8) <> ${primary}`)
    total += Number(row?.count ?? 0)
  }
  return total
}
