import { createHash } from 'node:crypto'
import {
  type AuthenticationCreds,
  decryptPollVote,
  jidNormalizedUser,
  normalizeMessageContent,
  type WAMessage,
} from '@whiskeysockets/baileys'
import type { Logger } from 'pino'
import type { MessageChange, OpenConnectionInput } from '../provider.js'

// Poll votes arrive encrypted with the poll's `messageSecret` (AES-GCM under a key derived from the
// secret, the poll's id, its creator and the voter). Baileys leaves them undecrypted, so the provider
// reads them here with the secret stored with the poll, on whichever node owns the session.

/** A vote names options by the SHA-256 of their text. */
function optionHash(option: string): string {
  return createHash('sha256').update(option).digest('hex')
}

/** The JIDs a side of the vote may be named by (phone number and LID, without the device). */
function jidsOf(...jids: (string | null | undefined)[]): string[] {
  const normalized = jids.filter((jid): jid is string => !!jid).map((jid) => jidNormalizedUser(jid))
  return [...new Set(normalized.filter((jid) => jid !== ''))]
}

/**
 * The votes in received messages on polls this session sent or received, each as the voter's whole current
 * choice (an empty one withdraws the vote). A vote that does not decrypt (not our poll, a poll the
 * store no longer has) is dropped.
 */
export async function pollVotesOf(
  messages: WAMessage[],
  context: {
    me: AuthenticationCreds['me']
    loadPoll: NonNullable<OpenConnectionInput['loadPoll']>
    logger: Logger
  },
): Promise<MessageChange[]> {
  const votes: MessageChange[] = []
  for (const message of messages) {
    const update = normalizeMessageContent(message.message)?.pollUpdateMessage
    const pollId = update?.pollCreationMessageKey?.id
    if (!update?.vote?.encPayload || !update.vote.encIv || !pollId) continue
    let poll: Awaited<ReturnType<typeof context.loadPoll>>
    try {
      poll = await context.loadPoll(pollId)
    } catch (err) {
      // The rest of the batch (messages, receipts) must not be lost for one vote.
      context.logger.warn({ err, pollId }, 'could not read the poll of a vote; the vote is dropped')
      continue
    }
    if (!poll) continue
    const key = message.key
    // WhatsApp derives the key from the JIDs as the voter's client knew them: try both forms.
    const own = jidsOf(context.me?.id, context.me?.lid)
    const creators = poll.creator ? jidsOf(poll.creator) : own
    const voters = key.fromMe
      ? own
      : jidsOf(key.participant, key.participantAlt, key.remoteJid, key.remoteJidAlt)
    let hashes: string[] | undefined
    for (const pollCreatorJid of creators) {
      for (const voterJid of voters) {
        try {
          const vote = decryptPollVote(update.vote, {
            pollCreatorJid,
            pollMsgId: pollId,
            pollEncKey: poll.messageSecret,
            voterJid,
          })
          hashes = (vote.selectedOptions ?? []).map((hash) => Buffer.from(hash).toString('hex'))
          break
        } catch {
          // Not this pair of JIDs (the GCM tag does not match): try the next.
        }
      }
      if (hashes) break
    }
    if (!hashes) {
      context.logger.warn({ pollId, voteId: key.id }, 'a poll vote did not decrypt with the poll secret')
      continue
    }
    const picked = new Set(hashes)
    const voter =
      [key.participant, key.participantAlt, key.remoteJid, key.remoteJidAlt].find((jid) =>
        jid?.endsWith('@s.whatsapp.net'),
      ) ??
      key.participant ??
      key.remoteJid ??
      ''
    votes.push({
      waMessageId: pollId,
      chatId: key.remoteJid ?? '',
      by: key.fromMe ? (context.me?.id ?? '') : voter,
      byMe: !!key.fromMe,
      kind: 'poll',
      options: poll.options.filter((option) => picked.has(optionHash(option))),
    })
  }
  return votes
}
