import { deleteEndedBroadcastMediaChunks, deleteMediaChunks, readMediaChunks } from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import { isMediaMessageType, messageError } from '@wa-cluster/shared'
import { deferClosedWindows, recordPacedSend } from '../messages/broadcast-sends.js'
import { recordMessageChanges } from '../messages/message-changes.js'
import { recordStatusUpdates } from '../messages/message-events.js'
import {
  type ClaimedMessage,
  claimNextOutbound,
  findReferencedMessage,
  holdPacedRow,
  keepSentMedia,
  msUntilNextDue,
} from '../messages/outbound-queue.js'
import { countRecordedOutcomes, type SessionNodeMetrics } from '../metrics.js'
import {
  type MessageChange,
  type MessageReference,
  type MessageStatusUpdate,
  type OutboundContent,
  type ProviderConnection,
  RecipientNotOnWhatsApp,
  type SentMedia,
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
  /**
   * Counts one broadcast send against the tenant's `messagesPerDay` (`limit`), in the window single
   * sends count in. Without it broadcasts ignore the daily quota.
   */
  countDailySend?: (limit: number) => Promise<{ allowed: boolean; retryAfterMs: number }>
  metrics?: SessionNodeMetrics
  onError: (error: unknown) => void
}

export type SendLoop = {
  /** Sends queued outbound messages one by one while the session may send. Safe to call often. */
  flush(): void
  /** Forgets the wake-up set for the next scheduled or paced message (the runner is stopping). */
  stop(): void
}

/** The sleep before looking again for a message that is due but could not be taken (locked, held). */
const RETRY_DUE_MS = 250
/** Added to a wait, so the wake-up lands just after the due time rather than a hair before it. */
const WAKE_MARGIN_MS = 5
/** The longest sleep: a far-off schedule is looked at again after this (setTimeout's range is finite). */
const MAX_WAKE_MS = 3_600_000

/**
 * The outbound queue of one session: claims the next due row (giving it its WhatsApp id before the
 * first attempt), sends it, and records `sent` or `failed`, one message at a time and in queue order.
 * Scheduled messages and broadcast rows waiting for the session's pace are not due yet: when nothing
 * is, the loop sleeps until the earliest of them (by Postgres' clock), so no nudge is needed for them.
 */
export function createSendLoop(deps: SendLoopDeps): SendLoop {
  const { database, sessionId, epoch, writer } = deps
  let sending = false
  let sendAgain = false
  let stopped = false
  let wakeTimer: NodeJS.Timeout | undefined

  async function scheduleWake(): Promise<void> {
    const waitMs = await msUntilNextDue(database, sessionId)
    clearTimeout(wakeTimer)
    wakeTimer = undefined
    if (waitMs === undefined || stopped) return
    wakeTimer = setTimeout(
      () => {
        wakeTimer = undefined
        flush()
      },
      waitMs <= 0 ? RETRY_DUE_MS : Math.min(MAX_WAKE_MS, Math.ceil(waitMs) + WAKE_MARGIN_MS),
    )
    wakeTimer.unref()
  }

  async function sendQueued(): Promise<void> {
    do {
      sendAgain = false
      for (;;) {
        const connection = deps.sendingConnection()
        if (!connection) return
        await deferClosedWindows(database, sessionId)
        const message = await claimNextOutbound(database, {
          sessionId,
          epoch,
          newMessageId: connection.newMessageId(),
        })
        if (!message) {
          await scheduleWake()
          break
        }
        const limit = message.paced?.messagesPerDay
        if (message.paced && limit !== null && limit !== undefined && deps.countDailySend) {
          // A broadcast waits for the daily quota instead of failing on it: the row goes back to the
          // queue and its broadcast is held until the window resets.
          const quota = await deps.countDailySend(limit)
          if (!quota.allowed) {
            const { broadcastId } = message.paced
            await writer.commit(() =>
              holdPacedRow(database, {
                messageId: message.id,
                broadcastId,
                epoch,
                retryAfterMs: quota.retryAfterMs,
              }),
            )
            continue
          }
        }
        let update: MessageStatusUpdate
        let change: MessageChange | undefined
        let sentMedia: SentMedia | undefined
        try {
          const content = await outboundContentOf(database, sessionId, message)
          sentMedia = await connection.send({
            chatId: message.chatId,
            messageId: message.waMessageId,
            content,
          })
          update = { waMessageId: message.waMessageId, chatId: message.chatId, status: 'sent' }
          change = ownChangeOf(content)
        } catch (error) {
          update = {
            waMessageId: message.waMessageId,
            chatId: message.chatId,
            status: 'failed',
            error:
              error instanceof RecipientNotOnWhatsApp
                ? messageError('not_on_whatsapp')
                : messageError('send_failed', (error as Error).message),
          }
        }
        deps.metrics?.messagesSent.inc({ outcome: update.status })
        await writer.commit(
          async () => {
            // Kept before the pieces go: a recipient that asks again is answered with the upload.
            if (sentMedia) await keepSentMedia(database, { messageId: message.id, epoch, ...sentMedia })
            const result = await recordStatusUpdates(database, {
              sessionId,
              epoch,
              updates: [update],
              claimLeaseMs: deps.claimLeaseMs,
            })
            countRecordedOutcomes(deps.metrics, result)
            return result
          },
          (result) => ({ claimed: result?.claimed ?? [], unclaimed: result?.unclaimed ?? false }),
        )
        // An edit, a delete or a reaction that went out changes the stored message it targets.
        if (change) {
          const ownChange = change
          await writer.commit(
            () =>
              recordMessageChanges(database, {
                sessionId,
                epoch,
                changes: [ownChange],
                claimLeaseMs: deps.claimLeaseMs,
              }),
            (result) => ({ claimed: result?.claimed ?? [], unclaimed: result?.unclaimed ?? false }),
          )
        }
        // A media file is kept only until its message is settled (a resend after a crash reads it again);
        // a broadcast's file, which its other recipients send too, until the broadcast has ended.
        // Left behind on failure, the retention sweep deletes it.
        if (message.content?.media && !message.content.mediaFile)
          await deleteMediaChunks(database, message.id).catch(() => {})
        const paced = message.paced
        if (paced) {
          await writer.commit(
            () => recordPacedSend(database, { sessionId, epoch, ...paced }),
            (result) => ({ unclaimed: result?.unclaimed ?? false }),
          )
          if (message.content?.mediaFile)
            await deleteEndedBroadcastMediaChunks(database, paced.broadcastId).catch(() => {})
        }
      }
    } while (sendAgain)
  }

  function flush(): void {
    if (stopped) return
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
  }

  return {
    flush,
    stop() {
      stopped = true
      clearTimeout(wakeTimer)
      wakeTimer = undefined
    },
  }
}

/** What a sent edit, delete or reaction changes on the message it targets, as this account's change. */
function ownChangeOf(content: OutboundContent): MessageChange | undefined {
  const of = (target: MessageReference) => ({
    waMessageId: target.waMessageId,
    chatId: target.chatId,
    by: '',
    byMe: true,
  })
  switch (content.kind) {
    case 'edit':
      return { ...of(content.target), kind: 'edited', text: content.text }
    case 'revoke':
      return { ...of(content.target), kind: 'revoked' }
    case 'reaction':
      return { ...of(content.target), kind: 'reaction', emoji: content.emoji }
    default:
      return undefined
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
      ...(found.sender && found.chatId.endsWith('@g.us') ? { participant: found.sender } : {}),
    }
  }
  if (message.type === 'edit' && content.target)
    return { kind: 'edit', target: await reference(content.target, 'edited'), text: message.text ?? '' }
  if (message.type === 'revoke' && content.target)
    return { kind: 'revoke', target: await reference(content.target, 'deleted') }
  if (content.reaction) {
    return {
      kind: 'reaction',
      target: await reference(content.reaction.messageId, 'reacted'),
      emoji: content.reaction.emoji,
    }
  }
  const quote = content.replyTo ? { quote: await reference(content.replyTo, 'quoted') } : {}
  if (content.media && isMediaMessageType(message.type)) {
    return {
      kind: 'media',
      mediaType: message.type,
      mimeType: content.media.mimeType,
      open: () => readMediaChunks(database, content.mediaFile ?? message.id),
      ...(content.media.fileName !== undefined ? { fileName: content.media.fileName } : {}),
      ...(content.caption !== undefined ? { caption: content.caption } : {}),
      ...(content.voiceNote ? { voiceNote: true } : {}),
      ...(content.uploaded ? { uploaded: content.uploaded } : {}),
      ...quote,
    }
  }
  if (content.location) return { kind: 'location', location: content.location, ...quote }
  if (content.contacts) return { kind: 'contacts', contacts: content.contacts, ...quote }
  if (content.poll) {
    if (!content.pollSecret) throw new Error(`the poll ${message.id} has no stored messageSecret`)
    return {
      kind: 'poll',
      poll: content.poll,
      messageSecret: Buffer.from(content.pollSecret, 'base64'),
      ...quote,
    }
  }
  return {
    kind: 'text',
    text: message.text ?? '',
    ...quote,
    ...(content.mentions ? { mentions: content.mentions } : {}),
  }
}
