import type { BinaryNode } from '@whiskeysockets/baileys'
import type { ClientConnection } from './client-connection.js'

/** A chat state (typing, recording, paused) a session sent (GET /presences). */
export interface ReceivedChatState {
  /** PN of the session's account. */
  from: string
  fromDevice: string
  /** The chat it was sent to, as the client addressed it. */
  to: string
  state: 'typing' | 'recording' | 'paused'
  timestamp: number
}

/**
 * Chat states the sessions send. WhatsApp passes them on to the chat's other members without an
 * answer to the sender; the simulator records them for tests instead. Grows without bound.
 */
export class ChatStates {
  readonly received: ReceivedChatState[] = []

  /** `<chatstate to><composing/>|<composing media='audio'/>|<paused/></chatstate>`. */
  onClientChatState(connection: ClientConnection, node: BinaryNode): void {
    const role = connection.role
    if (role.kind !== 'device') return
    const child = Array.isArray(node.content) ? node.content[0] : undefined
    const state =
      child?.tag === 'composing'
        ? child.attrs.media === 'audio'
          ? 'recording'
          : 'typing'
        : child?.tag === 'paused'
          ? 'paused'
          : undefined
    if (!state) return
    this.received.push({
      from: role.pn,
      fromDevice: role.deviceJid,
      to: node.attrs.to ?? '',
      state,
      timestamp: Date.now(),
    })
  }

  /** Those sent to `to` (a PN or jid), or all of them. */
  sentTo(to: string | undefined): ReceivedChatState[] {
    if (!to) return [...this.received]
    return this.received.filter((entry) => entry.to === to || entry.to.split('@')[0] === to)
  }
}
