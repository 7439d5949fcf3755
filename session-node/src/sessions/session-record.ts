import { type DatabaseHandle, resultRows } from '@wa-cluster/db'
import {
  type ConnectionUpdateData,
  type DesiredState,
  type EventEnvelope,
  type SessionState,
  StaleEpoch,
} from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { appendEvent } from '../events/outbox.js'

/** A state change of one session, as written to its row and announced as `connection.update`. */
export type StateChange = {
  state: SessionState
  reason?: string
  statusCode?: number
  qr?: string
  qrImage?: string
  qrExpiresAt?: Date
  pairingCode?: string
  phone?: string
  /** Also change what the session should be (e.g. back to `disconnected` after a logout). */
  desiredState?: DesiredState
  /** Drop the node assignment (the session rests and needs no node). */
  unassign?: boolean
}

/**
 * Writes a state change and its `connection.update` event in one transaction, fenced by `epoch`:
 * an owner that lost the session can neither change its state nor emit events (throws StaleEpoch).
 */
export async function recordSessionState(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; change: StateChange },
): Promise<EventEnvelope<'connection.update'>> {
  const { sessionId, epoch, change } = input
  return database.db.transaction(async (tx) => {
    const [current] = resultRows<{ state: SessionState; phone: string | null }>(
      await tx.execute(
        sql`SELECT state, phone FROM sessions WHERE id = ${sessionId} AND epoch = ${epoch} FOR UPDATE`,
      ),
    )
    if (!current) throw new StaleEpoch(sessionId, epoch)
    const waiting = change.state === 'QR_READY' || change.state === 'PAIRING'
    await tx.execute(sql`
      UPDATE sessions SET
        state = ${change.state},
        reason = ${change.reason ?? null},
        qr = ${waiting ? (change.qr ?? null) : null},
        qr_expires_at = ${waiting ? (change.qrExpiresAt?.toISOString() ?? null) : null},
        pairing_code = ${waiting ? (change.pairingCode ?? null) : null},
        phone = COALESCE(${change.phone ?? null}, phone),
        desired_state = COALESCE(${change.desiredState ?? null}, desired_state),
        node_id = CASE WHEN ${change.unassign ?? false} THEN NULL ELSE node_id END,
        connected_at = CASE WHEN ${change.state} = 'CONNECTED' THEN now() ELSE connected_at END,
        updated_at = now()
      WHERE id = ${sessionId}`)
    const data: ConnectionUpdateData = { state: change.state, previousState: current.state }
    if (change.reason) data.reason = change.reason
    if (change.statusCode !== undefined) data.statusCode = change.statusCode
    if (change.qr) data.qr = change.qr
    if (change.qrImage) data.qrImage = change.qrImage
    if (change.qrExpiresAt) data.qrExpiresAt = change.qrExpiresAt.toISOString()
    if (change.pairingCode) data.pairingCode = change.pairingCode
    const phone = change.phone ?? current.phone
    if (phone) data.phone = phone
    return (await appendEvent(tx, {
      sessionId,
      type: 'connection.update',
      data,
      epoch,
    })) as EventEnvelope<'connection.update'>
  })
}

/**
 * Takes the fencing token for a new owner: increments `sessions.epoch`. Any write still carrying the
 * old epoch is refused from now on. Returns the new epoch, or null when the session is gone.
 */
export async function bumpEpoch(
  database: DatabaseHandle,
  sessionId: string,
  ownerNodeId: string | null,
): Promise<number | null> {
  const [row] = await database.rows<{ epoch: number }>(sql`
    UPDATE sessions SET epoch = epoch + 1, last_node_id = COALESCE(${ownerNodeId}, last_node_id), updated_at = now()
    WHERE id = ${sessionId} RETURNING epoch`)
  return row ? Number(row.epoch) : null
}
