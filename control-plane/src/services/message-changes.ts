import { createHash } from 'node:crypto'
import { nudgeNode } from '@wa-cluster/core'
import { type MessageContent, messages } from '@wa-cluster/db'
import { NotFound, newId, type TenantLimits, Unprocessable } from '@wa-cluster/shared'
import type { ControlPlaneContext } from '../context.js'
import {
  countSend,
  findByIdempotencyKey,
  type MessageView,
  sameRequestOrConflict,
  toMessageView,
} from './messages.js'
import { findSessionMessage, requireSendable, requireSession } from './sessions.js'

// Edits and deletes for everyone of messages the session sent. Each is an outbound row of its own
// (`type` `edit` or `revoke`, `content.target` naming the message), stored before it is sent and sent
// by the owner's send loop like any message, so it is idempotent, fenced and survives a failover; the
// target's stored row takes the change once it went out.

/** Outbound types whose text can be edited. */
const EDITABLE_TYPES = new Set(['text'])
/** Outbound types that are not messages of their own in the chat, so cannot be deleted. */
const NOT_REVOCABLE_TYPES = new Set(['edit', 'revoke', 'reaction'])

type ChangeInput = {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  messageId: string
  idempotencyKey?: string
  limits?: TenantLimits
}

/** Queues an edit of a text (or caption) the session sent; 202 with the `edit` row. */
export function editMessage(input: ChangeInput & { text: string }) {
  return queueChange(input, 'edit', input.text, (target) => {
    if (!EDITABLE_TYPES.has(target.type) || target.text === null)
      throw new Unprocessable(
        'messageId',
        'message_not_editable',
        `a ${target.type} message cannot be edited; only texts can`,
      )
  })
}

/** Queues a delete for everyone of a message the session sent; 202 with the `revoke` row. */
export function revokeMessage(input: ChangeInput) {
  return queueChange(input, 'revoke', null, (target) => {
    if (NOT_REVOCABLE_TYPES.has(target.type))
      throw new Unprocessable(
        'messageId',
        'message_not_revocable',
        `a ${target.type} is not a message of its own in the chat${target.type === 'reaction' ? '; send the reaction again with an empty emoji to remove it' : ''}`,
      )
  })
}

async function queueChange(
  { ctx, tenantId, sessionId, messageId, idempotencyKey, limits = {} }: ChangeInput,
  type: 'edit' | 'revoke',
  text: string | null,
  checkTarget: (target: typeof messages.$inferSelect) => void,
): Promise<{ message: MessageView; created: boolean }> {
  const session = await requireSession(ctx, tenantId, sessionId)
  const requestHash = createHash('sha256')
    .update(JSON.stringify({ [type]: messageId, ...(text !== null ? { text } : {}) }))
    .digest('hex')
  if (idempotencyKey) {
    const existing = await findByIdempotencyKey(ctx, sessionId, idempotencyKey)
    if (existing) return { message: sameRequestOrConflict(existing, requestHash), created: false }
  }
  const target = await findSessionMessage(ctx, tenantId, sessionId, messageId)
  if (!target) throw new NotFound('message')
  const verb = type === 'edit' ? 'edited' : 'deleted'
  if (target.direction !== 'out')
    throw new Unprocessable(
      'messageId',
      type === 'edit' ? 'message_not_editable' : 'message_not_revocable',
      `a received message cannot be ${verb}; only messages this session sent can`,
    )
  if (target.content?.revoked)
    throw new Unprocessable('messageId', 'message_revoked', `the message was deleted for everyone already`)
  checkTarget(target)
  if (target.status === 'failed')
    throw new Unprocessable('messageId', 'message_failed', `the message failed; it cannot be ${verb}`)
  await requireSendable(ctx, session)
  await countSend({ ctx, tenantId, sessionId, limits })

  const now = new Date()
  const content: MessageContent = { target: target.id }
  const [inserted] = await ctx.database.db
    .insert(messages)
    .values({
      id: newId('msg'),
      tenantId,
      sessionId,
      direction: 'out',
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
      chatId: target.chatId,
      waMessageId: null,
      type,
      text,
      content,
      status: 'queued',
      statusHistory: [{ status: 'queued', at: now.toISOString() }],
    })
    .onConflictDoNothing()
    .returning()
  if (!inserted) {
    const existing = await findByIdempotencyKey(ctx, sessionId, idempotencyKey!)
    return { message: sameRequestOrConflict(existing!, requestHash), created: false }
  }
  if (session.nodeId) await nudgeNode(ctx.coordinator, session.nodeId, { kind: 'send', sessionId })
  return { message: toMessageView(inserted), created: true }
}
