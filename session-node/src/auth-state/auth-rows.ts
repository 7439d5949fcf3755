import { SESSION_FENCE as FENCE } from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import { runStatement } from '@wa-cluster/db'

/**
 * The SQL behind the Postgres auth state. Each function is one statement (one round trip), and every
 * write is fenced: it applies only while `sessions.epoch` still equals the writer's epoch. The `fence`
 * CTE takes `FOR SHARE` on the session row, so an epoch bump either commits before the statement (and
 * the fence finds no row) or waits for it to finish; there is no window where a stale write lands.
 * A batch is one statement rather than an explicit transaction: atomic all the same, one round trip,
 * and PGlite's single connection is never held across awaits.
 */

/** One key write of a batch; `value` null deletes the row. */
export type KeyRowWrite = { category: string; keyId: string; value: Uint8Array | null }

export type KeyRow = { keyId: string; value: Uint8Array }

// Arrays of values travel as base64 text: postgres.js cannot bind an array of Buffers as bytea[].
const WRITE_KEYS = `
  WITH fence AS (${FENCE}),
  deleted AS (
    DELETE FROM auth_keys AS k
    USING unnest($3::text[], $4::text[]) AS d(category, key_id)
    WHERE EXISTS (SELECT 1 FROM fence)
      AND k.session_id = $1 AND k.category = d.category AND k.key_id = d.key_id
    RETURNING 1
  ),
  upserted AS (
    INSERT INTO auth_keys (session_id, category, key_id, value)
    SELECT $1, u.category, u.key_id, decode(u.value, 'base64')
    FROM unnest($5::text[], $6::text[], $7::text[]) AS u(category, key_id, value)
    WHERE EXISTS (SELECT 1 FROM fence)
    ON CONFLICT (session_id, category, key_id) DO UPDATE SET value = excluded.value
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM fence)::int AS fenced`

// The common case (a Signal session update after each message) as a cheaper statement.
const WRITE_ONE_KEY = `
  WITH fence AS (${FENCE})
  INSERT INTO auth_keys (session_id, category, key_id, value)
  SELECT $1, $3, $4, $5::bytea FROM fence
  ON CONFLICT (session_id, category, key_id) DO UPDATE SET value = excluded.value
  RETURNING 1 AS written`

const SELECT_KEYS = `
  SELECT key_id, value FROM auth_keys WHERE session_id = $1 AND category = $2 AND key_id = ANY($3::text[])`

const WRITE_CREDS = `
  WITH fence AS (${FENCE})
  INSERT INTO auth_creds (session_id, value, updated_at)
  SELECT $1, $3::bytea, now() FROM fence
  ON CONFLICT (session_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
  RETURNING 1 AS written`

const SELECT_CREDS = 'SELECT value FROM auth_creds WHERE session_id = $1'

/** Drivers differ: postgres.js returns Buffer, PGlite Uint8Array. */
function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  throw new Error('expected a bytea column')
}

const toBuffer = (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength)

export async function selectKeyRows(
  database: DatabaseHandle,
  sessionId: string,
  category: string,
  keyIds: string[],
): Promise<KeyRow[]> {
  const rows = await runStatement<{ key_id: string; value: unknown }>(database, SELECT_KEYS, [
    sessionId,
    category,
    keyIds,
  ])
  return rows.map((row) => ({ keyId: row.key_id, value: asBytes(row.value) }))
}

/** Applies a whole batch (upserts and deletes across categories) atomically; false (nothing changed) when stale. */
export async function writeKeyRows(
  database: DatabaseHandle,
  sessionId: string,
  epoch: number,
  writes: KeyRowWrite[],
): Promise<boolean> {
  const [only] = writes
  if (writes.length === 1 && only?.value) {
    const rows = await runStatement(database, WRITE_ONE_KEY, [
      sessionId,
      epoch,
      only.category,
      only.keyId,
      toBuffer(only.value),
    ])
    return rows.length > 0
  }
  const upsertCategories: string[] = []
  const upsertKeyIds: string[] = []
  const upsertValues: string[] = []
  const deleteCategories: string[] = []
  const deleteKeyIds: string[] = []
  for (const write of writes) {
    if (write.value) {
      upsertCategories.push(write.category)
      upsertKeyIds.push(write.keyId)
      upsertValues.push(toBuffer(write.value).toString('base64'))
    } else {
      deleteCategories.push(write.category)
      deleteKeyIds.push(write.keyId)
    }
  }
  const rows = await runStatement<{ fenced: number }>(database, WRITE_KEYS, [
    sessionId,
    epoch,
    deleteCategories,
    deleteKeyIds,
    upsertCategories,
    upsertKeyIds,
    upsertValues,
  ])
  return Number(rows[0]?.fenced ?? 0) > 0
}

export async function selectCredsRow(
  database: DatabaseHandle,
  sessionId: string,
): Promise<Uint8Array | undefined> {
  const [row] = await runStatement<{ value: unknown }>(database, SELECT_CREDS, [sessionId])
  return row ? asBytes(row.value) : undefined
}

/** Returns false, having changed nothing, when the epoch is stale. */
export async function writeCredsRow(
  database: DatabaseHandle,
  sessionId: string,
  epoch: number,
  value: Uint8Array,
): Promise<boolean> {
  const rows = await runStatement(database, WRITE_CREDS, [sessionId, epoch, toBuffer(value)])
  return rows.length > 0
}

export async function credsRowExists(database: DatabaseHandle, sessionId: string): Promise<boolean> {
  const rows = await runStatement(database, 'SELECT 1 AS present FROM auth_creds WHERE session_id = $1', [
    sessionId,
  ])
  return rows.length > 0
}
