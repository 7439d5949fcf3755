import { type DatabaseHandle, resultRows, sessions, tenants, textArray } from '@wa-cluster/db'
import {
  type ConnectionUpdateData,
  type DesiredState,
  type EventEnvelope,
  type SessionState,
  StaleEpoch,
} from '@wa-cluster/shared'
import { and, desc, eq, lt, sql } from 'drizzle-orm'
import { appendEvent } from '../events/outbox.js'
import { deleteCredentials } from './credentials.js'

/**
 * The `sessions` row: only this module reads or writes it (the outbox's `last_seq` and the fence
 * checks of the hot-path statements aside). Three writers share the row and each owns its columns:
 * the API the desire (`desired_state`, `pairing_phone`), placement the assignment (`node_id`), and
 * the owner, fenced by its epoch, the state. The epoch is bumped in one place, `bumpEpoch`.
 */
export type SessionRow = typeof sessions.$inferSelect

/** A state change of one session, as written to its row and announced as `connection.update`. */
export type StateChange = {
  state: SessionState
  reason?: string
  statusCode?: number
  qr?: string
  /** `qr` as a PNG data URL, rendered once by the owner and stored beside it for the API. */
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
 * States that end a session's run: the QR expired unscanned, the device was unlinked, or the session
 * failed. Whoever records one, the session leaves its node (it no longer counts against the node's
 * capacity) and no longer wants one (failover must not re-place it and show a QR again).
 */
export const RELEASING_STATES: ReadonlySet<SessionState> = new Set(['EXPIRED', 'LOGGED_OUT', 'FAILED'])

/**
 * Writes a state change and its `connection.update` event in one transaction, fenced by `epoch`:
 * an owner that lost the session can neither change its state nor emit events (throws StaleEpoch).
 * A RELEASING_STATES state also unassigns the session and sets its desire to `disconnected`.
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
    const releases = RELEASING_STATES.has(change.state)
    const desiredState = releases ? 'disconnected' : (change.desiredState ?? null)
    await tx.execute(sql`
      UPDATE sessions SET
        state = ${change.state},
        reason = ${change.reason ?? null},
        qr = ${waiting ? (change.qr ?? null) : null},
        qr_image = ${waiting ? (change.qrImage ?? null) : null},
        qr_expires_at = ${waiting ? (change.qrExpiresAt?.toISOString() ?? null) : null},
        pairing_code = ${waiting ? (change.pairingCode ?? null) : null},
        phone = COALESCE(${change.phone ?? null}, phone),
        desired_state = COALESCE(${desiredState}, desired_state),
        node_id = CASE WHEN ${releases || (change.unassign ?? false)} THEN NULL ELSE node_id END,
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
 * Takes the fencing token for a new owner: increments `sessions.epoch`, so any write still carrying
 * the old epoch is refused from now on. With `assignedTo`, only while the session is still assigned
 * to that node and wanted; the node becomes `last_node_id` (stickiness). Returns the new epoch, or
 * null when the session is gone (or no longer assigned there).
 */
export async function bumpEpoch(
  database: DatabaseHandle,
  sessionId: string,
  owner: { assignedTo: string } | { assignedTo?: undefined } = {},
): Promise<number | null> {
  const condition = owner.assignedTo
    ? sql`AND node_id = ${owner.assignedTo} AND desired_state <> 'disconnected'`
    : sql``
  const [row] = await database.rows<{ epoch: number }>(sql`
    UPDATE sessions SET epoch = epoch + 1, last_node_id = COALESCE(${owner.assignedTo ?? null}, last_node_id), updated_at = now()
    WHERE id = ${sessionId} ${condition} RETURNING epoch`)
  return row ? Number(row.epoch) : null
}

export async function readEpoch(database: DatabaseHandle, sessionId: string): Promise<number | null> {
  const [row] = await database.db
    .select({ epoch: sessions.epoch })
    .from(sessions)
    .where(eq(sessions.id, sessionId))
  return row ? row.epoch : null
}

/**
 * Moves a session that no node holds to a resting state directly: bumps the epoch (fencing any late
 * owner), optionally wipes the credentials, records the state with `desired_state` disconnected and no
 * node. Used by the API for a disconnect or logout when no node owns the session.
 */
export async function settleWithoutOwner(
  database: DatabaseHandle,
  input: { sessionId: string; state: SessionState; reason: string; wipeCredentials: boolean },
): Promise<void> {
  const epoch = await bumpEpoch(database, input.sessionId)
  if (epoch === null) return
  if (input.wipeCredentials && !(await deleteCredentials(database, input.sessionId, epoch))) {
    throw new StaleEpoch(input.sessionId, epoch)
  }
  await recordSessionState(database, {
    sessionId: input.sessionId,
    epoch,
    change: { state: input.state, reason: input.reason, desiredState: 'disconnected', unassign: true },
  })
}

// --- the tenant's view (API) ---

export async function insertSession(
  database: DatabaseHandle,
  input: { id: string; tenantId: string; name: string },
): Promise<SessionRow> {
  const [row] = await database.db.insert(sessions).values(input).returning()
  return row!
}

/**
 * Inserts a session unless the tenant already has `maxSessions`. Creations of one tenant are
 * serialised on its row, so concurrent requests cannot overshoot the limit. Returns the new row, or
 * the count that is already at the limit.
 */
export async function insertSessionWithinLimit(
  database: DatabaseHandle,
  input: { id: string; tenantId: string; name: string; externalId?: string | null },
  maxSessions: number,
): Promise<
  | { row: SessionRow; externalIdTaken?: undefined }
  | { row?: undefined; sessions: number; externalIdTaken?: undefined }
  | { row?: undefined; sessions?: undefined; externalIdTaken: true }
> {
  return database.db.transaction(async (tx) => {
    await tx.execute(sql`SELECT id FROM tenants WHERE id = ${input.tenantId} FOR UPDATE`)
    // The tenant row lock serializes its session inserts, so this check and the insert cannot race
    // (the unique index stays the guarantee).
    if (input.externalId) {
      const taken = resultRows(
        await tx.execute(
          sql`SELECT 1 FROM sessions WHERE tenant_id = ${input.tenantId} AND external_id = ${input.externalId}`,
        ),
      )
      if (taken.length > 0) return { externalIdTaken: true as const }
    }
    const [counted] = resultRows<{ count: number }>(
      await tx.execute(sql`SELECT count(*)::int AS count FROM sessions WHERE tenant_id = ${input.tenantId}`),
    )
    const existing = Number(counted?.count ?? 0)
    if (existing >= maxSessions) return { sessions: existing }
    const [row] = await tx.insert(sessions).values(input).returning()
    return { row: row! }
  })
}

/** How many sessions the tenant has (any state). */
export async function countTenantSessions(database: DatabaseHandle, tenantId: string): Promise<number> {
  const [row] = await database.rows<{ count: number }>(
    sql`SELECT count(*)::int AS count FROM sessions WHERE tenant_id = ${tenantId}`,
  )
  return Number(row?.count ?? 0)
}

/** The tenant's session, or undefined (another tenant's session reads as missing). */
export async function findTenantSession(
  database: DatabaseHandle,
  tenantId: string,
  sessionId: string,
): Promise<SessionRow | undefined> {
  const [row] = await database.db
    .select()
    .from(sessions)
    .where(and(eq(sessions.id, sessionId), eq(sessions.tenantId, tenantId)))
  return row
}

/** Any tenant's session (operators). */
export async function findSession(
  database: DatabaseHandle,
  sessionId: string,
): Promise<SessionRow | undefined> {
  const [row] = await database.db.select().from(sessions).where(eq(sessions.id, sessionId))
  return row
}

export async function listTenantSessions(database: DatabaseHandle, tenantId: string): Promise<SessionRow[]> {
  return database.db.select().from(sessions).where(eq(sessions.tenantId, tenantId)).orderBy(desc(sessions.id))
}

/**
 * One page of the tenant's sessions, newest first: at most `limit` after the cursor `after` (the last
 * id of the previous page). `nextCursor` is null on the last page.
 */
export async function pageTenantSessions(
  database: DatabaseHandle,
  tenantId: string,
  page: { after?: string; limit: number },
  filter: { externalId?: string } = {},
): Promise<{ rows: SessionRow[]; nextCursor: string | null }> {
  const rows = await database.db
    .select()
    .from(sessions)
    .where(
      and(
        eq(sessions.tenantId, tenantId),
        page.after === undefined ? undefined : lt(sessions.id, page.after),
        filter.externalId === undefined ? undefined : eq(sessions.externalId, filter.externalId),
      ),
    )
    .orderBy(desc(sessions.id))
    .limit(page.limit + 1)
  const shown = rows.slice(0, page.limit)
  return { rows: shown, nextCursor: rows.length > page.limit ? (shown.at(-1)?.id ?? null) : null }
}

/** Records what the tenant wants; the owning node (or the next one placed) reconciles towards it. */
export async function setDesiredState(
  database: DatabaseHandle,
  sessionId: string,
  desired: { desiredState: DesiredState; pairingPhone?: string | null },
): Promise<void> {
  await database.db
    .update(sessions)
    .set({ ...desired, updatedAt: new Date() })
    .where(eq(sessions.id, sessionId))
}

/**
 * Deletes a session and its history: its messages, chats and contacts cascade, and its
 * `messages.upsert` events (the received bodies) go in the same transaction. Its other events stay
 * in the tenant's outbox.
 */
export async function deleteTenantSession(
  database: DatabaseHandle,
  tenantId: string,
  sessionId: string,
): Promise<void> {
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`
      DELETE FROM events WHERE session_id = ${sessionId} AND tenant_id = ${tenantId} AND type = 'messages.upsert'`)
    await tx.delete(sessions).where(and(eq(sessions.id, sessionId), eq(sessions.tenantId, tenantId)))
  })
}

// --- placement ---

/** The columns placement and hand-over decide on. */
export type SessionPlacement = Pick<
  SessionRow,
  'id' | 'tenantId' | 'nodeId' | 'lastNodeId' | 'epoch' | 'state' | 'desiredState' | 'pairingPhone'
>

const placementColumns = {
  id: sessions.id,
  tenantId: sessions.tenantId,
  nodeId: sessions.nodeId,
  lastNodeId: sessions.lastNodeId,
  epoch: sessions.epoch,
  state: sessions.state,
  desiredState: sessions.desiredState,
  pairingPhone: sessions.pairingPhone,
}

export async function readPlacement(
  database: DatabaseHandle,
  sessionId: string,
): Promise<SessionPlacement | undefined> {
  const [row] = await database.db.select(placementColumns).from(sessions).where(eq(sessions.id, sessionId))
  return row
}

/**
 * Assigns the session to `nodeId` (null: to no node). With `onlyIfNodeId`, only while it is still
 * assigned there (an evacuation must not undo a placement made meanwhile).
 */
export async function assignSession(
  database: DatabaseHandle,
  sessionId: string,
  nodeId: string | null,
  onlyIfNodeId?: string,
): Promise<void> {
  await database.db
    .update(sessions)
    .set({ nodeId, updatedAt: new Date() })
    .where(
      onlyIfNodeId
        ? and(eq(sessions.id, sessionId), eq(sessions.nodeId, onlyIfNodeId))
        : eq(sessions.id, sessionId),
    )
}

/** Sessions assigned to `nodeId`, in id order. */
export async function sessionIdsOnNode(database: DatabaseHandle, nodeId: string): Promise<string[]> {
  const rows = await database.db
    .select({ id: sessions.id })
    .from(sessions)
    .where(eq(sessions.nodeId, nodeId))
    .orderBy(sessions.id)
  return rows.map((row) => row.id)
}

/**
 * One page of the sessions assigned to `nodeId` (any tenant, operators), newest first, each with its
 * tenant's name: at most `limit` after the cursor `after` (the last id of the previous page).
 */
export async function pageNodeSessions(
  database: DatabaseHandle,
  nodeId: string,
  page: { after?: string; limit: number },
): Promise<{ rows: (SessionRow & { tenantName: string })[]; nextCursor: string | null }> {
  const rows = await database.db
    .select({ session: sessions, tenantName: tenants.name })
    .from(sessions)
    .innerJoin(tenants, eq(tenants.id, sessions.tenantId))
    .where(
      and(eq(sessions.nodeId, nodeId), page.after === undefined ? undefined : lt(sessions.id, page.after)),
    )
    .orderBy(desc(sessions.id))
    .limit(page.limit + 1)
  const shown = rows.slice(0, page.limit).map((row) => ({ ...row.session, tenantName: row.tenantName }))
  return { rows: shown, nextCursor: rows.length > page.limit ? (shown.at(-1)?.id ?? null) : null }
}

/** What a node reconciles: sessions assigned to it, plus those it still runs (to stop them). */
export async function assignmentsFor(
  database: DatabaseHandle,
  nodeId: string,
  runningIds: string[],
): Promise<SessionPlacement[]> {
  return database.db
    .select(placementColumns)
    .from(sessions)
    .where(sql`${sessions.nodeId} = ${nodeId} OR ${sessions.id} = ANY(${textArray(runningIds)})`)
}

/** Wanted-connected sessions on the given nodes (rebalance input), in id order. */
export async function connectedSessionsOn(
  database: DatabaseHandle,
  nodeIds: string[],
): Promise<{ id: string; nodeId: string }[]> {
  const rows = await database.db
    .select({ id: sessions.id, nodeId: sessions.nodeId })
    .from(sessions)
    .where(and(sql`${sessions.nodeId} = ANY(${textArray(nodeIds)})`, eq(sessions.desiredState, 'connected')))
    .orderBy(sessions.id)
  return rows.map((row) => ({ id: row.id, nodeId: row.nodeId! }))
}

/**
 * A session whose node died still says CONNECTED (or CONNECTING) in its row: nobody holds its socket
 * any more. Before failover re-places it, fence the dead owner (bump the epoch) and record RECONNECTING
 * with `reason`, so the API and the webhook never show CONNECTED until the new owner has logged in.
 * Only while the session is still on a dead or stopped node (or none); returns whether it recorded.
 */
export async function recordOwnerLost(
  database: DatabaseHandle,
  sessionId: string,
  reason: string,
): Promise<boolean> {
  const [row] = await database.rows<{ epoch: number }>(sql`
    UPDATE sessions s SET epoch = s.epoch + 1, updated_at = now()
    WHERE s.id = ${sessionId} AND s.state IN ('CONNECTED', 'CONNECTING')
      AND (s.node_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM nodes n WHERE n.id = s.node_id AND n.status NOT IN ('dead', 'stopped')))
    RETURNING s.epoch`)
  if (!row) return false
  await recordSessionState(database, {
    sessionId,
    epoch: Number(row.epoch),
    change: { state: 'RECONNECTING', reason },
  })
  return true
}

/** Sessions that want a node and have none, or one that is dead or stopped (failover), at most `limit`. */
export async function orphanedSessionIds(database: DatabaseHandle, limit: number): Promise<string[]> {
  const rows = await database.rows<{ id: string }>(sql`
    SELECT s.id FROM sessions s LEFT JOIN nodes n ON n.id = s.node_id
    WHERE s.desired_state = 'connected' AND (s.node_id IS NULL OR n.id IS NULL OR n.status IN ('dead', 'stopped'))
    ORDER BY s.id LIMIT ${limit}`)
  return rows.map((row) => row.id)
}
