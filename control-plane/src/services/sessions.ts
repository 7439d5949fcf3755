import {
  credentialsExist,
  deleteTenantSession,
  findSession,
  findTenantSession,
  insertSessionWithinLimit,
  nudgeNode,
  pageTenantSessions,
  placeSession,
  type SessionRow,
  setDesiredState,
  settleWithoutOwner as settleSessionWithoutOwner,
} from '@wa-cluster/core'
import { messages } from '@wa-cluster/db'
import {
  ACTIVE_STATES,
  Conflict,
  type DesiredState,
  LimitReached,
  NotFound,
  newId,
  normalizeRecipient,
  RESTING_STATES,
  type SessionState,
  Unavailable,
  ValidationFailed,
} from '@wa-cluster/shared'
import { and, eq } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { readTenantLimits } from './tenant-limits.js'
import { createWebhookEndpoint, type WebhookEndpointView } from './webhook-endpoints.js'
import { assertWebhookUrlAllowed } from './webhooks.js'

export type { SessionRow }

/** Every tenant service call is scoped by the authenticated tenant, never by the request body. */
export type TenantScope = { ctx: ControlPlaneContext; tenantId: string }
export type SessionScope = TenantScope & { sessionId: string }

/** The public shape of a session (API responses). */
export type SessionView = {
  id: string
  name: string
  /** The tenant's own key for the session; null when none was given. */
  externalId: string | null
  state: SessionState
  desiredState: DesiredState
  phone: string | null
  nodeId: string | null
  reason: string | null
  qrExpiresAt: string | null
  connectedAt: string | null
  createdAt: string
  updatedAt: string
}

export type ConnectResult = {
  state: SessionState
  qr?: string
  qrImage?: string
  expiresAt?: string
  pairingCode?: string
}

/** The QR of a session waiting for a scan. */
export type QrView = Required<Pick<ConnectResult, 'state' | 'qr'>> &
  Pick<ConnectResult, 'qrImage' | 'expiresAt'>

/** How long `connect` waits for the first QR (or pairing code, or CONNECTED). */
const CONNECT_WAIT_MS = 10_000
/** How long disconnect/logout wait for the owning node to act before answering. */
const COMMAND_WAIT_MS = 10_000

export function toSessionView(row: SessionRow): SessionView {
  return {
    id: row.id,
    name: row.name,
    externalId: row.externalId,
    state: row.state as SessionState,
    desiredState: row.desiredState as DesiredState,
    phone: row.phone,
    nodeId: row.nodeId,
    reason: row.reason,
    qrExpiresAt: row.qrExpiresAt?.toISOString() ?? null,
    connectedAt: row.connectedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

/** The tenant's session or NotFound (another tenant's session is indistinguishable from a missing one). */
export async function requireSession(
  ctx: ControlPlaneContext,
  tenantId: string,
  sessionId: string,
): Promise<SessionRow> {
  const row = await findTenantSession(ctx.database, tenantId, sessionId)
  if (!row) throw new NotFound('session')
  return row
}

/** A message of the tenant's session by our id (another session's or tenant's is not found). */
export async function findSessionMessage(
  ctx: ControlPlaneContext,
  tenantId: string,
  sessionId: string,
  messageId: string,
): Promise<typeof messages.$inferSelect | undefined> {
  const [row] = await ctx.database.db
    .select()
    .from(messages)
    .where(
      and(eq(messages.id, messageId), eq(messages.sessionId, sessionId), eq(messages.tenantId, tenantId)),
    )
  return row
}

/**
 * Refuses a send (a message, a broadcast, an edit or a delete) on a session that is not wanted
 * connected, or was never linked (its QR not scanned yet: the message would wait for a login that may
 * never come). Conflict `session_not_connected` / `session_not_linked`.
 */
export async function requireSendable(ctx: ControlPlaneContext, session: SessionRow): Promise<void> {
  if (session.desiredState !== 'connected') {
    throw new Conflict(`session is ${session.state}; connect it before sending`, 'session_not_connected')
  }
  if (!(await credentialsExist(ctx.database, session.id))) {
    throw new Conflict(
      `session is ${session.state} and not linked yet; scan its QR (or enter its pairing code) before sending`,
      'session_not_linked',
    )
  }
}

/**
 * Creates a session, DISCONNECTED, unless the tenant already has as many as its `limits.sessions`
 * allows (LimitReached `session_limit_reached`: waiting does not help, deleting a session or a higher
 * limit does).
 */
export async function createSession({
  ctx,
  tenantId,
  input,
}: TenantScope & { input: { name?: string; webhookUrl?: string; externalId?: string } }): Promise<
  SessionView & { webhookEndpoint?: WebhookEndpointView }
> {
  // Checked before anything is written, so a refused URL creates no session.
  if (input.webhookUrl !== undefined) await assertWebhookUrlAllowed(ctx, input.webhookUrl, 'body.webhookUrl')
  const id = newId('ses')
  const { sessions: maxSessions } = await readTenantLimits(ctx, tenantId)
  const created = await insertSessionWithinLimit(
    ctx.database,
    { id, tenantId, name: input.name ?? id, externalId: input.externalId ?? null },
    maxSessions,
  )
  if (created.externalIdTaken) {
    throw new Conflict(
      'body.externalId is already the externalId of another session of this tenant',
      'external_id_taken',
    )
  }
  if (!created.row) {
    throw new LimitReached(
      'session_limit_reached',
      'sessions',
      maxSessions,
      `this tenant has ${created.sessions} sessions and its limit is ${maxSessions} (limits.sessions): delete a session or ask the operator to raise the limit`,
    )
  }
  if (input.webhookUrl === undefined) return toSessionView(created.row)
  // Its own endpoint, filtered to it and deleted with it (owner_session_id cascades).
  const webhookEndpoint = await createWebhookEndpoint({
    ctx,
    tenantId,
    input: { url: input.webhookUrl, sessionIds: [id] },
    ownerSessionId: id,
    field: 'body.webhookUrl',
  })
  return { ...toSessionView(created.row), webhookEndpoint }
}

/** One page of the tenant's sessions, newest first. */
export async function listSessions({
  ctx,
  tenantId,
  page,
  filter = {},
}: TenantScope & { page: { after?: string; limit: number }; filter?: { externalId?: string } }): Promise<{
  data: SessionView[]
  nextCursor: string | null
}> {
  const { rows, nextCursor } = await pageTenantSessions(ctx.database, tenantId, page, filter)
  return { data: rows.map(toSessionView), nextCursor }
}

export async function getSession({ ctx, tenantId, sessionId }: SessionScope): Promise<SessionView> {
  return toSessionView(await requireSession(ctx, tenantId, sessionId))
}

/** What a session shows a person who is linking it: its QR, its pairing code, or only its state. */
export function connectResultOf(row: SessionRow): ConnectResult {
  const state = row.state as SessionState
  if (state === 'QR_READY' && row.qr) return qrViewOf(row, row.qr)
  if (row.pairingCode)
    return { state, pairingCode: row.pairingCode, expiresAt: row.qrExpiresAt?.toISOString() }
  return { state }
}

function qrViewOf(row: SessionRow, qr: string): QrView {
  const view: QrView = { state: 'QR_READY', qr }
  // The owner renders the image once, when it writes the QR (only a row an older node wrote has none).
  if (row.qrImage) view.qrImage = row.qrImage
  view.expiresAt = row.qrExpiresAt?.toISOString()
  return view
}

/**
 * The digits of the number a pairing code is asked for (read with the tenant's country);
 * ValidationFailed naming `field` otherwise.
 */
export function pairingPhoneOf(value: string, field: string, defaultCountry: string): string {
  const normalized = normalizeRecipient(value, defaultCountry)
  if (!normalized.ok || !normalized.phone) {
    throw new ValidationFailed(field, normalized.ok ? 'must be a phone number' : normalized.reason)
  }
  return normalized.phone.slice(1)
}

/**
 * Asks for the session to be connected: stores the desire, places it on a node, and waits up to 10 s
 * for the first QR (or pairing code, or CONNECTED when credentials exist).
 */
export async function connectSession({
  ctx,
  tenantId,
  sessionId,
  input,
  defaultCountry = ctx.config.DEFAULT_COUNTRY_CODE,
}: SessionScope & {
  input: { pairingPhone?: string }
  /** The tenant's country for a pairing phone without a country code (default DEFAULT_COUNTRY_CODE). */
  defaultCountry?: string
}): Promise<ConnectResult> {
  const row = await requireSession(ctx, tenantId, sessionId)
  if (row.state === 'CONNECTED') return { state: 'CONNECTED' }
  const pairingPhone =
    input.pairingPhone === undefined
      ? null
      : pairingPhoneOf(input.pairingPhone, 'body.pairingPhone', defaultCountry)
  const alreadyWanted = row.desiredState === 'connected' && ACTIVE_STATES.has(row.state as SessionState)
  if (!alreadyWanted || pairingPhone !== row.pairingPhone) {
    await setDesiredState(ctx.database, sessionId, { desiredState: 'connected', pairingPhone })
  }
  const nodeId = await placeSession({ database: ctx.database, coordinator: ctx.coordinator, sessionId })
  if (!nodeId && !row.nodeId) throw new Unavailable('no session-node has capacity for this session right now')
  const final = await ctx.sessionWatcher.waitFor(
    sessionId,
    () => findTenantSession(ctx.database, tenantId, sessionId),
    (current) =>
      !current ||
      current.state === 'CONNECTED' ||
      (pairingPhone === null && current.state === 'QR_READY' && !!current.qr) ||
      (pairingPhone !== null && !!current.pairingCode) ||
      // The node gave up (e.g. logged out at once): it rests the session and clears the desire.
      (RESTING_STATES.has(current.state as SessionState) && current.desiredState === 'disconnected'),
    CONNECT_WAIT_MS,
  )
  if (!final) throw new NotFound('session')
  return connectResultOf(final)
}

/** The current QR; Conflict when the session is not waiting for a scan. */
export async function getSessionQr({ ctx, tenantId, sessionId }: SessionScope): Promise<QrView> {
  const row = await requireSession(ctx, tenantId, sessionId)
  if (row.state !== 'QR_READY' || !row.qr) {
    throw new Conflict(`session is ${row.state}, not waiting for a QR scan`, 'not_waiting_for_scan')
  }
  return qrViewOf(row, row.qr)
}

const PNG_DATA_URL_PREFIX = 'data:image/png;base64,'

/** The PNG bytes of the stored QR image (for `Accept: image/png`); nothing is rendered here. */
export function qrPngOf(qr: QrView): Buffer {
  if (!qr.qrImage?.startsWith(PNG_DATA_URL_PREFIX)) {
    throw new Conflict('no QR image is stored for this QR yet; ask for JSON', 'not_waiting_for_scan')
  }
  return Buffer.from(qr.qrImage.slice(PNG_DATA_URL_PREFIX.length), 'base64')
}

/** Settles a session that no node holds (disconnect or logout) and wakes local waiters. */
async function settleWithoutOwner(
  ctx: ControlPlaneContext,
  row: SessionRow,
  state: SessionState,
  wipe: boolean,
): Promise<void> {
  await settleSessionWithoutOwner(ctx.database, {
    sessionId: row.id,
    state,
    reason: wipe ? 'logged out by API' : 'disconnected by API',
    wipeCredentials: wipe,
  })
  ctx.sessionWatcher.notifyLocal(row.id)
}

async function commandOwner(
  ctx: ControlPlaneContext,
  row: SessionRow,
  desired: DesiredState,
  done: (row: SessionRow) => boolean,
): Promise<SessionRow> {
  await setDesiredState(ctx.database, row.id, { desiredState: desired })
  if (row.nodeId) await nudgeNode(ctx.coordinator, row.nodeId, { kind: 'reconcile', sessionId: row.id })
  const final = await ctx.sessionWatcher.waitFor(
    row.id,
    () => findTenantSession(ctx.database, row.tenantId, row.id),
    (current) => !current || done(current),
    COMMAND_WAIT_MS,
  )
  return final ?? row
}

function isOwned(row: SessionRow): boolean {
  return !!row.nodeId && ACTIVE_STATES.has(row.state as SessionState)
}

/** Closes the socket and keeps the credentials; the next connect logs in without a QR. */
export async function disconnectSession({ ctx, tenantId, sessionId }: SessionScope): Promise<SessionView> {
  const row = await requireSession(ctx, tenantId, sessionId)
  if (isOwned(row)) {
    await commandOwner(
      ctx,
      row,
      'disconnected',
      (current) => !ACTIVE_STATES.has(current.state as SessionState),
    )
  } else if (row.desiredState !== 'disconnected' || row.nodeId) {
    await settleWithoutOwner(ctx, row, row.state === 'LOGGED_OUT' ? 'LOGGED_OUT' : 'DISCONNECTED', false)
  }
  return toSessionView(await requireSession(ctx, tenantId, sessionId))
}

/** Unlinks the device on the phone (when a node holds the socket) and wipes the credentials. */
export async function logoutSession({ ctx, tenantId, sessionId }: SessionScope): Promise<SessionView> {
  const row = await requireSession(ctx, tenantId, sessionId)
  if (isOwned(row)) {
    const after = await commandOwner(ctx, row, 'logged_out', (current) => current.state === 'LOGGED_OUT')
    if (after.state !== 'LOGGED_OUT') await settleWithoutOwner(ctx, after, 'LOGGED_OUT', true)
  } else {
    await settleWithoutOwner(ctx, row, 'LOGGED_OUT', true)
  }
  return toSessionView(await requireSession(ctx, tenantId, sessionId))
}

/** Logs out and deletes the session with its credentials and messages (its events stay readable). */
export async function deleteSession({ ctx, tenantId, sessionId }: SessionScope): Promise<void> {
  await logoutSession({ ctx, tenantId, sessionId })
  await deleteTenantSession(ctx.database, tenantId, sessionId)
}

/** Operator: hands the session over to `nodeId` (graceful: the old owner closes before the new one connects). */
export async function moveSession({
  ctx,
  sessionId,
  nodeId,
}: {
  ctx: ControlPlaneContext
  sessionId: string
  nodeId: string
}): Promise<SessionView> {
  const row = await findSession(ctx.database, sessionId)
  if (!row) throw new NotFound('session')
  if (row.desiredState !== 'connected')
    throw new Conflict('only a session that should be connected can be moved', 'session_not_connected')
  const placed = await placeSession({
    database: ctx.database,
    coordinator: ctx.coordinator,
    sessionId,
    targetNodeId: nodeId,
  })
  if (placed !== nodeId)
    throw new Conflict(`node ${nodeId} is not live, is draining or is full`, 'node_unavailable')
  return toSessionView((await findSession(ctx.database, sessionId))!)
}
