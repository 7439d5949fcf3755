import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually, satisfying } from '../../../test-support/wait.js'
import { TestClient } from '../support/baileys-client.js'
import { linkedClient, newPhone, startTestSimulator } from '../support/sim-fixture.js'

describe('simulator restart with a state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa-sim-state-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('keeps accounts, keys and sessions so a linked client logs in again without a QR', async () => {
    const stateFile = join(dir, 'sim.json')
    const contact = newPhone()
    const first = await startTestSimulator({ stateFile })
    const port = Number(new URL(first.controlUrl).port)
    const { client, phone } = await linkedClient(first)
    await first.addContact({ pn: contact, name: 'Bob' })
    await first.send({ from: contact, to: phone, text: 'before restart' })
    await client.waitFor(
      () =>
        !!client.events['messages.upsert']
          ?.flatMap((u) => u.messages)
          .some((m) => m.message?.conversation === 'before restart'),
      'first text',
    )
    client.close()
    await first.stop()

    const second = await startTestSimulator({ stateFile, port })
    try {
      expect(second.rootPublicKey).toBe(first.rootPublicKey)
      const mark = client.updateCount()
      client.connect()
      await client.waitForOpen(mark)
      expect(client.events['connection.update']?.slice(mark).some((u) => u.qr)).toBe(false)
      await second.send({ from: contact, to: phone, text: 'after restart' })
      await client.waitFor(
        () =>
          !!client.events['messages.upsert']
            ?.flatMap((u) => u.messages)
            .some((m) => m.message?.conversation === 'after restart'),
        'text after restart',
      )
      const sent = await client.sock!.sendMessage(`${contact}@s.whatsapp.net`, {
        text: 'reply after restart',
      })
      await eventually(
        'contact decrypts after restart',
        satisfying(
          () => second.inbox(contact),
          (list) => list.some((m) => m.id === sent!.key.id && m.text === 'reply after restart'),
        ),
      )
    } finally {
      client.close()
      await second.stop()
    }
  })

  it('an unknown device gets 401 at login', async () => {
    const sim = await startTestSimulator()
    try {
      const client = new TestClient(sim.url, sim.rootPublicKey)
      client.auth.state.creds.me = { id: `${newPhone()}:3@s.whatsapp.net` }
      client.connect()
      expect(await client.waitForClose(0)).toBe(401)
    } finally {
      await sim.stop()
    }
  })
})
