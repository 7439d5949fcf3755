import { type EventPage, getEvent, type ListedEvent, listEvents, redeliverEvents } from '@wa-cluster/core'
import type { EventType } from '@wa-cluster/shared'
import type { ControlPlaneContext } from '../context.js'

export type ListTenantEventsInput = { after?: string; limit: number; sessionId?: string; type?: EventType }

/** A page of the tenant's outbox events, oldest first after the cursor. */
export async function listTenantEvents({
  ctx,
  tenantId,
  input,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  input: ListTenantEventsInput
}): Promise<EventPage> {
  return listEvents(ctx.database.db, { tenantId, ...input })
}

export async function getTenantEvent({
  ctx,
  tenantId,
  eventId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  eventId: string
}): Promise<ListedEvent> {
  return getEvent(ctx.database.db, { tenantId, eventId })
}

/**
 * Queues one of the tenant's events for delivery again. NotFound for another tenant's (or no) event;
 * an event still pending is left alone and counts 0.
 */
export async function redeliverEvent({
  ctx,
  tenantId,
  eventId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  eventId: string
}): Promise<{ redelivered: number }> {
  await getEvent(ctx.database.db, { tenantId, eventId })
  return { redelivered: await redeliverEvents(ctx.database.db, { tenantId, eventIds: [eventId] }) }
}

/** Queues every dead-lettered event of the tenant for delivery again. */
export async function redeliverDeadEvents({
  ctx,
  tenantId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
}): Promise<{ redelivered: number }> {
  return { redelivered: await redeliverEvents(ctx.database.db, { tenantId, status: 'dead' }) }
}
