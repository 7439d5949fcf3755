import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../../../test-support/wait.js'
import { SimControlClient, type SimHandle } from '../../src/index.js'
import type { TestClient } from '../support/baileys-client.js'
import { linkedClient, newPhone, startTestSimulator } from '../support/sim-fixture.js'

function groupTextOf(client: TestClient, text: string) {
  return client.events['messages.upsert']
    ?.flatMap((u) => u.messages)
    .find((m) => (m.message?.conversation ?? m.message?.extendedTextMessage?.text) === text)
}

describe('groups between wa-sim contacts and Baileys sessions', () => {
  let sim: SimHandle
  let alice: { client: TestClient; phone: string; jid: string }
  let bob: { client: TestClient; phone: string; jid: string }
  let outsider: { client: TestClient; phone: string; jid: string }
  const contact = newPhone()
  let group: string

  beforeAll(async () => {
    sim = await startTestSimulator()
    alice = await linkedClient(sim)
    bob = await linkedClient(sim)
    outsider = await linkedClient(sim)
    await sim.addContact({ pn: contact, name: 'Citra' })
    group = (await sim.createGroup({ subject: 'Posyandu', participants: [contact, alice.phone, bob.phone] }))
      .jid
  })
  afterAll(async () => {
    for (const session of [alice, bob, outsider]) session?.client.close()
    await sim.stop()
  })

  it('answers group metadata to members only, and lists a member’s groups', async () => {
    const metadata = await alice.client.sock!.groupMetadata(group)
    expect(metadata).toMatchObject({
      id: group,
      subject: 'Posyandu',
      size: 3,
      owner: `${contact}@s.whatsapp.net`,
    })
    expect(metadata.participants.map((participant) => participant.id).sort()).toEqual(
      [contact, alice.phone, bob.phone].map((pn) => `${pn}@s.whatsapp.net`).sort(),
    )
    await expect(outsider.client.sock!.groupMetadata(group)).rejects.toThrow()
    expect(Object.keys(await bob.client.sock!.groupFetchAllParticipating())).toEqual([group])
    expect(await outsider.client.sock!.groupFetchAllParticipating()).toEqual({})
  })

  it('fans a session’s sender-key messages out: the first carries the key, later ones only the skmsg', async () => {
    for (const text of ['pertama', 'kedua']) await alice.client.sock!.sendMessage(group, { text })
    for (const text of ['pertama', 'kedua']) {
      await bob.client.waitFor(() => !!groupTextOf(bob.client, text), text)
      expect(groupTextOf(bob.client, text)!.key).toMatchObject({
        remoteJid: group,
        participant: `${alice.phone}@s.whatsapp.net`,
      })
    }
    const inbox = await eventually('both texts in the contact’s inbox', async () => {
      const texts = (await sim.inbox(contact)).filter((message) => message.group === group)
      return texts.length >= 2 ? texts : undefined
    })
    expect(inbox.map((message) => [message.from, message.text])).toEqual([
      [alice.phone, 'pertama'],
      [alice.phone, 'kedua'],
    ])
    expect(groupTextOf(outsider.client, 'pertama')).toBeUndefined()
  })

  it('delivers a contact’s group texts to every member session', async () => {
    for (const text of ['dari citra 1', 'dari citra 2']) {
      const sent = await sim.sendToGroup({ from: contact, group, text })
      expect(sent.devices).toBe(2)
    }
    for (const session of [alice, bob]) {
      await session.client.waitFor(
        () => !!groupTextOf(session.client, 'dari citra 2'),
        `${session.phone} got it`,
      )
      expect(groupTextOf(session.client, 'dari citra 1')!.key).toMatchObject({
        remoteJid: group,
        participant: `${contact}@s.whatsapp.net`,
      })
    }
  })

  it('refuses bad group input naming the field', async () => {
    const control = new SimControlClient(sim.controlUrl)
    await expect(control.createGroup({ subject: '', participants: [contact] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('subject'),
    })
    await expect(control.createGroup({ subject: 'x', participants: ['12'] })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining('participants.0'),
    })
    await expect(control.createGroup({ subject: 'x', participants: [newPhone()] })).rejects.toMatchObject({
      status: 404,
    })
    await expect(control.sendToGroup({ from: outsider.phone, group, text: 'hi' })).rejects.toMatchObject({
      status: 404,
    })
  })
})
