import type { MessagePoll, PollOptionVotes } from './events.js'

/**
 * The tally of a poll from each voter's latest vote (`votes`: voter phone → options picked): every
 * option in the poll's order, with or without voters.
 */
export function pollTally(poll: MessagePoll, votes: Record<string, string[]>): PollOptionVotes[] {
  return poll.options.map((option) => ({
    option,
    voters: Object.entries(votes)
      .filter(([, picked]) => picked.includes(option))
      .map(([voter]) => voter),
  }))
}
