import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, satisfying } from '../../../test-support/wait.js'
import type { SimHandle } from '../../src/index.js'
import type { TestClient } from '../support/baileys-client.js'
import { linkedClient, newPhone, startTestSimulator } from '../support/sim-fixture.js'

function textOf(client: TestClient, text: string) {
  return client.events['messages.upsert']
    ?.flatMap((u) => u.messages)
    .find((m) => m.message?.conversation === text)
}

describe('messages between wa-sim contacts and Baileys sessions', () => {
  let sim: SimHandle
  let session: { client: TestClient; phone: string; jid: string }
  const contact = newPhone()
  beforeAll(async () => {
    sim = await startTestSimulator()
    session = await linkedClient(sim)
    await sim.addContact({ pn: contact, name: 'Alice' })
  })
  afterAll(async () => {
    session.client.close()
    await sim.stop()
  })

  it('delivers a PN-addressed text (pkmsg, then msg) and gets a receipt back', async () => {
    const first = await sim.send({ from: contact, to: session.phone, text: 'hello 1' })
    const second = await sim.send({ from: contact, to: session.phone, text: 'hello 2' })
    expect(first.devices).toBe(1)
    await session.client.waitFor(() => !!textOf(session.client, 'hello 2'), 'hello 2')
    const message = textOf(session.client, 'hello 1')!
    expect(message.key.remoteJid).toBe(`${contact}@s.whatsapp.net`)
    expect(message.key.remoteJidAlt).toMatch(/@lid$/)
    expect(message.pushName).toBe('Alice')
    const receipts = await eventually(
      'receipt from the session',
      satisfying(
        () => sim.receipts(second.id),
        (list) => list.length > 0,
      ),
    )
    expect(receipts[0]).toMatchObject({ from: session.phone, to: `${contact}@s.whatsapp.net` })
  })

  it('delivers a LID-addressed text', async () => {
    const { lid } = await sim.addContact({ pn: contact })
    await sim.send({ from: contact, to: session.phone, text: 'via lid', addressing: 'lid' })
    await session.client.waitFor(() => !!textOf(session.client, 'via lid'), 'lid text')
    const message = textOf(session.client, 'via lid')!
    expect(message.key.remoteJid).toBe(lid)
    expect(message.key.remoteJidAlt).toBe(`${contact}@s.whatsapp.net`)
  })

  it('lets the contact decrypt an outbound text and answers with delivery and read receipts', async () => {
    const sent = await session.client.sock!.sendMessage(`${contact}@s.whatsapp.net`, { text: 'outbound hi' })
    const inbox = await eventually(
      'contact decrypts',
      satisfying(
        () => sim.inbox(contact),
        (list) => list.some((m) => m.id === sent!.key.id),
      ),
    )
    expect(inbox.find((m) => m.id === sent!.key.id)).toMatchObject({
      from: session.phone,
      fromDevice: session.jid,
      text: 'outbound hi',
    })
    // Baileys folds a receipt that arrives while its own upsert of the sent message is still in its
    // event buffer (app-state sync right after linking buffers events) into that upsert's status
    // instead of emitting messages.update: a client must read both, as the gateway does.
    const statuses = () => [
      ...(session.client.events['messages.update']
        ?.flat()
        .filter((u) => u.key?.id === sent!.key.id)
        .map((u) => u.update.status) ?? []),
      ...(session.client.events['messages.upsert']
        ?.flatMap((u) => u.messages)
        .filter((m) => m.key.id === sent!.key.id)
        .map((m) => m.status) ?? []),
    ]
    await sim.receipt({ from: contact, to: session.phone, id: sent!.key.id! })
    await session.client.waitFor(() => statuses().includes(3), 'delivery status')
    await sim.receipt({ from: contact, to: session.phone, id: sent!.key.id!, type: 'read' })
    await session.client.waitFor(() => statuses().includes(4), 'read status')
    await expect(sim.receipt({ from: contact, to: session.phone, id: 'nope' })).rejects.toMatchObject({
      status: 404,
    })
  })

  it('relays texts and receipts between two linked sessions', async () => {
    const other = await linkedClient(sim)
    try {
      const sent = await session.client.sock!.sendMessage(`${other.phone}@s.whatsapp.net`, {
        text: 'tenant to tenant',
      })
      await other.client.waitFor(
        () =>
          !!other.client.events['messages.upsert']
            ?.flatMap((u) => u.messages)
            .some((m) => m.message?.extendedTextMessage?.text === 'tenant to tenant'),
        'relayed text',
      )
      // B's client answers with a receipt, which the simulator records and relays to A's devices.
      const receiptsOutBefore = (await sim.stats()).receiptsOut
      const receipts = await eventually(
        'receipt from B',
        satisfying(
          () => sim.receipts(sent!.key.id!),
          (list) => list.some((r) => r.from === other.phone),
        ),
      )
      expect(receipts[0]?.to).toContain(session.phone)
      await eventually(
        'relay',
        satisfying(
          () => sim.stats(),
          (s) => s.receiptsOut > receiptsOutBefore || receiptsOutBefore > 0,
        ),
      )
      const inbox = await eventually(
        'phone of B decrypts',
        satisfying(
          () => sim.inbox(other.phone),
          (list) => list.some((m) => m.id === sent!.key.id),
        ),
      )
      expect(inbox.at(-1)?.text).toBe('tenant to tenant')
    } finally {
      other.client.close()
    }
  })

  it('keeps texts for a device that is offline and delivers them, in order, at its next login', async () => {
    const { client } = session
    await client.closeAndWait()
    const before = await sim.stats()
    const queued = [
      await sim.send({ from: contact, to: session.phone, text: 'while offline 1' }),
      await sim.send({ from: contact, to: session.phone, text: 'while offline 2' }),
    ]
    expect(queued.map((sent) => sent.devices)).toEqual([0, 0])
    expect((await sim.stats()).unacknowledged).toBe((before.unacknowledged ?? 0) + 2)

    const mark = client.updateCount()
    client.connect()
    await client.waitForOpen(mark)
    await client.waitFor(() => !!textOf(client, 'while offline 2'), 'the offline queue')
    const received = client.events['messages.upsert']!.flatMap((update) => update.messages)
    const order = received
      .filter((message) => message.message?.conversation?.startsWith('while offline'))
      .map((message) => message.key.id)
    expect(order).toEqual(queued.map((sent) => sent.id))
    // The receipts empty the queue: a later login gets nothing again.
    const after = await eventually(
      'the device acknowledged the queued texts',
      satisfying(
        () => sim.stats(),
        (stats) => stats.unacknowledged === before.unacknowledged,
      ),
    )
    expect(after.redelivered).toBe(before.redelivered + 2)
  })

  it('a device that lost its Signal session with a contact gets the text in a fresh session after asking twice', async () => {
    const { client } = session
    const other = newPhone()
    const { lid } = await sim.addContact({ pn: other, name: 'Bob' })
    await sim.send({ from: other, to: session.phone, text: 'before the loss' })
    await client.waitFor(() => !!textOf(client, 'before the loss'), 'the first text')
    // The device loses its sessions with the contact (a restored backup of its keys, say).
    const repository = client.sock!.signalRepository
    const addresses = [`${other}@s.whatsapp.net`, lid].map((jid) =>
      repository.jidToSignalProtocolAddress(jid),
    )
    await client.state.keys.set({ session: Object.fromEntries(addresses.map((address) => [address, null])) })
    const before = await sim.stats()
    await sim.send({ from: other, to: session.phone, text: 'after the loss' })
    await client.waitFor(() => !!textOf(client, 'after the loss'), 'the text after the retries', 30_000)
    const after = await sim.stats()
    expect(after.redelivered).toBeGreaterThan(before.redelivered)
  })

  it('answers bad input with 400 and unknown senders with 404', async () => {
    await expect(sim.send({ from: contact, to: session.phone, text: '' })).rejects.toThrow(/text/)
    await expect(sim.send({ from: newPhone(), to: session.phone, text: 'x' })).rejects.toMatchObject({
      status: 404,
    })
    expect((await sim.stats()).decryptFailures).toBe(0)
  })
})
