import {
  type AppendResult,
  appendAndClaimEventsInTransaction,
  appendEvents,
  metadataField,
  type NewEvent,
} from '@wa-cluster/core'
import { type DatabaseHandle, type MessageContent, resultRows } from '@wa-cluster/db'
import {
  type MessagesUpdateData,
  phoneFromJid,
  pollTally,
  type StoredMessageStatus,
} from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { MessageChange, StoredPoll } from '../providers/provider.js'

// Edits, deletes for everyone, reactions and poll votes, by either side, on the stored row of the
// message they change, each as a `messages.update` item with `change`. Fenced by the owner's epoch.

type ChangeDetail = Omit<MessagesUpdateData['updates'][number], 'id' | 'waMessageId' | 'chatId' | 'status'>

/**
 * A stored message after one change: its new text and content and what the `messages.update` item
 * says about it; undefined when the change changes nothing (a repeat, an edit of a deleted message, a
 * vote on something that is not a poll), so a change seen twice is reported once.
 */
export function applyMessageChange(
  stored: { text: string | null; content: MessageContent },
  change: MessageChange,
  by: string | undefined,
): { text: string | null; content: MessageContent; detail: ChangeDetail } | undefined {
  const { text, content } = stored
  const who = { ...(by ? { by } : {}), byMe: change.byMe }
  if (content.revoked) return undefined
  switch (change.kind) {
    case 'edited':
      if (content.edited && text === change.text) return undefined
      return {
        text: change.text,
        content: { ...content, edited: true },
        detail: { change: 'edited', ...who, text: change.text },
      }
    case 'revoked': {
      // Deleted for everyone: what it said goes; where it stood (the quote) and its edits' trace stay.
      const { replyTo } = content
      return {
        text: null,
        content: { ...(replyTo ? { replyTo } : {}), revoked: true },
        detail: { change: 'revoked', ...who, revoked: true },
      }
    }
    case 'reaction': {
      const key = by ?? change.by
      const before = content.reactions ?? []
      const reactions = before.filter((reaction) => reaction.from !== key)
      if (change.emoji !== '') reactions.push({ from: key, emoji: change.emoji })
      if (JSON.stringify(reactions) === JSON.stringify(before)) return undefined
      const { reactions: _previous, ...rest } = content
      return {
        text,
        content: reactions.length > 0 ? { ...rest, reactions } : rest,
        detail: { change: 'reaction', ...who, reactions },
      }
    }
    case 'poll': {
      if (!content.poll) return undefined
      const key = by ?? change.by
      const picked = content.poll.options.filter((option) => change.options.includes(option))
      const votes = { ...(content.pollVotes ?? {}) }
      if (picked.length > 0) votes[key] = picked
      else delete votes[key]
      if (JSON.stringify(votes) === JSON.stringify(content.pollVotes ?? {})) return undefined
      return {
        text,
        content: { ...content, pollVotes: votes },
        detail: { change: 'poll', ...who, poll: { votes: pollTally(content.poll, votes) } },
      }
    }
  }
}

type TargetRow = {
  id: string
  chat_id: string
  status: StoredMessageStatus
  text: string | null
  content: MessageContent | string | null
  metadata: unknown
}

/**
 * Applies changes to the stored messages they change and appends one `messages.update` event for the
 * ones that changed something, in one transaction. A change of a message the session never stored
 * (sent from the phone itself, or before the gateway) is dropped. With `claimLeaseMs` the append
 * claims the event for the caller's dispatcher (the fast path); undefined when nothing changed.
 */
export async function recordMessageChanges(
  database: DatabaseHandle,
  input: { sessionId: string; epoch: number; changes: MessageChange[]; claimLeaseMs?: number },
): Promise<AppendResult | undefined> {
  if (input.changes.length === 0) return undefined
  return database.db.transaction(async (tx) => {
    const updates: MessagesUpdateData['updates'] = []
    let ownPhone: string | undefined
    for (const change of input.changes) {
      const [row] = resultRows<TargetRow>(
        await tx.execute(sql`
          SELECT id, chat_id, status, text, content, metadata FROM messages
          WHERE session_id = ${input.sessionId} AND wa_message_id = ${change.waMessageId}
            AND type NOT IN ('edit', 'revoke')
          ORDER BY id LIMIT 1
          FOR UPDATE`),
      )
      if (!row) continue
      if (change.byMe && ownPhone === undefined) {
        const [session] = resultRows<{ phone: string | null }>(
          await tx.execute(sql`SELECT phone FROM sessions WHERE id = ${input.sessionId}`),
        )
        ownPhone = session?.phone?.replace(/^\+/, '') ?? ''
      }
      const by = phoneFromJid(change.by) ?? (change.byMe ? ownPhone || undefined : undefined)
      const content = (typeof row.content === 'string' ? JSON.parse(row.content) : row.content) ?? {}
      const next = applyMessageChange({ text: row.text, content }, change, by)
      if (!next) continue
      await tx.execute(sql`
        UPDATE messages SET text = ${next.text}, content = ${JSON.stringify(next.content)}::jsonb,
          updated_at = now()
        WHERE id = ${row.id}`)
      updates.push({
        id: row.id,
        waMessageId: change.waMessageId,
        chatId: row.chat_id,
        status: row.status,
        ...metadataField(row.metadata),
        ...next.detail,
      })
    }
    if (updates.length === 0) return undefined
    const target = {
      sessionId: input.sessionId,
      epoch: input.epoch,
      events: [{ type: 'messages.update', data: { updates } } satisfies NewEvent<'messages.update'>],
    }
    if (input.claimLeaseMs !== undefined)
      return appendAndClaimEventsInTransaction(tx, target, input.claimLeaseMs)
    const envelopes = await appendEvents(tx, target)
    return { envelopes, claimed: [], unclaimed: true }
  })
}

/**
 * A poll of the session (sent or received), by its WhatsApp id: its options, the secret its votes are
 * encrypted with, and its creator when someone else sent it. Read-only, so not fenced.
 */
export async function findPoll(
  database: DatabaseHandle,
  sessionId: string,
  waMessageId: string,
): Promise<StoredPoll | undefined> {
  const [row] = await database.rows<{
    content: MessageContent | string | null
    direction: string
    sender: string | null
  }>(sql`
    SELECT content, direction, sender FROM messages
    WHERE session_id = ${sessionId} AND wa_message_id = ${waMessageId} AND type = 'poll'
    ORDER BY id LIMIT 1`)
  const content: MessageContent | null =
    typeof row?.content === 'string' ? JSON.parse(row.content) : (row?.content ?? null)
  if (!row || !content?.poll || !content.pollSecret) return undefined
  return {
    options: content.poll.options,
    messageSecret: Buffer.from(content.pollSecret, 'base64'),
    ...(row.direction === 'in' && row.sender ? { creator: row.sender } : {}),
  }
}
