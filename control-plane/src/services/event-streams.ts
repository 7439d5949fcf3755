import { currentOutboxPosition, type OutboxPosition, outboxPositionOf } from '@wa-cluster/core'
import { ValidationFailed } from '@wa-cluster/shared'
import type { ControlPlaneContext } from '../context.js'
import type { StreamFilter } from '../streams/event-stream.js'

/** A stream about to open: whose, what it shows, where it starts, and until when a token allows it. */
export type PlannedStream = {
  tenantId: string
  filter: StreamFilter
  /** The stream sends what comes after this position. */
  start: OutboxPosition
  /** Set for a stream opened with a stream token: it ends then. */
  expiresAt?: Date
}

/**
 * Fixes where a stream starts before the client gets its answer: after the resume cursor (an event of
 * this tenant, else 400 naming where it came from), or now. Fixing it first means an event committed
 * once the response has begun cannot be missed.
 */
export async function planEventStream({
  ctx,
  tenantId,
  filter,
  resumeAfter,
  expiresAt,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  filter: StreamFilter
  resumeAfter?: { eventId: string; field: string }
  expiresAt?: Date
}): Promise<PlannedStream> {
  let start: OutboxPosition
  if (resumeAfter) {
    const position = await outboxPositionOf(ctx.database.db, { tenantId, eventId: resumeAfter.eventId })
    if (!position) throw new ValidationFailed(resumeAfter.field, 'is not an event of this tenant')
    start = position
  } else {
    start = await currentOutboxPosition(ctx.database.db)
  }
  return { tenantId, filter, start, ...(expiresAt ? { expiresAt } : {}) }
}
