import { createHash, randomBytes } from 'node:crypto'
import { aesEncryptGCM, hmacSign, normalizeMessageContent, proto } from '@whiskeysockets/baileys'
import { BadInput } from './errors.js'

// What the simulated phones write and read beyond a plain text: polls, poll votes, edits, deletes for
// everyone and reactions, in the shapes WhatsApp clients exchange (docs/wa-protocol.md), and what a
// phone's inbox shows of them.

/** A poll as a phone shows it. */
export interface InboxPoll {
  question: string
  options: string[]
  /** How many options a voter may pick; 0 = any number. */
  selectableCount: number
}

/** What an inbox entry is when it is not a plain text (then its `text` is `''`). */
export interface InboxContent {
  text: string
  poll?: InboxPoll
  /** An edit of message `id`: its new text. */
  edit?: { id: string; text: string }
  /** A delete for everyone of message `id`. */
  revoke?: { id: string }
  /** A reaction to message `id` (`emoji` `''` takes one away). */
  reaction?: { id: string; emoji: string }
}

/** A poll a phone decrypted: what a vote on it needs. */
export interface KnownPoll {
  /** The poll's creator (its sender), as a PN. */
  creatorPn: string
  options: string[]
  messageSecret: Uint8Array
}

/** What the inbox shows of a decrypted message; undefined for what a phone does not show. */
export function inboxContentOf(message: proto.IMessage): InboxContent | undefined {
  const content = normalizeMessageContent(message)
  if (!content) return undefined
  const text = content.conversation || content.extendedTextMessage?.text
  if (text) return { text }
  const protocol = content.protocolMessage
  const targetId = protocol?.key?.id
  if (protocol && targetId) {
    if (protocol.type === proto.Message.ProtocolMessage.Type.REVOKE)
      return { text: '', revoke: { id: targetId } }
    if (protocol.type === proto.Message.ProtocolMessage.Type.MESSAGE_EDIT) {
      const edited = normalizeMessageContent(protocol.editedMessage)
      const newText = edited?.conversation || edited?.extendedTextMessage?.text || ''
      return { text: '', edit: { id: targetId, text: newText } }
    }
    return undefined
  }
  const reaction = content.reactionMessage
  if (reaction?.key?.id) return { text: '', reaction: { id: reaction.key.id, emoji: reaction.text ?? '' } }
  const poll = pollOf(content)
  if (poll) return { text: '', poll }
  return undefined
}

function pollOf(content: proto.IMessage): InboxPoll | undefined {
  const poll = content.pollCreationMessage ?? content.pollCreationMessageV3 ?? content.pollCreationMessageV2
  if (!poll) return undefined
  return {
    question: poll.name ?? '',
    options: (poll.options ?? []).map((option) => option.optionName ?? ''),
    selectableCount: poll.selectableOptionsCount ?? 0,
  }
}

/** The poll of a decrypted message with its secret, when it is one. */
export function knownPollOf(message: proto.IMessage, creatorPn: string): KnownPoll | undefined {
  const content = normalizeMessageContent(message)
  const poll = content && pollOf(content)
  const messageSecret =
    message.messageContextInfo?.messageSecret ?? content?.messageContextInfo?.messageSecret
  if (!poll || !messageSecret) return undefined
  return { creatorPn, options: poll.options, messageSecret }
}

const MAX_POLL_OPTIONS = 12

function nonEmptyString(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max)
    throw new BadInput(field, `must be a non-empty string of at most ${max} characters`)
  return value
}

/** A poll a contact creates: `pollCreationMessageV3` for a single choice, else `pollCreationMessage`. */
export function pollMessage(input: {
  question: unknown
  options: unknown
  selectableCount?: unknown
}): proto.IMessage {
  const question = nonEmptyString('question', input.question, 255)
  if (!Array.isArray(input.options) || input.options.length < 2 || input.options.length > MAX_POLL_OPTIONS)
    throw new BadInput('options', `must be 2 to ${MAX_POLL_OPTIONS} strings`)
  const options = input.options.map((option, index) => nonEmptyString(`options.${index}`, option, 100))
  if (new Set(options).size !== options.length) throw new BadInput('options', 'must be distinct')
  const selectableCount = input.selectableCount ?? 0
  if (
    typeof selectableCount !== 'number' ||
    !Number.isInteger(selectableCount) ||
    selectableCount < 0 ||
    selectableCount > options.length
  )
    throw new BadInput('selectableCount', `must be an integer from 0 to ${options.length}`)
  const creation = {
    name: question,
    options: options.map((optionName) => ({ optionName })),
    selectableOptionsCount: selectableCount,
  }
  return {
    messageContextInfo: { messageSecret: randomBytes(32) },
    ...(selectableCount === 1 ? { pollCreationMessageV3: creation } : { pollCreationMessage: creation }),
  }
}

/**
 * A vote on a poll, encrypted as WhatsApp clients do: AES-256-GCM under a key derived (HMAC-SHA256)
 * from the poll's secret, its id, its creator and the voter, with `<poll id>\0<voter>` as additional
 * data; the options are named by the SHA-256 of their text. `options` empty withdraws the vote.
 */
export function voteMessage(input: {
  pollId: string
  poll: KnownPoll
  /** The chat and side of the poll's key, as the voter sees it. */
  pollKey: { remoteJid: string; fromMe: boolean }
  creatorJid: string
  voterJid: string
  options: unknown
}): proto.IMessage {
  if (!Array.isArray(input.options) || input.options.some((option) => typeof option !== 'string'))
    throw new BadInput('options', 'must be an array of the poll’s options')
  const options = input.options as string[]
  const unknown = options.find((option) => !input.poll.options.includes(option))
  if (unknown !== undefined) throw new BadInput('options', `"${unknown}" is not an option of the poll`)
  const plaintext = proto.Message.PollVoteMessage.encode({
    selectedOptions: options.map((option) => createHash('sha256').update(option).digest()),
  }).finish()
  const sign = Buffer.concat([
    Buffer.from(input.pollId),
    Buffer.from(input.creatorJid),
    Buffer.from(input.voterJid),
    Buffer.from('Poll Vote'),
    new Uint8Array([1]),
  ])
  const key0 = hmacSign(Buffer.from(input.poll.messageSecret), new Uint8Array(32), 'sha256')
  const encKey = hmacSign(sign, key0, 'sha256')
  const encIv = randomBytes(12)
  const aad = Buffer.from(`${input.pollId}\u0000${input.voterJid}`)
  return {
    pollUpdateMessage: {
      pollCreationMessageKey: { ...input.pollKey, id: input.pollId },
      vote: { encPayload: aesEncryptGCM(plaintext, encKey, encIv, aad), encIv },
      senderTimestampMs: Date.now(),
    },
  }
}

/** An edit of the sender's own text `id` in the chat with `chatJid`. */
export function editMessage(chatJid: string, id: string, text: unknown): proto.IMessage {
  return {
    protocolMessage: {
      key: { remoteJid: chatJid, fromMe: true, id },
      type: proto.Message.ProtocolMessage.Type.MESSAGE_EDIT,
      editedMessage: { conversation: nonEmptyString('text', text, 4096) },
      timestampMs: Date.now(),
    },
  }
}

/** A delete for everyone of the sender's own message `id` in the chat with `chatJid`. */
export function revokeMessage(chatJid: string, id: string): proto.IMessage {
  return {
    protocolMessage: {
      key: { remoteJid: chatJid, fromMe: true, id },
      type: proto.Message.ProtocolMessage.Type.REVOKE,
    },
  }
}

/** A reaction to message `id` of the chat with `chatJid`, written by `fromMe` (the reactor) or the other side. */
export function reactionMessage(
  chatJid: string,
  id: string,
  fromMe: boolean,
  emoji: unknown,
): proto.IMessage {
  if (typeof emoji !== 'string' || emoji.length > 16)
    throw new BadInput('emoji', 'must be a string of at most 16 characters ("" takes the reaction away)')
  return {
    reactionMessage: { key: { remoteJid: chatJid, fromMe, id }, text: emoji, senderTimestampMs: Date.now() },
  }
}
