import { createHash } from 'node:crypto'
import { coordinationKeys, credentialsExist, nudgeNode } from '@wa-cluster/core'
import { type MessageContent, messages } from '@wa-cluster/db'
import {
  Conflict,
  type MessageContact,
  type MessageLocation,
  type MessageReaction,
  type MessageStatus,
  NotFound,
  newId,
  normalizeRecipient,
  RateLimited,
  Unprocessable,
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
  type: string
  text: string | null
  location?: MessageLocation
  contacts?: MessageContact[]
  reaction?: MessageReaction
  replyTo?: string
  mentions?: string[]
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
    type: row.type,
    text: row.text,
    ...row.content,
    error: row.error,
    statusHistory: row.statusHistory,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

export type SendMessageInput = {
  to: string
  type?: 'text' | 'location' | 'contact' | 'reaction' | 'list' | 'buttons'
  text?: string
  location?: MessageLocation
  contacts?: MessageContact[]
  reaction?: MessageReaction
  replyTo?: string
  mentions?: string[]
}

/** The field each sendable type carries. */
const FIELD_OF_TYPE = {
  text: 'text',
  location: 'location',
  contact: 'contacts',
  reaction: 'reaction',
} as const

/**
 * The type of a send and its content, or the field that is wrong. `list` and `buttons` are refused:
 * WhatsApp stopped delivering interactive messages sent from linked devices to personal accounts
 * (the recipient sees nothing, or "this message can't be displayed"), so accepting them would only
 * queue messages that never arrive.
 */
function contentOf(input: SendMessageInput): {
  type: keyof typeof FIELD_OF_TYPE
  content: MessageContent | null
} {
  const type = input.type ?? (input.text !== undefined ? 'text' : undefined)
  if (!type) throw new ValidationFailed('body.text', 'is required unless a type is given')
  if (type === 'list' || type === 'buttons') {
    throw new Unprocessable(
      'body.type',
      'message_type_unsupported',
      `${type} messages are not delivered by WhatsApp to personal accounts from linked devices; send a text (a numbered menu) instead`,
    )
  }
  const field = FIELD_OF_TYPE[type]
  if (input[field] === undefined)
    throw new ValidationFailed(`body.${field}`, `is required when type is ${type}`)
  for (const other of Object.values(FIELD_OF_TYPE)) {
    if (other !== field && input[other] !== undefined)
      throw new ValidationFailed(`body.${other}`, `is not allowed when type is ${type}`)
  }
  if (type === 'reaction') {
    if (input.replyTo !== undefined)
      throw new ValidationFailed('body.replyTo', 'is not allowed on a reaction')
    if (input.mentions !== undefined)
      throw new ValidationFailed('body.mentions', 'is not allowed on a reaction')
  }
  if (type !== 'text' && input.mentions !== undefined)
    throw new ValidationFailed('body.mentions', 'is only allowed on a text')
  const content: MessageContent = {}
  if (input.location) content.location = input.location
  if (input.contacts) content.contacts = input.contacts
  if (input.reaction) content.reaction = input.reaction
  if (input.replyTo) content.replyTo = input.replyTo
  if (input.mentions) content.mentions = input.mentions
  return { type, content: Object.keys(content).length > 0 ? content : null }
}

/** Checks that a message a send refers to (a quote, a reaction) is a message of the session, in the same chat. */
async function requireReferenced(
  ctx: ControlPlaneContext,
  sessionId: string,
  chatId: string,
  messageId: string,
  field: string,
): Promise<void> {
  const [row] = await ctx.database.db
    .select({ chatId: messages.chatId })
    .from(messages)
    .where(and(eq(messages.id, messageId), eq(messages.sessionId, sessionId)))
  if (!row) throw new ValidationFailed(field, 'is not a message of this session')
  if (row.chatId !== chatId) throw new ValidationFailed(field, 'is a message of another chat')
}

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
  const { type, content } = contentOf(input)
  // A plain text hashes as it always did, so a retry across an upgrade still matches.
  const requestHash = createHash('sha256')
    .update(
      JSON.stringify(
        type === 'text' && !content
          ? { to: recipient.jid, text: input.text }
          : { to: recipient.jid, type, text: input.text ?? null, content },
      ),
    )
    .digest('hex')

  if (idempotencyKey) {
    const existing = await findByIdempotencyKey(ctx, sessionId, idempotencyKey)
    if (existing) return { message: sameRequestOrConflict(existing, requestHash), created: false }
  }
  if (content?.replyTo)
    await requireReferenced(ctx, sessionId, recipient.jid, content.replyTo, 'body.replyTo')
  if (content?.reaction)
    await requireReferenced(
      ctx,
      sessionId,
      recipient.jid,
      content.reaction.messageId,
      'body.reaction.messageId',
    )
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
      type,
      text: input.text ?? null,
      content,
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
