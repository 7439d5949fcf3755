import type { WASocket } from '@whiskeysockets/baileys'
import type { ChatActions } from '../chat-actions.js'

/** Baileys' chat-state names for our presence states. */
const CHAT_STATE = { typing: 'composing', recording: 'recording', paused: 'paused' } as const

/** ChatActions over one Baileys socket. */
export function baileysChatActions(socket: WASocket): ChatActions {
  return {
    async markRead(targets) {
      if (targets.length === 0) return
      await socket.readMessages(
        targets.map((target) => ({
          remoteJid: target.chatId,
          id: target.waMessageId,
          fromMe: false,
          ...(target.participant ? { participant: target.participant } : {}),
        })),
      )
    },
    sendPresence: (chatId, state) => socket.sendPresenceUpdate(CHAT_STATE[state], chatId),
    async checkNumbers(jids) {
      if (jids.length === 0) return []
      const found = new Map((await socket.onWhatsApp(...jids))?.map((entry) => [entry.jid, entry.exists]))
      return jids.map((jid) => ({ jid, exists: found.get(jid) === true }))
    },
    async listGroups() {
      const groups = await socket.groupFetchAllParticipating()
      return Object.values(groups).map((group) => ({
        id: group.id,
        subject: group.subject,
        participants: group.participants.length,
      }))
    },
  }
}
