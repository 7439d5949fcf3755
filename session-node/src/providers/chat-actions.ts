import type { GroupSummary, NumberCheck, PresenceState } from '@wa-cluster/core'

/** A received message to mark read: its chat, id and (in a group) the member who sent it. */
export type ReadTarget = { chatId: string; waMessageId: string; participant?: string }

/**
 * What a connection does at once for an API request besides sending (session-commands.ts): nothing
 * of it is stored, and a connection that is gone answers nothing.
 */
export type ChatActions = {
  /** Read receipts ("blue ticks") for received messages. */
  markRead(targets: ReadTarget[]): Promise<void>
  /** Typing, recording audio, or neither, in a chat. */
  sendPresence(chatId: string, state: PresenceState): Promise<void>
  /** Whether each person JID has a WhatsApp account. */
  checkNumbers(jids: string[]): Promise<NumberCheck[]>
  /** The groups the account is a member of. */
  listGroups(): Promise<GroupSummary[]>
}
