import { createHash } from 'node:crypto'
import { decryptPollVote, jidNormalizedUser, proto, WAMessageStubType } from '@whiskeysockets/baileys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, satisfying } from '../../../test-support/wait.js'
import type { SimHandle } from '../../src/index.js'
import type { TestClient } from '../support/baileys-client.js'
import { linkedClient, newPhone, startTestSimulator } from '../support/sim-fixture.js'

/** Polls, votes, edits, deletes and reactions between a contact and the real Baileys client. */
describe('polls and changes of messages between wa-sim contacts and Baileys sessions', () => {
  let sim: SimHandle
  let session: { client: TestClient; phone: string; jid: string }
  const contact = newPhone()
  const contactJid = `${contact}@s.whatsapp.net`
  const updates = () => (session.client.events['messages.update'] ?? []).flat()
  const upserted = () => (session.client.events['messages.upsert'] ?? []).flatMap((batch) => batch.messages)
  beforeAll(async () => {
    sim = await startTestSimulator()
    session = await linkedClient(sim)
    await sim.addContact({ pn: contact, name: 'Alice' })
  })
  afterAll(async () => {
    session.client.close()
    await sim.stop()
  })

  it("the contact's edit and delete reach Baileys as messages.update of the message", async () => {
    const { id } = await sim.send({ from: contact, to: session.phone, text: 'at 3?' })
    await session.client.waitFor(() => upserted().some((message) => message.key.id === id), 'the text')
    await sim.edit({ from: contact, to: session.phone, id, text: 'at 4?' })
    const edited = await eventually('the edit', () =>
      updates().find((update) => update.key.id === id && update.update.message?.editedMessage),
    )
    expect(edited.key).toMatchObject({ remoteJid: contactJid, fromMe: false })
    expect(edited.update.message?.editedMessage?.message?.conversation).toBe('at 4?')
    await sim.revoke({ from: contact, to: session.phone, id })
    await eventually('the delete', () =>
      updates().find(
        (update) => update.key.id === id && update.update.messageStubType === WAMessageStubType.REVOKE,
      ),
    )
  })

  it("the contact's reaction names the session's message as the session's own", async () => {
    const sent = await session.client.sock!.sendMessage(contactJid, { text: 'see you' })
    const { id } = await sim.react({ from: contact, to: session.phone, id: sent!.key.id!, emoji: '👍' })
    const reaction = await eventually('the reaction', () =>
      upserted().find((message) => message.key.id === id),
    )
    expect(reaction.message?.reactionMessage).toMatchObject({
      text: '👍',
      key: { id: sent!.key.id, fromMe: true },
    })
  })

  it("the contact's poll arrives with its question, options and secret", async () => {
    const { id } = await sim.sendPoll({
      from: contact,
      to: session.phone,
      question: 'Lunch?',
      options: ['Soto', 'Rendang'],
      selectableCount: 1,
    })
    const poll = await eventually('the poll', () => upserted().find((message) => message.key.id === id))
    expect(poll.message?.pollCreationMessageV3?.name).toBe('Lunch?')
    expect(poll.message?.messageContextInfo?.messageSecret).toHaveLength(32)
  })

  it("the session's poll is in the inbox, and the contact's vote decrypts with its secret in Baileys", async () => {
    const messageSecret = Buffer.alloc(32, 7)
    const sent = await session.client.sock!.sendMessage(contactJid, {
      poll: { name: 'Day?', values: ['Mon', 'Tue', 'Wed'], selectableCount: 0, messageSecret },
    })
    const pollId = sent!.key.id!
    const inbox = await eventually(
      'the contact decrypts the poll',
      satisfying(
        () => sim.inbox(contact),
        (entries) => entries.some((entry) => entry.id === pollId),
      ),
    )
    expect(inbox.find((entry) => entry.id === pollId)?.poll).toEqual({
      question: 'Day?',
      options: ['Mon', 'Tue', 'Wed'],
      selectableCount: 0,
    })
    await sim.vote({ from: contact, to: session.phone, pollId, options: ['Tue', 'Wed'] })
    const vote = await eventually('the vote', () =>
      upserted().find((message) => message.message?.pollUpdateMessage?.pollCreationMessageKey?.id === pollId),
    )
    const decrypted = decryptPollVote(vote.message!.pollUpdateMessage!.vote!, {
      pollCreatorJid: jidNormalizedUser(session.jid),
      pollMsgId: pollId,
      pollEncKey: messageSecret,
      voterJid: contactJid,
    })
    const hash = (option: string) => createHash('sha256').update(option).digest('hex')
    expect(decrypted.selectedOptions.map((option) => Buffer.from(option).toString('hex'))).toEqual([
      hash('Tue'),
      hash('Wed'),
    ])
    expect(proto.Message.PollVoteMessage).toBeDefined()
  })

  it("the session's edit, delete and reaction show in the contact's inbox", async () => {
    const sent = await session.client.sock!.sendMessage(contactJid, { text: 'draft' })
    const key = sent!.key
    await session.client.sock!.sendMessage(contactJid, { text: 'final', edit: key })
    await session.client.sock!.sendMessage(contactJid, { delete: key })
    const { id } = await sim.send({ from: contact, to: session.phone, text: 'thanks' })
    await session.client.sock!.sendMessage(contactJid, {
      react: { text: '❤️', key: { remoteJid: contactJid, fromMe: false, id } },
    })
    const inbox = await eventually(
      'the contact sees edit, delete and reaction',
      satisfying(
        () => sim.inbox(contact),
        (entries) => entries.some((entry) => entry.reaction?.id === id),
      ),
    )
    expect(inbox.find((entry) => entry.edit?.id === key.id)?.edit?.text).toBe('final')
    expect(inbox.find((entry) => entry.revoke?.id === key.id)).toBeDefined()
    expect(inbox.find((entry) => entry.reaction?.id === id)?.reaction?.emoji).toBe('❤️')
  })

  it('refuses a vote on a poll the contact never got, and a bad poll', async () => {
    await expect(
      sim.vote({ from: contact, to: session.phone, pollId: 'NOPE', options: [] }),
    ).rejects.toMatchObject({
      status: 404,
    })
    await expect(
      sim.sendPoll({ from: contact, to: session.phone, question: 'Q', options: ['only'] }),
    ).rejects.toMatchObject({ status: 400, message: expect.stringContaining('options') })
  })
})
