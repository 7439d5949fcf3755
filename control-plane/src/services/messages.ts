import { createHash } from 'node:crypto'
import { coordinationKeys, credentialsExist, nudgeNode } from '@wa-cluster/core'
import { messages } from '@wa-cluster/db'
import {
  Conflict,
  type MessageStatus,
  NotFound,
  newId,
  normalizeRecipient,
  RateLimited,
  ValidationFailed,
} from '@wa-cluster/shared'
import { and, eq } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { requireSession } from './sessions.js'

export type MessageView = {
  id: string
  sessionId: string
  direction: 'in' | 'out'
  to: string
  status: MessageStatus
  waMessageId: string | null
  text: string | null
  error: string | null
  statusHistory: { status: string; at: string }[]
  createdAt: string
  updatedAt: string
}

type MessageRow = typeof messages.$inferSelect

export function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    sessionId: row.sessionId,
    direction: row.direction as 'in' | 'out',
    to: row.chatId,
    status: row.status as MessageStatus,
    waMessageId: row.waMessageId,
    text: row.text,
    error: row.error,
    statusHistory: row.statusHistory,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

export type SendMessageInput = { to: string; text: string }

/**
 * Stores an outbound text (with its idempotency key) and nudges the owning node, which gives it its
 * WhatsApp id when it claims it. The same key returns the same message and never sends twice; reusing a key for a
 * different body is a conflict.
 */
export async function sendMessage({
  ctx,
  tenantId,
  sessionId,
  input,
  idempotencyKey,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  input: SendMessageInput
  idempotencyKey?: string
}): Promise<{ message: MessageView; created: boolean }> {
  const session = await requireSession(ctx, tenantId, sessionId)
  const recipient = normalizeRecipient(input.to, ctx.config.DEFAULT_COUNTRY_CODE)
  if (!recipient.ok) throw new ValidationFailed('body.to', recipient.reason)
  const requestHash = createHash('sha256')
    .update(JSON.stringify({ to: recipient.jid, text: input.text }))
    .digest('hex')

  if (idempotencyKey) {
    const existing = await findByIdempotencyKey(ctx, sessionId, idempotencyKey)
    if (existing) return { message: sameRequestOrConflict(existing, requestHash), created: false }
  }
  if (session.desiredState !== 'connected') {
    throw new Conflict(`session is ${session.state}; connect it before sending`, 'session_not_connected')
  }
  // Never linked (its QR not scanned yet): the message would wait for a login that may never come.
  if (!(await credentialsExist(ctx.database, sessionId))) {
    throw new Conflict(
      `session is ${session.state} and not linked yet; scan its QR (or enter its pairing code) before sending`,
      'session_not_linked',
    )
  }
  const limit = await ctx.coordinator.rateLimit(
    coordinationKeys.rateLimit(`send:${sessionId}`),
    ctx.config.SEND_RATE_LIMIT_PER_MINUTE,
    60_000,
  )
  if (!limit.allowed) {
    throw new RateLimited(Math.ceil(limit.retryAfterMs / 1000), 'send rate limit reached for this session', {
      limit: 'messagesPerMinutePerSession',
      value: ctx.config.SEND_RATE_LIMIT_PER_MINUTE,
      resetAt: new Date(Date.now() + limit.retryAfterMs).toISOString(),
    })
  }

  const now = new Date()
  const [inserted] = await ctx.database.db
    .insert(messages)
    .values({
      id: newId('msg'),
      tenantId,
      sessionId,
      direction: 'out',
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
      chatId: recipient.jid,
      // The owning node gives the row its WhatsApp id when it claims it, before the first attempt.
      waMessageId: null,
      type: 'text',
      text: input.text,
      status: 'queued',
      statusHistory: [{ status: 'queued', at: now.toISOString() }],
    })
    .onConflictDoNothing()
    .returning()
  if (!inserted) {
    // A concurrent request with the same key won the insert.
    const existing = await findByIdempotencyKey(ctx, sessionId, idempotencyKey!)
    return { message: sameRequestOrConflict(existing!, requestHash), created: false }
  }
  if (session.nodeId) await nudgeNode(ctx.coordinator, session.nodeId, { kind: 'send', sessionId })
  return { message: toMessageView(inserted), created: true }
}

async function findByIdempotencyKey(
  ctx: ControlPlaneContext,
  sessionId: string,
  key: string,
): Promise<MessageRow | undefined> {
  const [row] = await ctx.database.db
    .select()
    .from(messages)
    .where(and(eq(messages.sessionId, sessionId), eq(messages.idempotencyKey, key)))
  return row
}

function sameRequestOrConflict(row: MessageRow, requestHash: string): MessageView {
  if (row.requestHash !== requestHash) {
    throw new Conflict(
      'Idempotency-Key was already used with a different request body',
      'idempotency_key_reused',
    )
  }
  return toMessageView(row)
}

export async function getMessage({
  ctx,
  tenantId,
  sessionId,
  messageId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  messageId: string
}): Promise<MessageView> {
  await requireSession(ctx, tenantId, sessionId)
  const [row] = await ctx.database.db
    .select()
    .from(messages)
    .where(
      and(eq(messages.id, messageId), eq(messages.sessionId, sessionId), eq(messages.tenantId, tenantId)),
    )
  if (!row) throw new NotFound('message')
  return toMessageView(row)
}
