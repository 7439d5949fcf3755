import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SimHandle } from '../../src/index.js'
import { TestClient } from '../support/baileys-client.js'
import { linkedClient, newPhone, startTestSimulator } from '../support/sim-fixture.js'

describe('linking a Baileys client to wa-sim', () => {
  let sim: SimHandle
  const clients: TestClient[] = []
  beforeAll(async () => {
    sim = await startTestSimulator()
  })
  afterAll(async () => {
    for (const client of clients) client.close()
    await sim.stop()
  })

  it('shows a QR, links on scan, restarts with 515, logs in and opens', async () => {
    const phone = newPhone()
    const before = await sim.stats()
    const { client, jid } = await linkedClient(sim, phone)
    clients.push(client)
    expect(jid).toBe(`${phone}:1@s.whatsapp.net`)
    expect(client.state.creds.me?.id).toBe(jid)
    expect(client.state.creds.me?.lid).toMatch(/^\d{15}:1@lid$/)
    expect(client.state.creds.platform).toBe('smba')
    const after = await sim.stats()
    expect(after.pairings - before.pairings).toBe(1)
    expect(after.logins - before.logins).toBe(1)
    expect(after.qrsIssued - before.qrsIssued).toBe(6)
    expect(after.unknownIqs).toBe(0)
    expect(after.perDevice?.[jid]).toMatchObject({ logins: 1, live: 1, maxConcurrent: 1 })
    const account = (await sim.accounts()).find((a) => a.pn === phone)
    expect(account?.devices).toEqual([expect.objectContaining({ jid, removed: false, live: 1, keyIndex: 1 })])
    // The phone bootstrap (app-state keys + inline history) reaches the client.
    await client.waitFor(() => (client.events['messaging-history.set']?.length ?? 0) > 0, 'history sync')
    expect(client.state.creds.myAppStateKeyId).toBeTruthy()
  })

  it('links with a pairing code entered on the phone', async () => {
    const phone = newPhone()
    const client = new TestClient(sim.url, sim.rootPublicKey)
    clients.push(client)
    client.connect()
    await client.waitForQr()
    const code = await client.sock!.requestPairingCode(phone)
    const mark = client.updateCount()
    const linked = await sim.enterPairingCode({ phone, code })
    expect(linked.jid).toBe(`${phone}:1@s.whatsapp.net`)
    expect(await client.waitForClose(mark)).toBe(515)
    const reopen = client.updateCount()
    client.connect()
    await client.waitForOpen(reopen)
    expect(client.state.creds.me?.id).toBe(linked.jid)
    expect((await sim.stats()).pairingCodeLinks).toBeGreaterThanOrEqual(1)
  })

  it('rejects a wrong pairing code', async () => {
    const phone = newPhone()
    const client = new TestClient(sim.url, sim.rootPublicKey)
    clients.push(client)
    client.connect()
    await client.waitForQr()
    const code = await client.sock!.requestPairingCode(phone)
    const wrong = code === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA'
    await expect(sim.enterPairingCode({ phone, code: wrong })).rejects.toThrow(/code/)
  })

  it('ends with 408 when every QR ref expired', async () => {
    const client = new TestClient(sim.url, sim.rootPublicKey, { qrTimeout: 100 })
    clients.push(client)
    client.connect()
    expect(await client.waitForClose(0)).toBe(408)
    expect(client.events['connection.update']?.filter((u) => u.qr).length).toBe(6)
  })

  it('rejects bad scan input with 400 naming the field and unknown refs with 404', async () => {
    await expect(sim.scan({ qr: 'nonsense', phone: newPhone() })).rejects.toMatchObject({ status: 400 })
    await expect(sim.scan({ qr: 'x,y,z,w', phone: 'abc' })).rejects.toThrow(/phone/)
    const key = Buffer.alloc(32, 1).toString('base64')
    await expect(sim.scan({ qr: `2@gone,${key},${key},${key},1`, phone: newPhone() })).rejects.toMatchObject({
      status: 404,
    })
  })

  it('links a crowd of 10 sessions at once, one socket each', async () => {
    const crowd = await Promise.all(Array.from({ length: 10 }, () => linkedClient(sim)))
    clients.push(...crowd.map((c) => c.client))
    const stats = await sim.stats()
    for (const { jid } of crowd) expect(stats.perDevice?.[jid]).toMatchObject({ live: 1, maxConcurrent: 1 })
    expect(new Set(crowd.map((c) => c.jid)).size).toBe(10)
  })
})
