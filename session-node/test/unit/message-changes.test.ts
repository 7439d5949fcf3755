import { createCipheriv, createHash, createHmac, randomBytes } from 'node:crypto'
import { proto, type WAMessage, WAMessageStubType } from '@whiskeysockets/baileys'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { applyMessageChange } from '../../src/messages/message-changes.js'
import {
  toInboundMessage,
  toMessageChanges,
  toProviderEvents,
  toReceivedMessage,
} from '../../src/providers/baileys/event-mapping.js'
import { pollVotesOf } from '../../src/providers/baileys/poll-votes.js'
import type { MessageChange } from '../../src/providers/provider.js'

const ownJid = '6285800000001:7@s.whatsapp.net'
const contact = '6281400000001@s.whatsapp.net'

describe('polls and changes of messages: Baileys → provider events', () => {
  it('maps a received poll (multiple and single choice) to type poll with its question and options', () => {
    const creation = {
      name: 'Which day?',
      options: [{ optionName: 'Mon' }, { optionName: 'Tue' }],
      selectableOptionsCount: 0,
    }
    const multiple: WAMessage = {
      key: { remoteJid: contact, fromMe: false, id: 'POLL1' },
      message: { pollCreationMessage: creation, messageContextInfo: { messageSecret: randomBytes(32) } },
      messageTimestamp: 1_700_000_000,
    }
    expect(toInboundMessage(multiple, ownJid)).toMatchObject({
      type: 'poll',
      poll: { question: 'Which day?', options: ['Mon', 'Tue'], selectableCount: 0 },
    })
    const single: WAMessage = {
      ...multiple,
      message: { pollCreationMessageV3: { ...creation, selectableOptionsCount: 1 } },
    }
    expect(toInboundMessage(single, ownJid)).toMatchObject({ type: 'poll', poll: { selectableCount: 1 } })
    // The secret travels beside the public item, never in it.
    const received = toReceivedMessage(multiple, ownJid)!
    expect(received.pollSecret).toEqual(Buffer.from(multiple.message!.messageContextInfo!.messageSecret!))
    expect(JSON.stringify(received.message)).not.toContain('Secret')
  })

  it('never reports a poll vote as a message of its own', () => {
    const vote: WAMessage = {
      key: { remoteJid: contact, fromMe: false, id: 'VOTE1' },
      message: { pollUpdateMessage: { pollCreationMessageKey: { id: 'POLL1' }, vote: {} } },
    }
    expect(toInboundMessage(vote, ownJid)).toBeUndefined()
  })

  it('maps edits, deletes for everyone and reactions of either side to changes of their target', () => {
    const changes = toMessageChanges(
      {
        'messages.update': [
          {
            key: { remoteJid: contact, fromMe: false, id: 'IN1' },
            update: { message: { editedMessage: { message: { conversation: 'fixed text' } } } },
          },
          {
            key: { remoteJid: contact, fromMe: true, id: 'OUT1' },
            update: {
              message: null,
              messageStubType: WAMessageStubType.REVOKE,
              key: { remoteJid: contact, fromMe: true, id: 'REVOKE1' },
            },
          },
          // A status change is not a change of the message.
          { key: { remoteJid: contact, fromMe: true, id: 'OUT2' }, update: { status: 4 } },
        ],
        'messages.reaction': [
          {
            key: { remoteJid: contact, fromMe: true, id: 'OUT3' },
            reaction: { key: { remoteJid: contact, fromMe: false, id: 'R1' }, text: '👍' },
          },
        ],
      },
      ownJid,
    )
    expect(changes).toEqual([
      { waMessageId: 'IN1', chatId: contact, by: contact, byMe: false, kind: 'edited', text: 'fixed text' },
      { waMessageId: 'OUT1', chatId: contact, by: ownJid, byMe: true, kind: 'revoked' },
      { waMessageId: 'OUT3', chatId: contact, by: contact, byMe: false, kind: 'reaction', emoji: '👍' },
    ])
    expect(
      toProviderEvents(
        {
          'messages.update': [
            {
              key: { id: 'IN1', remoteJid: contact },
              update: { message: { editedMessage: { message: { conversation: 'x' } } } },
            },
          ],
        },
        ownJid,
      ),
    ).toEqual([{ type: 'changes', changes: [expect.objectContaining({ kind: 'edited', text: 'x' })] }])
  })

  it('reads a vote encrypted with the poll secret, and drops one that does not decrypt', async () => {
    const messageSecret = randomBytes(32)
    const options = ['Soto', 'Rendang', 'Gado-gado']
    // A vote as a WhatsApp client writes it (the protocol, written out here independently).
    const encryptVote = (picked: string[], secret: Buffer, creator = '6285800000001@s.whatsapp.net') => {
      const plaintext = proto.Message.PollVoteMessage.encode({
        selectedOptions: picked.map((option) => createHash('sha256').update(option).digest()),
      }).finish()
      const sign = Buffer.concat([
        Buffer.from('POLL1'),
        Buffer.from(creator),
        Buffer.from(contact),
        Buffer.from('Poll Vote'),
        Buffer.from([1]),
      ])
      const key0 = createHmac('sha256', Buffer.alloc(32)).update(secret).digest()
      const key = createHmac('sha256', key0).update(sign).digest()
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(Buffer.from(`POLL1\u0000${contact}`))
      const encPayload = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
      return { encPayload, encIv: iv }
    }
    const voteMessage = (id: string, vote: { encPayload: Buffer; encIv: Buffer }): WAMessage => ({
      key: { remoteJid: contact, fromMe: false, id },
      message: {
        pollUpdateMessage: {
          pollCreationMessageKey: { remoteJid: '6285800000001@s.whatsapp.net', fromMe: false, id: 'POLL1' },
          vote,
        },
      },
    })
    const context = (poll: Awaited<ReturnType<Parameters<typeof pollVotesOf>[1]['loadPoll']>>) => ({
      me: { id: ownJid, lid: '99999999999999:7@lid' },
      loadPoll: async (id: string) => (id === 'POLL1' ? poll : undefined),
      logger: pino({ level: 'silent' }),
    })
    const votes = await pollVotesOf(
      [
        voteMessage('V1', encryptVote(['Gado-gado', 'Soto'], messageSecret)),
        voteMessage('V2', encryptVote(['Soto'], randomBytes(32))),
      ],
      context({ options, messageSecret }),
    )
    expect(votes).toEqual([
      {
        waMessageId: 'POLL1',
        chatId: contact,
        by: contact,
        byMe: false,
        kind: 'poll',
        options: ['Soto', 'Gado-gado'],
      },
    ])
    // A poll the session received: the key is derived with its creator's JID, not ours.
    const received = await pollVotesOf(
      [voteMessage('V3', encryptVote(['Rendang'], messageSecret, contact))],
      context({ options, messageSecret, creator: contact }),
    )
    expect(received.map((vote) => vote.kind === 'poll' && vote.options)).toEqual([['Rendang']])
  })
})

describe('a change applied to the stored message', () => {
  const from = (change: Partial<MessageChange> & Pick<MessageChange, 'kind'>) =>
    ({ waMessageId: 'W1', chatId: contact, by: contact, byMe: false, ...change }) as MessageChange

  it('an edit replaces the text once; a repeat changes nothing', () => {
    const edited = applyMessageChange(
      { text: 'old', content: {} },
      from({ kind: 'edited', text: 'new' }),
      '6281400000001',
    )
    expect(edited).toEqual({
      text: 'new',
      content: { edited: true },
      detail: { change: 'edited', by: '6281400000001', byMe: false, text: 'new' },
    })
    expect(
      applyMessageChange(
        { text: 'new', content: { edited: true } },
        from({ kind: 'edited', text: 'new' }),
        undefined,
      ),
    ).toBeUndefined()
  })

  it('a delete for everyone clears the text and content, and nothing changes a deleted message after', () => {
    const revoked = applyMessageChange(
      { text: 'secret', content: { replyTo: 'msg_1', mentions: ['62811'] } },
      from({ kind: 'revoked' }),
      '6281400000001',
    )
    expect(revoked?.text).toBeNull()
    expect(revoked?.content).toEqual({ replyTo: 'msg_1', revoked: true })
    expect(
      applyMessageChange(
        { text: null, content: { revoked: true } },
        from({ kind: 'edited', text: 'x' }),
        undefined,
      ),
    ).toBeUndefined()
  })

  it('keeps one reaction per phone; an empty emoji takes it away', () => {
    const first = applyMessageChange(
      { text: 'hi', content: {} },
      from({ kind: 'reaction', emoji: '👍' }),
      '62814',
    )!
    expect(first.content.reactions).toEqual([{ from: '62814', emoji: '👍' }])
    const replaced = applyMessageChange(
      { text: 'hi', content: first.content },
      from({ kind: 'reaction', emoji: '❤️' }),
      '62814',
    )!
    expect(replaced.detail.reactions).toEqual([{ from: '62814', emoji: '❤️' }])
    const removed = applyMessageChange(
      { text: 'hi', content: replaced.content },
      from({ kind: 'reaction', emoji: '' }),
      '62814',
    )!
    expect(removed.content.reactions).toBeUndefined()
    expect(removed.detail.reactions).toEqual([])
  })

  it('tallies each voter’s latest vote over every option', () => {
    const poll = { question: 'Q', options: ['A', 'B', 'C'], selectableCount: 0 }
    const one = applyMessageChange(
      { text: null, content: { poll } },
      from({ kind: 'poll', options: ['A', 'C'] }),
      '1111',
    )!
    const two = applyMessageChange(
      { text: null, content: one.content },
      from({ kind: 'poll', options: ['C'] }),
      '2222',
    )!
    expect(two.detail.poll).toEqual({
      votes: [
        { option: 'A', voters: ['1111'] },
        { option: 'B', voters: [] },
        { option: 'C', voters: ['1111', '2222'] },
      ],
    })
    const changed = applyMessageChange(
      { text: null, content: two.content },
      from({ kind: 'poll', options: [] }),
      '1111',
    )!
    expect(changed.content.pollVotes).toEqual({ '2222': ['C'] })
    expect(
      applyMessageChange(
        { text: null, content: changed.content },
        from({ kind: 'poll', options: [] }),
        '1111',
      ),
    ).toBeUndefined()
    expect(
      applyMessageChange({ text: 'not a poll', content: {} }, from({ kind: 'poll', options: ['A'] }), '1111'),
    ).toBeUndefined()
  })
})
