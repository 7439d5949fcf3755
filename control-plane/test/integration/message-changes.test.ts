import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, linkSessionThroughApi, startCluster } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/processes.js'
import {
  connectionState,
  type ReceivedEvent,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../../test-support/webhook-receiver.js'

/**
 * Polls, edits, deletes for everyone, reactions and poll votes end to end: a control-plane and a
 * session-node as real processes, two gateway sessions and a contact on one wa-sim, the real Baileys
 * client in between. The webhook, the stored history and the contact's inbox are the oracles.
 */
// A story: later steps use the messages earlier ones sent, so they run in order.
describe.sequential('polls, edits, deletes, reactions and votes', () => {
  const contact = '6281300000201'
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let receiver: WebhookReceiver
  let tenant: WaClusterClient
  let alice: { id: string; phone: string }
  let bob: { id: string; phone: string }

  type MessageUpdate = Extract<ReceivedEvent, { type: 'messages.update' }>['data']['updates'][number]
  type InboundItem = Extract<ReceivedEvent, { type: 'messages.upsert' }>['data']['messages'][number]

  /** Waits for a `messages.update` item of `sessionId` matching `predicate`. */
  async function changeOf(
    sessionId: string,
    what: string,
    predicate: (update: MessageUpdate) => boolean,
  ): Promise<MessageUpdate> {
    const event = await receiver.waitFor(
      what,
      (event) =>
        event.type === 'messages.update' &&
        event.sessionId === sessionId &&
        event.data.updates.some(predicate),
      60_000,
    )
    return (event.data as { updates: MessageUpdate[] }).updates.find(predicate)!
  }
  /** Waits for a `messages.upsert` item of `sessionId` matching `predicate`. */
  async function inboundOf(
    sessionId: string,
    what: string,
    predicate: (message: InboundItem) => boolean,
  ): Promise<InboundItem> {
    const event = await receiver.waitFor(
      what,
      (event) =>
        event.type === 'messages.upsert' &&
        event.sessionId === sessionId &&
        event.data.messages.some(predicate),
      60_000,
    )
    return (event.data as { messages: InboundItem[] }).messages.find(predicate)!
  }
  const send = (sessionId: string, body: Record<string, unknown>) =>
    tenant.POST('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId } },
      body: body as never,
    })
  const getMessage = async (sessionId: string, messageId: string) =>
    (
      await tenant.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
        params: { path: { sessionId, messageId } },
      })
    ).data!
  /** Sends and waits until WhatsApp took it; returns the stored message. */
  async function sendAndWait(sessionId: string, body: Record<string, unknown>) {
    const sent = await send(sessionId, body)
    expect(sent.response.status).toBe(202)
    return eventually(
      `${sent.data!.id} sent`,
      async () => {
        const message = await getMessage(sessionId, sent.data!.id)
        return message.status !== 'queued' && message.status !== 'sending' ? message : undefined
      },
      60_000,
    )
  }
  const messageRows = async () =>
    Number(
      (await cluster.database.handle.rows<{ count: string }>(sql`SELECT count(*) AS count FROM messages`))[0]!
        .count,
    )
  const historyOf = async (sessionId: string) =>
    (await tenant.GET('/v1/sessions/{sessionId}/messages', { params: { path: { sessionId } } })).data!

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    await sim.addContact({ pn: contact, name: 'Citra' })
    receiver = await startWebhookReceiver()
    cluster = await startCluster({
      controlPlanes: 1,
      sessionNodes: 1,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: {
        BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn',
        LEASE_TTL_MS: '6000',
        HEARTBEAT_INTERVAL_MS: '500',
        NODE_TTL_MS: '3000',
        RECONCILE_INTERVAL_MS: '1000',
      },
    })
    const admin = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: cluster.adminKey })
    const created = await admin.POST('/v1/tenants', { body: { name: 'Changes tenant' } })
    tenant = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: created.data!.apiKey })
    const webhook = await tenant.PUT('/v1/webhook', { body: { url: receiver.url } })
    receiver.setSecret(webhook.data!.secret)
    alice = await linkSessionThroughApi(tenant, sim, '6285720000001')
    bob = await linkSessionThroughApi(tenant, sim, '6285720000002')
  }, 180_000)

  afterAll(async () => {
    await cluster?.stop()
    await receiver?.close()
    await sim?.stop()
  })

  it('a poll sent by one session reaches the other as a messages.upsert item of type poll', async () => {
    const poll = { question: 'Which day?', options: ['Monday', 'Tuesday', 'Wednesday'], selectableCount: 1 }
    const sent = await sendAndWait(alice.id, { to: bob.phone, type: 'poll', poll })
    expect(sent).toMatchObject({ type: 'poll', poll })
    // Bob's session is live, so the delivery receipt may already have moved it on from `sent`.
    expect(['sent', 'delivered', 'read']).toContain(sent.status)
    expect(JSON.stringify(sent)).not.toContain('pollSecret')
    const received = await inboundOf(bob.id, 'bob receives the poll', (message) => message.type === 'poll')
    expect(received).toMatchObject({ waMessageId: sent.waMessageId, fromMe: false, poll })
  })

  let pollId: string
  let pollWaId: string
  it("a contact's vote on a session's poll comes back as messages.update with the tally", async () => {
    const poll = { question: 'Lunch?', options: ['Soto', 'Rendang', 'Gado-gado'] }
    const sent = await sendAndWait(alice.id, { to: contact, type: 'poll', poll })
    pollId = sent.id
    pollWaId = sent.waMessageId!
    // The contact's phone decrypted the poll (with its secret) and shows it.
    await eventually('the contact sees the poll', async () =>
      (await sim.inbox(contact)).find((entry) => entry.id === pollWaId && entry.poll?.question === 'Lunch?'),
    )
    await sim.vote({ from: contact, to: alice.phone, pollId: pollWaId, options: ['Soto', 'Gado-gado'] })
    const update = await changeOf(
      alice.id,
      'the vote is tallied',
      (item) => item.change === 'poll' && item.id === pollId,
    )
    expect(update).toMatchObject({
      waMessageId: pollWaId,
      by: contact,
      byMe: false,
      poll: {
        votes: [
          { option: 'Soto', voters: [contact] },
          { option: 'Rendang', voters: [] },
          { option: 'Gado-gado', voters: [contact] },
        ],
      },
    })
    expect((await getMessage(alice.id, pollId)).poll?.votes).toEqual(update.poll!.votes)
  })

  it('a changed vote replaces the voter’s earlier one', async () => {
    await sim.vote({ from: contact, to: alice.phone, pollId: pollWaId, options: ['Rendang'] })
    const update = await changeOf(
      alice.id,
      'the changed vote',
      (item) => item.change === 'poll' && item.poll!.votes[1]!.voters.includes(contact),
    )
    expect(update.poll!.votes.map((option) => option.voters.length)).toEqual([0, 1, 0])
  })

  let aliceToBob: { id: string; waMessageId: string | null }
  let aliceToContact: { id: string; waMessageId: string | null }
  it('an edit reaches the other session and the contact, and the history shows it', async () => {
    aliceToBob = await sendAndWait(alice.id, { to: bob.phone, text: 'Meeting at 9' })
    aliceToContact = await sendAndWait(alice.id, { to: contact, text: 'Your order ships today' })
    const bobCopy = await inboundOf(bob.id, 'bob gets the text', (message) => message.text === 'Meeting at 9')

    const edit = await tenant.PATCH('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: alice.id, messageId: aliceToBob.id } },
      body: { text: 'Meeting at 10' },
    })
    expect(edit.response.status).toBe(202)
    expect(edit.data).toMatchObject({
      type: 'edit',
      target: aliceToBob.id,
      text: 'Meeting at 10',
      status: 'queued',
    })
    const atBob = await changeOf(bob.id, 'bob sees the edit', (item) => item.change === 'edited')
    expect(atBob).toMatchObject({ waMessageId: bobCopy.waMessageId, text: 'Meeting at 10', by: alice.phone })
    const bobRow = (await historyOf(bob.id)).data.find((row) => row.waMessageId === bobCopy.waMessageId)!
    expect(await getMessage(bob.id, bobRow.id)).toMatchObject({ text: 'Meeting at 10', edited: true })
    await changeOf(
      alice.id,
      'alice sees her own edit',
      (item) => item.change === 'edited' && item.id === aliceToBob.id,
    )
    expect(await getMessage(alice.id, aliceToBob.id)).toMatchObject({ text: 'Meeting at 10', edited: true })

    await tenant.PATCH('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: alice.id, messageId: aliceToContact.id } },
      body: { text: 'Your order ships tomorrow' },
    })
    await eventually('the contact sees the edit', async () =>
      (await sim.inbox(contact)).find(
        (entry) =>
          entry.edit?.id === aliceToContact.waMessageId && entry.edit.text === 'Your order ships tomorrow',
      ),
    )
  })

  it('a delete for everyone reaches the other session and the contact, and the history shows it', async () => {
    const revoke = await tenant.DELETE('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: alice.id, messageId: aliceToBob.id } },
    })
    expect(revoke.response.status).toBe(202)
    expect(revoke.data).toMatchObject({ type: 'revoke', target: aliceToBob.id })
    const atBob = await changeOf(bob.id, 'bob sees the delete', (item) => item.change === 'revoked')
    expect(atBob).toMatchObject({ revoked: true, by: alice.phone })
    await eventually('alice’s history shows it deleted', async () => {
      const message = await getMessage(alice.id, aliceToBob.id)
      return message.revoked === true && message.text === null
    })
    const bobRow = (await historyOf(bob.id)).data.find((row) => row.id === atBob.id)!
    expect(bobRow.text).toBeNull()

    await tenant.DELETE('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: alice.id, messageId: aliceToContact.id } },
    })
    await eventually('the contact sees the delete', async () =>
      (await sim.inbox(contact)).find((entry) => entry.revoke?.id === aliceToContact.waMessageId),
    )
  })

  it("a contact's edit, delete and reaction arrive as messages.update of the message", async () => {
    const { id: waId } = await sim.send({ from: contact, to: alice.phone, text: 'Can I come at 3?' })
    const received = await inboundOf(
      alice.id,
      'alice gets the text',
      (message) => message.waMessageId === waId,
    )
    await sim.edit({ from: contact, to: alice.phone, id: waId, text: 'Can I come at 4?' })
    const edited = await changeOf(
      alice.id,
      'the contact’s edit',
      (item) => item.change === 'edited' && item.waMessageId === waId,
    )
    expect(edited).toMatchObject({ text: 'Can I come at 4?', by: contact, byMe: false, status: 'received' })
    expect(received.text).toBe('Can I come at 3?')

    const sentText = await sendAndWait(alice.id, { to: contact, text: 'See you' })
    await sim.react({ from: contact, to: alice.phone, id: sentText.waMessageId!, emoji: '👍' })
    const reacted = await changeOf(alice.id, 'the contact’s reaction', (item) => item.change === 'reaction')
    expect(reacted).toMatchObject({ id: sentText.id, reactions: [{ from: contact, emoji: '👍' }] })
    // The reaction is also a message of its own, as before.
    await inboundOf(alice.id, 'the reaction item', (message) => message.type === 'reaction')
    expect((await getMessage(alice.id, sentText.id)).reactions).toEqual([{ from: contact, emoji: '👍' }])

    await sim.revoke({ from: contact, to: alice.phone, id: waId })
    const revoked = await changeOf(
      alice.id,
      'the contact’s delete',
      (item) => item.change === 'revoked' && item.waMessageId === waId,
    )
    expect(revoked.id).toBe(edited.id)
    expect(await getMessage(alice.id, edited.id)).toMatchObject({ revoked: true, text: null })

    // The session's own reaction to the contact's message reaches the contact's inbox.
    const another = await sim.send({ from: contact, to: alice.phone, text: 'Thanks!' })
    const thanks = await inboundOf(
      alice.id,
      'alice gets thanks',
      (message) => message.waMessageId === another.id,
    )
    const thanksRow = (await historyOf(alice.id)).data.find((row) => row.waMessageId === thanks.waMessageId)!
    await sendAndWait(alice.id, {
      to: contact,
      type: 'reaction',
      reaction: { messageId: thanksRow.id, emoji: '❤️' },
    })
    await eventually('the contact sees the reaction', async () =>
      (await sim.inbox(contact)).find(
        (entry) => entry.reaction?.id === another.id && entry.reaction.emoji === '❤️',
      ),
    )
  })

  it('a poll the session received is tallied too: its creator votes on it', async () => {
    const { id: waId } = await sim.sendPoll({
      from: contact,
      to: alice.phone,
      question: 'Come tomorrow?',
      options: ['Yes', 'No'],
      selectableCount: 1,
    })
    const received = await inboundOf(
      alice.id,
      'alice gets the poll',
      (message) => message.waMessageId === waId,
    )
    expect(received).toMatchObject({
      type: 'poll',
      poll: { question: 'Come tomorrow?', options: ['Yes', 'No'], selectableCount: 1 },
    })
    await sim.vote({ from: contact, to: alice.phone, pollId: waId, options: ['Yes'] })
    const update = await changeOf(
      alice.id,
      'the vote on the received poll',
      (item) => item.change === 'poll' && item.waMessageId === waId,
    )
    expect(update).toMatchObject({
      status: 'received',
      by: contact,
      poll: {
        votes: [
          { option: 'Yes', voters: [contact] },
          { option: 'No', voters: [] },
        ],
      },
    })
    const stored = await getMessage(alice.id, update.id)
    expect(stored.poll?.votes).toEqual(update.poll!.votes)
    expect(JSON.stringify(stored)).not.toContain('pollSecret')
  })

  it('refuses bad polls, edits and deletes with a 4xx naming the field, storing nothing', async () => {
    const before = await messageRows()
    const badPoll = async (poll: unknown, field: string) => {
      const response = await send(alice.id, { to: contact, type: 'poll', poll })
      expect(response.response.status, JSON.stringify(poll)).toBe(400)
      expect(JSON.stringify(response.error)).toContain(field)
    }
    const options = (count: number) => Array.from({ length: count }, (_, index) => `Option ${index + 1}`)
    await badPoll({ question: 'Q', options: options(1) }, 'body.poll.options')
    await badPoll({ question: 'Q', options: options(13) }, 'body.poll.options')
    await badPoll({ question: 'Q', options: ['Yes', ''] }, 'body.poll.options.1')
    await badPoll({ question: 'Q', options: ['Yes', '  '] }, 'body.poll.options.1')
    await badPoll({ question: 'Q', options: ['Yes', 'Yes'] }, 'body.poll.options.1')
    await badPoll({ question: 'Q', options: ['Yes', 'No'], selectableCount: 3 }, 'body.poll.selectableCount')
    await badPoll({ question: 'Q', options: ['Yes', 'No'], selectableCount: -1 }, 'body.poll.selectableCount')
    await badPoll({ question: '', options: ['Yes', 'No'] }, 'body.poll.question')

    const patch = (sessionId: string, messageId: string, body: unknown) =>
      tenant.PATCH('/v1/sessions/{sessionId}/messages/{messageId}', {
        params: { path: { sessionId, messageId } },
        body: body as never,
      })
    const unknown = await patch(alice.id, 'msg_0unknown', { text: 'x' })
    expect(unknown.response.status).toBe(404)
    const empty = await patch(alice.id, aliceToContact.id, { text: '' })
    expect(empty.response.status).toBe(400)
    expect(JSON.stringify(empty.error)).toContain('body.text')
    const bobReceived = (await historyOf(bob.id)).data.find((row) => row.waMessageId !== null)!
    const received = await patch(bob.id, bobReceived.id, { text: 'mine now' })
    expect(received.response.status).toBe(422)
    expect(received.error).toMatchObject({ error: { code: 'message_not_editable', field: 'messageId' } })
    const ofPoll = await patch(alice.id, pollId, { text: 'not a text' })
    expect(ofPoll.response.status).toBe(422)
    const ofRevoked = await patch(alice.id, aliceToBob.id, { text: 'too late' })
    expect(ofRevoked.response.status).toBe(422)
    expect(ofRevoked.error).toMatchObject({ error: { code: 'message_revoked' } })
    const deleteUnknown = await tenant.DELETE('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: alice.id, messageId: 'msg_0unknown' } },
    })
    expect(deleteUnknown.response.status).toBe(404)
    const deleteReceived = await tenant.DELETE('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: bob.id, messageId: bobReceived.id } },
    })
    expect(deleteReceived.response.status).toBe(422)
    expect(await messageRows()).toBe(before)
  })

  it('reads votes after a restart and a resend of the poll: the secret is in Postgres, not in the node', async () => {
    const since = receiver.events.length
    await cluster.node('node-1').stop('SIGKILL')
    await cluster.startNode('node-1')
    // The stored state still says CONNECTED from before: wait for the new socket's announcement.
    await receiver.waitFor(
      'alice connected again',
      (event) => receiver.events.indexOf(event) >= since && connectionState(alice.id, 'CONNECTED')(event),
      60_000,
    )
    // The contact's phone asks for the poll again: the node rebuilds it from Postgres, with the same
    // secret (the vote below is encrypted with the secret the phone decrypted this time).
    const copies = async () => (await sim.inbox(contact)).filter((entry) => entry.id === pollWaId).length
    const before = await copies()
    expect((await sim.requestRetry({ from: contact, id: pollWaId })).requested).toBe(1)
    await eventually('the poll sent again', async () => (await copies()) > before, 60_000)
    await sim.vote({ from: contact, to: alice.phone, pollId: pollWaId, options: [] })
    const update = await changeOf(
      alice.id,
      'the withdrawn vote',
      (item) => item.change === 'poll' && item.poll!.votes.every((option) => option.voters.length === 0),
    )
    expect(update.id).toBe(pollId)
    expect(
      (await getMessage(alice.id, pollId)).poll?.votes?.every((option) => option.voters.length === 0),
    ).toBe(true)
  })
})
