import type { DatabaseHandle } from '@wa-cluster/db'
import { NOT_ON_WHATSAPP } from '@wa-cluster/shared'
import { recordStatusUpdates } from '../messages/message-events.js'
import { type ClaimedMessage, claimNextOutbound, findReferencedMessage } from '../messages/outbound-queue.js'
import type { SessionNodeMetrics } from '../metrics.js'
import {
  type MessageReference,
  type MessageStatusUpdate,
  type OutboundContent,
  type ProviderConnection,
  RecipientNotOnWhatsApp,
} from '../providers/provider.js'
import type { FencedWriter } from './fenced-writes.js'

export type SendLoopDeps = {
  database: DatabaseHandle
  sessionId: string
  epoch: number
  /** The connection to send on while the session may send (connected, owned, not stopping). */
  sendingConnection: () => ProviderConnection | undefined
  writer: FencedWriter
  /** The local dispatcher's claim lease: `messages.update` events are appended already claimed for it. */
  claimLeaseMs?: number
  metrics?: SessionNodeMetrics
  onError: (error: unknown) => void
}

export type SendLoop = {
  /** Sends queued outbound messages one by one while the session may send. Safe to call often. */
  flush(): void
}

/**
 * The outbound queue of one session: claims the next queued row (giving it its WhatsApp id before the
 * first attempt), sends it, and records `sent` or `failed`, one message at a time and in queue order.
 */
export function createSendLoop(deps: SendLoopDeps): SendLoop {
  const { database, sessionId, epoch, writer } = deps
  let sending = false
  let sendAgain = false

  async function sendQueued(): Promise<void> {
    do {
      sendAgain = false
      for (;;) {
        const connection = deps.sendingConnection()
        if (!connection) return
        const message = await claimNextOutbound(database, {
          sessionId,
          epoch,
          newMessageId: connection.newMessageId(),
        })
        if (!message) break
        let update: MessageStatusUpdate
        try {
          await connection.send({
            chatId: message.chatId,
            messageId: message.waMessageId,
            content: await outboundContentOf(database, sessionId, message),
          })
          update = { waMessageId: message.waMessageId, chatId: message.chatId, status: 'sent' }
        } catch (error) {
          update = {
            waMessageId: message.waMessageId,
            chatId: message.chatId,
            status: 'failed',
            error: error instanceof RecipientNotOnWhatsApp ? NOT_ON_WHATSAPP : (error as Error).message,
          }
        }
        deps.metrics?.messagesSent.inc({ outcome: update.status })
        await writer.commit(
          () =>
            recordStatusUpdates(database, {
              sessionId,
              epoch,
              updates: [update],
              claimLeaseMs: deps.claimLeaseMs,
            }),
          (result) => ({ claimed: result?.claimed ?? [], unclaimed: result?.unclaimed ?? false }),
        )
      }
    } while (sendAgain)
  }

  return {
    flush() {
      if (sending) {
        sendAgain = true
        return
      }
      if (!deps.sendingConnection()) return
      sending = true
      void sendQueued()
        .catch((error) => deps.onError(error))
        .finally(() => {
          sending = false
        })
    },
  }
}

/** A claimed row → what the provider sends, with the messages it quotes or reacts to looked up. */
export async function outboundContentOf(
  database: DatabaseHandle,
  sessionId: string,
  message: ClaimedMessage,
): Promise<OutboundContent> {
  const content = message.content ?? {}
  const reference = async (messageId: string, what: string): Promise<MessageReference> => {
    const found = await findReferencedMessage(database, sessionId, messageId)
    if (!found?.waMessageId) throw new Error(`the ${what} message ${messageId} was never sent`)
    return {
      waMessageId: found.waMessageId,
      chatId: found.chatId,
      fromMe: found.fromMe,
      ...(found.text !== null ? { text: found.text } : {}),
    }
  }
  if (content.reaction) {
    return {
      kind: 'reaction',
      target: await reference(content.reaction.messageId, 'reacted'),
      emoji: content.reaction.emoji,
    }
  }
  const quote = content.replyTo ? { quote: await reference(content.replyTo, 'quoted') } : {}
  if (content.location) return { kind: 'location', location: content.location, ...quote }
  if (content.contacts) return { kind: 'contacts', contacts: content.contacts, ...quote }
  return {
    kind: 'text',
    text: message.text ?? '',
    ...quote,
    ...(content.mentions ? { mentions: content.mentions } : {}),
  }
}
