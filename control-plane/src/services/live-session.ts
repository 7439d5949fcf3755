import {
  type GroupSummary,
  type PresenceState,
  requestSessionCommand,
  type SessionCommand,
  SessionCommandRefused,
  type SessionCommandResult,
  SessionCommandTimeout,
} from '@wa-cluster/core'
import { Conflict, normalizeRecipient, TimedOut, ValidationFailed } from '@wa-cluster/shared'
import { chatJidsOf } from './message-history.js'
import { requireSession, type SessionScope } from './sessions.js'

// What the API does on a session's live WhatsApp connection, synchronously: the owning node carries it
// out and answers (core/src/coordination/session-commands.ts). Nothing here is stored.

/** Numbers one contacts check may ask about. */
export const MAX_CHECKED_PHONES = 50

/** Runs a command on the session's connection, on whichever node owns it. */
async function onOwner<K extends SessionCommand['kind']>(
  { ctx, tenantId, sessionId }: SessionScope,
  command: Extract<SessionCommand, { kind: K }>,
): Promise<SessionCommandResult[K]> {
  const session = await requireSession(ctx, tenantId, sessionId)
  if (session.state !== 'CONNECTED' || !session.nodeId) throw notConnected(session.state)
  try {
    return await requestSessionCommand(ctx.coordinator, {
      nodeId: session.nodeId,
      sessionId,
      command,
      timeoutMs: ctx.config.SESSION_COMMAND_TIMEOUT_MS,
    })
  } catch (error) {
    if (error instanceof SessionCommandTimeout)
      throw new TimedOut(
        `the node that owns this session did not answer within ${ctx.config.SESSION_COMMAND_TIMEOUT_MS} ms; it may be restarting or moving the session, try again shortly`,
      )
    if (error instanceof SessionCommandRefused)
      throw error.failure.reason === 'not_connected'
        ? notConnected('not connected on its node')
        : new Conflict(`WhatsApp refused it: ${error.failure.message}`, 'whatsapp_refused')
    throw error
  }
}

function notConnected(state: string): Conflict {
  return new Conflict(`the session is ${state}; this needs a CONNECTED session`, 'session_not_connected')
}

/** A chat as the JID to act on, or ValidationFailed naming `field`. */
function chatJidOf(input: string, defaultCountry: string, field: string): string {
  const chat = normalizeRecipient(input, defaultCountry)
  if (!chat.ok) throw new ValidationFailed(field, chat.reason)
  return chat.jid
}

/** Read receipts for the chat's unread received messages (blue ticks for their senders). */
export async function markChatRead(
  scope: SessionScope & { chatId: string },
): Promise<{ chatId: string; read: number }> {
  const chatIds = await chatJidsOf(scope.ctx, scope.tenantId, scope.chatId, 'path.chatId')
  const { read } = await onOwner(scope, { kind: 'markChatRead', chatIds })
  return { chatId: chatIds[0]!, read }
}

/** Shows the session typing, recording audio, or neither in a chat. */
export async function sendPresence(
  scope: SessionScope & { input: { chatId: string; state: PresenceState }; defaultCountry: string },
): Promise<{ chatId: string; state: PresenceState }> {
  const chatId = chatJidOf(scope.input.chatId, scope.defaultCountry, 'body.chatId')
  await onOwner(scope, { kind: 'sendPresence', chatId, state: scope.input.state })
  return { chatId, state: scope.input.state }
}

/** Whether each phone has a WhatsApp account, in the order asked. */
export async function checkContacts(
  scope: SessionScope & { input: { phones: string[] }; defaultCountry: string },
): Promise<{ phone: string; jid: string; exists: boolean }[]> {
  const asked = scope.input.phones.map((phone, index) => {
    const field = `body.phones.${index}`
    const normalized = normalizeRecipient(phone, scope.defaultCountry)
    if (!normalized.ok) throw new ValidationFailed(field, normalized.reason)
    if (!normalized.phone)
      throw new ValidationFailed(field, "must be a person's number, not a group or a LID")
    return { phone: normalized.phone, jid: normalized.jid }
  })
  const jids = [...new Set(asked.map((entry) => entry.jid))]
  const checked = await onOwner(scope, { kind: 'checkNumbers', jids })
  const exists = new Map(checked.map((entry) => [entry.jid, entry.exists]))
  return asked.map((entry) => ({ ...entry, exists: exists.get(entry.jid) === true }))
}

/** The groups the session's account is a member of. */
export function listGroups(scope: SessionScope): Promise<GroupSummary[]> {
  return onOwner(scope, { kind: 'listGroups' })
}
