import { type DatabaseHandle, runStatement } from '@wa-cluster/db'

/**
 * The fence every owner write of a session's credentials and keys carries: the statement applies only
 * while `sessions.epoch` still equals the writer's epoch. `FOR SHARE` on the session row makes an
 * epoch bump either commit before the statement (the fence finds no row) or wait for it to finish.
 * `$1` is the session id, `$2` the writer's epoch.
 */
export const SESSION_FENCE = 'SELECT 1 FROM sessions WHERE id = $1 AND epoch = $2 FOR SHARE'

/** Whether the session was ever linked (a QR scanned or a pairing code entered) and is still: its creds row exists. */
export async function credentialsExist(database: DatabaseHandle, sessionId: string): Promise<boolean> {
  const rows = await runStatement(database, 'SELECT 1 AS present FROM auth_creds WHERE session_id = $1', [
    sessionId,
  ])
  return rows.length > 0
}

/** `$3` false keeps the creds (clearing keys only); without an epoch the fence always passes. */
const deleteAuth = (fence: string) => `
  WITH fence AS (${fence}),
  deleted_keys AS (
    DELETE FROM auth_keys WHERE session_id = $1 AND EXISTS (SELECT 1 FROM fence) RETURNING 1
  ),
  deleted_creds AS (
    DELETE FROM auth_creds WHERE session_id = $1 AND $3::boolean AND EXISTS (SELECT 1 FROM fence) RETURNING 1
  )
  SELECT (SELECT count(*) FROM fence)::int AS fenced`
const DELETE_AUTH_FENCED = deleteAuth(SESSION_FENCE)
const DELETE_AUTH_UNFENCED = deleteAuth('SELECT 1 WHERE $2::bigint IS NULL')

/**
 * Deletes every key of a session, and its creds unless `only` is 'keys', in one statement. With an
 * epoch it is fenced and returns false (deleting nothing) when stale; without one it always applies.
 */
export async function deleteCredentials(
  database: DatabaseHandle,
  sessionId: string,
  epoch: number | undefined,
  only: 'all' | 'keys' = 'all',
): Promise<boolean> {
  const statement = epoch === undefined ? DELETE_AUTH_UNFENCED : DELETE_AUTH_FENCED
  const rows = await runStatement<{ fenced: number }>(database, statement, [
    sessionId,
    epoch ?? null,
    only === 'all',
  ])
  return Number(rows[0]?.fenced ?? 0) > 0
}
