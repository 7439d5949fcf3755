import type { EventType } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { redeliverDeadEvents, redeliverEvent } from './events.js'
import { getTenant } from './tenants.js'
import { redeliverWebhookDeliveries } from './webhook-endpoints.js'

// Dead letters across tenants, for the operator. A dead letter is an event whose delivery gave up: on
// the default webhook (`events.delivery = 'dead'`) or on a /v1/webhooks endpoint
// (`webhook_deliveries.status = 'dead'`). Redelivery goes through the tenant services that already do
// it, so there is one way to queue a delivery again.

/** The endpoint name of the default webhook (`/v1/webhook`) in a dead letter. */
export const DEFAULT_ENDPOINT = 'default'

export type DeadLetterView = {
  tenantId: string
  tenantName: string
  sessionId: string
  eventId: string
  type: EventType
  /** `default`, or the id of a /v1/webhooks endpoint */
  endpoint: string
  attempts: number
  lastError: string | null
  occurredAt: string
}

type DeadLetterRow = {
  tenant_id: string
  tenant_name: string
  session_id: string
  event_id: string
  type: EventType
  endpoint: string
  attempts: number | string
  last_error: string | null
  occurred_at: string
}

/** `evt_…:default` or `evt_…:whe_…`: the last dead letter of the previous page. */
const cursorOf = (item: { eventId: string; endpoint: string }) => `${item.eventId}:${item.endpoint}`

/**
 * A page of dead letters, newest event first (one per event and endpoint), of every tenant or of
 * `tenantId`, after the cursor. Each source is limited before the two are merged; both are read through
 * partial indexes of their dead rows (`events_dead_idx`, `webhook_deliveries_dead_idx`).
 */
export async function listDeadLetters({
  ctx,
  page,
}: {
  ctx: ControlPlaneContext
  page: { after?: string; limit: number; tenantId?: string }
}): Promise<{ data: DeadLetterView[]; nextCursor: string | null }> {
  const [afterEvent, afterEndpoint] = page.after?.split(':') ?? []
  const take = page.limit + 1
  const eventFilters = [sql`e.delivery = 'dead'`]
  const endpointFilters = [sql`w.status = 'dead'`]
  if (page.tenantId !== undefined) {
    eventFilters.push(sql`e.tenant_id = ${page.tenantId}`)
    endpointFilters.push(sql`w.tenant_id = ${page.tenantId}`)
  }
  if (afterEvent !== undefined && afterEndpoint !== undefined) {
    eventFilters.push(sql`(e.id, ${DEFAULT_ENDPOINT}::text) < (${afterEvent}, ${afterEndpoint})`)
    endpointFilters.push(sql`(w.event_id, w.endpoint_id) < (${afterEvent}, ${afterEndpoint})`)
  }
  const rows = await ctx.database.rows<DeadLetterRow>(sql`
    SELECT d.tenant_id, t.name AS tenant_name, d.session_id, d.event_id, d.type, d.endpoint, d.attempts,
      d.last_error, to_json(d.occurred_at) #>> '{}' AS occurred_at
    FROM (
      (SELECT e.tenant_id, e.session_id, e.id AS event_id, e.type, ${DEFAULT_ENDPOINT}::text AS endpoint,
         e.attempts, e.last_error, e.occurred_at
       FROM events e WHERE ${sql.join(eventFilters, sql` AND `)}
       ORDER BY e.id DESC LIMIT ${take})
      UNION ALL
      (SELECT w.tenant_id, w.session_id, w.event_id, e.type, w.endpoint_id AS endpoint,
         w.attempts, w.last_error, e.occurred_at
       FROM webhook_deliveries w JOIN events e ON e.id = w.event_id
       WHERE ${sql.join(endpointFilters, sql` AND `)}
       ORDER BY w.event_id DESC, w.endpoint_id DESC LIMIT ${take})
    ) d JOIN tenants t ON t.id = d.tenant_id
    ORDER BY d.event_id DESC, d.endpoint DESC LIMIT ${take}`)
  const data = rows.slice(0, page.limit).map((row) => ({
    tenantId: row.tenant_id,
    tenantName: row.tenant_name,
    sessionId: row.session_id,
    eventId: row.event_id,
    type: row.type,
    endpoint: row.endpoint,
    attempts: Number(row.attempts),
    lastError: row.last_error,
    occurredAt: new Date(row.occurred_at).toISOString(),
  }))
  const last = data.at(-1)
  return { data, nextCursor: rows.length > page.limit && last ? cursorOf(last) : null }
}

/**
 * Queues a tenant's dead letters again with a fresh attempt budget: those of the listed events (on
 * every endpoint they are dead on), or all of them. Only dead deliveries are touched: a delivered or
 * pending one of the same event stays as it is. Ids that are no dead letter of the tenant count 0.
 */
export async function redeliverDeadLetters({
  ctx,
  tenantId,
  eventIds,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  eventIds?: string[]
}): Promise<{ redelivered: number }> {
  await getTenant({ ctx, tenantId })
  let redelivered = 0
  if (eventIds) {
    const ids = [...new Set(eventIds)]
    const deadDefault = await ctx.database.rows<{ id: string }>(sql`
      SELECT id FROM events WHERE tenant_id = ${tenantId} AND delivery = 'dead' AND id IN ${ids}`)
    for (const { id } of deadDefault)
      redelivered += (await redeliverEvent({ ctx, tenantId, eventId: id })).redelivered
    const deadOnEndpoints = await ctx.database.rows<{ event_id: string; endpoint_id: string }>(sql`
      SELECT event_id, endpoint_id FROM webhook_deliveries
      WHERE tenant_id = ${tenantId} AND status = 'dead' AND event_id IN ${ids}`)
    for (const row of deadOnEndpoints) {
      const selection = { eventId: row.event_id }
      redelivered += (
        await redeliverWebhookDeliveries({ ctx, tenantId, webhookId: row.endpoint_id, selection })
      ).redelivered
    }
    return { redelivered }
  }
  redelivered += (await redeliverDeadEvents({ ctx, tenantId })).redelivered
  const endpoints = await ctx.database.rows<{ endpoint_id: string }>(sql`
    SELECT DISTINCT endpoint_id FROM webhook_deliveries WHERE tenant_id = ${tenantId} AND status = 'dead'`)
  for (const { endpoint_id: webhookId } of endpoints) {
    const selection = { status: 'dead' as const }
    redelivered += (await redeliverWebhookDeliveries({ ctx, tenantId, webhookId, selection })).redelivered
  }
  return { redelivered }
}
