import {
  createOutboundAgent,
  endpointRequestHeaders,
  endpointSealingContext,
  generateWebhookSecret,
  type OutboundPolicy,
  postWebhook,
  RESERVED_WEBHOOK_HEADERS,
} from '@wa-cluster/core'
import { webhookEndpoints } from '@wa-cluster/db'
import { type EventType, NotFound, newId, ValidationFailed } from '@wa-cluster/shared'
import { and, asc, eq, gt, sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { assertWebhookUrlAllowed, DEFAULT_SECRET_GRACE_SECONDS, maskUrlPassword } from './webhooks.js'

// The endpoints of /v1/webhooks: several per tenant, each with its own URL, filters, headers, secret
// and deliveries (webhook_deliveries). The default endpoint of /v1/webhook is services/webhooks.ts.

export type WebhookEndpointView = {
  id: string
  url: string
  events: EventType[] | null
  sessionIds: string[] | null
  headers: Record<string, string>
  enabled: boolean
  hubSignature: boolean
  secret: string
  previousSecretExpiresAt: string | null
  sessionId: string | null
  createdAt: string
  updatedAt: string
}

export type WebhookEndpointInput = {
  url?: string
  events?: EventType[] | null
  sessionIds?: string[] | null
  headers?: Record<string, string>
  enabled?: boolean
  hubSignature?: boolean
}

type EndpointRow = typeof webhookEndpoints.$inferSelect
type TenantScope = { ctx: ControlPlaneContext; tenantId: string }
type EndpointScope = TenantScope & { webhookId: string }

const TEST_TIMEOUT_MS = 10_000

function toView(ctx: ControlPlaneContext, row: EndpointRow): WebhookEndpointView {
  const sealing = endpointSealingContext(row.tenantId, row.id)
  const graceOpen = row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt.getTime() > Date.now()
  return {
    id: row.id,
    url: maskUrlPassword(row.url),
    events: row.events ?? null,
    sessionIds: row.sessionIds ?? null,
    headers: row.headers,
    enabled: row.enabled,
    hubSignature: row.hubSignature,
    secret: ctx.secretBox.open(row.secretSealed, sealing).toString('utf8'),
    previousSecretExpiresAt: graceOpen ? row.previousSecretExpiresAt!.toISOString() : null,
    sessionId: row.ownerSessionId,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

function assertHeadersAllowed(
  headers: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (headers === undefined) return undefined
  const normalised: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (RESERVED_WEBHOOK_HEADERS.has(lower) || lower.startsWith('webhook-'))
      throw new ValidationFailed(`body.headers.${name}`, 'is set by the gateway and cannot be replaced')
    if (lower in normalised) throw new ValidationFailed(`body.headers.${name}`, 'is given twice')
    normalised[lower] = value
  }
  return normalised
}

/** Every listed session must be the tenant's own: another tenant's id reads as unknown. */
async function assertOwnSessions(
  ctx: ControlPlaneContext,
  tenantId: string,
  sessionIds: string[] | null | undefined,
) {
  if (!sessionIds) return
  const unique = [...new Set(sessionIds)]
  const found = await ctx.database.rows<{ id: string }>(
    sql`SELECT id FROM sessions WHERE tenant_id = ${tenantId} AND id IN ${unique}`,
  )
  const known = new Set(found.map((row) => row.id))
  const index = sessionIds.findIndex((id) => !known.has(id))
  if (index >= 0) throw new ValidationFailed(`body.sessionIds.${index}`, 'is not a session of this tenant')
}

async function readEndpoint({ ctx, tenantId, webhookId }: EndpointScope): Promise<EndpointRow> {
  const [row] = await ctx.database.db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, webhookId), eq(webhookEndpoints.tenantId, tenantId)))
  if (!row) throw new NotFound('webhook endpoint')
  return row
}

/** Creates an endpoint with a new secret. `ownerSessionId` ties it to a session created with `webhookUrl`. */
export async function createWebhookEndpoint({
  ctx,
  tenantId,
  input,
  ownerSessionId,
  field = 'body',
}: TenantScope & {
  input: WebhookEndpointInput & { url: string }
  ownerSessionId?: string
  /** Where the input came from, for error fields (`body`, or `body.webhookUrl` via a session). */
  field?: string
}): Promise<WebhookEndpointView> {
  await assertWebhookUrlAllowed(ctx, input.url, field === 'body' ? 'body.url' : field)
  const headers = assertHeadersAllowed(input.headers) ?? {}
  if (!ownerSessionId) await assertOwnSessions(ctx, tenantId, input.sessionIds)
  const id = newId('whe')
  const secretSealed = ctx.secretBox.seal(
    Buffer.from(generateWebhookSecret()),
    endpointSealingContext(tenantId, id),
  )
  const [row] = await ctx.database.db
    .insert(webhookEndpoints)
    .values({
      id,
      tenantId,
      url: input.url,
      events: input.events ? [...new Set(input.events)] : null,
      sessionIds: input.sessionIds ? [...new Set(input.sessionIds)] : null,
      headers,
      enabled: input.enabled ?? true,
      hubSignature: input.hubSignature ?? false,
      secretSealed,
      ownerSessionId: ownerSessionId ?? null,
    })
    .returning()
  return toView(ctx, row!)
}

export async function listWebhookEndpoints({
  ctx,
  tenantId,
  page,
}: TenantScope & { page: { after?: string; limit: number } }): Promise<{
  data: WebhookEndpointView[]
  nextCursor: string | null
}> {
  const rows = await ctx.database.db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.tenantId, tenantId),
        page.after !== undefined ? gt(webhookEndpoints.id, page.after) : undefined,
      ),
    )
    .orderBy(asc(webhookEndpoints.id))
    .limit(page.limit + 1)
  const data = rows.slice(0, page.limit).map((row) => toView(ctx, row))
  return { data, nextCursor: rows.length > page.limit ? (data.at(-1)?.id ?? null) : null }
}

export async function getWebhookEndpoint(scope: EndpointScope): Promise<WebhookEndpointView> {
  return toView(scope.ctx, await readEndpoint(scope))
}

/** Changes the fields given; the secret is kept (see rotateWebhookEndpointSecret). */
export async function updateWebhookEndpoint({
  input,
  ...scope
}: EndpointScope & { input: WebhookEndpointInput }): Promise<WebhookEndpointView> {
  const { ctx, tenantId, webhookId } = scope
  await readEndpoint(scope)
  if (input.url !== undefined) await assertWebhookUrlAllowed(ctx, input.url, 'body.url')
  const headers = assertHeadersAllowed(input.headers)
  await assertOwnSessions(ctx, tenantId, input.sessionIds)
  const [row] = await ctx.database.db
    .update(webhookEndpoints)
    .set({
      ...(input.url !== undefined ? { url: input.url } : {}),
      ...(input.events !== undefined ? { events: input.events ? [...new Set(input.events)] : null } : {}),
      ...(input.sessionIds !== undefined
        ? { sessionIds: input.sessionIds ? [...new Set(input.sessionIds)] : null }
        : {}),
      ...(headers !== undefined ? { headers } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
      ...(input.hubSignature !== undefined ? { hubSignature: input.hubSignature } : {}),
      updatedAt: new Date(),
    })
    .where(and(eq(webhookEndpoints.id, webhookId), eq(webhookEndpoints.tenantId, tenantId)))
    .returning()
  if (!row) throw new NotFound('webhook endpoint')
  return toView(ctx, row)
}

/** Removes the endpoint and its delivery rows; the events stay in the outbox. */
export async function deleteWebhookEndpoint({ ctx, tenantId, webhookId }: EndpointScope): Promise<void> {
  const deleted = await ctx.database.db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, webhookId), eq(webhookEndpoints.tenantId, tenantId)))
    .returning({ id: webhookEndpoints.id })
  if (deleted.length === 0) throw new NotFound('webhook endpoint')
}

/**
 * A new secret; the current one becomes the previous secret and keeps signing (a second signature in
 * `webhook-signature`) for `gracePeriodSeconds`, so receivers can switch without losing a delivery.
 */
export async function rotateWebhookEndpointSecret({
  gracePeriodSeconds = DEFAULT_SECRET_GRACE_SECONDS,
  ...scope
}: EndpointScope & { gracePeriodSeconds?: number }): Promise<WebhookEndpointView> {
  const { ctx, tenantId, webhookId } = scope
  const current = await readEndpoint(scope)
  const secretSealed = ctx.secretBox.seal(
    Buffer.from(generateWebhookSecret()),
    endpointSealingContext(tenantId, webhookId),
  )
  const [row] = await ctx.database.db
    .update(webhookEndpoints)
    .set({
      secretSealed,
      previousSecretSealed: gracePeriodSeconds > 0 ? current.secretSealed : null,
      previousSecretExpiresAt:
        gracePeriodSeconds > 0 ? new Date(Date.now() + gracePeriodSeconds * 1000) : null,
      updatedAt: new Date(),
    })
    .where(and(eq(webhookEndpoints.id, webhookId), eq(webhookEndpoints.tenantId, tenantId)))
    .returning()
  if (!row) throw new NotFound('webhook endpoint')
  return toView(ctx, row)
}

/** One agent per outbound policy: the test requests of a control-plane share keep-alive connections. */
type OutboundAgent = ReturnType<typeof createOutboundAgent>
const testAgents = new WeakMap<OutboundPolicy, OutboundAgent>()
function testAgent(policy: OutboundPolicy): OutboundAgent {
  let agent = testAgents.get(policy)
  if (!agent) {
    agent = createOutboundAgent(policy, { connectTimeoutMs: TEST_TIMEOUT_MS, keepAliveTimeoutMs: 1_000 })
    testAgents.set(policy, agent)
  }
  return agent
}

/**
 * Sends a signed `webhook.test` event to the endpoint now (enabled or not) and reports the answer:
 * the status and a fixed reason, never the body. Nothing is stored.
 */
export async function testWebhookEndpoint(
  scope: EndpointScope,
): Promise<{ delivered: boolean; status: number | null; reason: string | null }> {
  const { ctx, tenantId } = scope
  const row = await readEndpoint(scope)
  const sealing = endpointSealingContext(tenantId, row.id)
  const secret = ctx.secretBox.open(row.secretSealed, sealing).toString('utf8')
  const previousSecrets =
    row.previousSecretSealed &&
    row.previousSecretExpiresAt &&
    row.previousSecretExpiresAt.getTime() > Date.now()
      ? [ctx.secretBox.open(row.previousSecretSealed, sealing).toString('utf8')]
      : []
  const eventId = newId('evt')
  const body = JSON.stringify({
    id: eventId,
    type: 'webhook.test',
    tenantId,
    occurredAt: new Date().toISOString(),
    data: { webhookId: row.id },
  })
  const result = await postWebhook({
    agent: testAgent(ctx.outboundPolicy),
    url: row.url,
    body,
    headers: endpointRequestHeaders({
      secret,
      previousSecrets,
      hubSignature: row.hubSignature,
      customHeaders: row.headers,
      messageId: eventId,
      timestamp: new Date(),
      body,
    }),
    timeoutMs: TEST_TIMEOUT_MS,
  })
  return result.ok
    ? { delivered: true, status: result.status, reason: null }
    : { delivered: false, status: result.status, reason: result.reason }
}

export type WebhookDeliveryView = {
  eventId: string
  type: EventType
  sessionId: string
  seq: number
  status: 'pending' | 'delivered' | 'dead'
  attempts: number
  nextAttemptAt: string | null
  lastError: string | null
  lastStatus: number | null
  deliveredAt: string | null
}

type DeliveryRow = {
  event_id: string
  type: EventType
  session_id: string
  seq: number | string
  status: WebhookDeliveryView['status']
  attempts: number | string
  next_attempt_at: string | null
  last_error: string | null
  last_status: number | null
  delivered_at: string | null
}

const iso = (value: string | null) => (value ? new Date(value).toISOString() : null)

/** A page of one endpoint's deliveries, in event id order (time order), after the cursor. */
export async function listWebhookDeliveries({
  page,
  ...scope
}: EndpointScope & {
  page: { after?: string; limit: number; status?: WebhookDeliveryView['status'] }
}): Promise<{ data: WebhookDeliveryView[]; nextCursor: string | null }> {
  await readEndpoint(scope)
  const filters = [sql`d.endpoint_id = ${scope.webhookId}`, sql`d.tenant_id = ${scope.tenantId}`]
  if (page.after !== undefined) filters.push(sql`d.event_id > ${page.after}`)
  if (page.status !== undefined) filters.push(sql`d.status = ${page.status}`)
  const rows = await scope.ctx.database.rows<DeliveryRow>(sql`
      SELECT d.event_id, e.type, d.session_id, d.seq, d.status, d.attempts, d.last_error, d.last_status,
        CASE WHEN d.status = 'pending' THEN to_json(d.next_attempt_at) #>> '{}' END AS next_attempt_at,
        to_json(d.delivered_at) #>> '{}' AS delivered_at
      FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
      WHERE ${sql.join(filters, sql` AND `)}
      ORDER BY d.event_id LIMIT ${page.limit + 1}`)
  const data = rows.slice(0, page.limit).map((row) => ({
    eventId: row.event_id,
    type: row.type,
    sessionId: row.session_id,
    seq: Number(row.seq),
    status: row.status,
    attempts: Number(row.attempts),
    nextAttemptAt: iso(row.next_attempt_at),
    lastError: row.last_error,
    lastStatus: row.last_status === null ? null : Number(row.last_status),
    deliveredAt: iso(row.delivered_at),
  }))
  return { data, nextCursor: rows.length > page.limit ? (data.at(-1)?.eventId ?? null) : null }
}

/**
 * Queues deliveries of this endpoint again with a fresh attempt budget: one event's, or every dead
 * one. A pending delivery is left alone (it may be in flight). Returns how many were reset.
 */
export async function redeliverWebhookDeliveries({
  selection,
  ...scope
}: EndpointScope & { selection: { eventId: string } | { status: 'dead' } }): Promise<{
  redelivered: number
}> {
  await readEndpoint(scope)
  const which =
    'eventId' in selection
      ? sql`event_id = ${selection.eventId} AND status <> 'pending'`
      : sql`status = 'dead'`
  if ('eventId' in selection) {
    const [exists] = await scope.ctx.database.rows<{ one: number }>(sql`
      SELECT 1 AS one FROM webhook_deliveries
      WHERE endpoint_id = ${scope.webhookId} AND tenant_id = ${scope.tenantId} AND event_id = ${selection.eventId}`)
    if (!exists) throw new NotFound('delivery')
  }
  const rows = await scope.ctx.database.rows<{ event_id: string }>(sql`
    UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL,
      last_status = NULL, delivered_at = NULL
    WHERE endpoint_id = ${scope.webhookId} AND tenant_id = ${scope.tenantId} AND ${which}
    RETURNING event_id`)
  return { redelivered: rows.length }
}
