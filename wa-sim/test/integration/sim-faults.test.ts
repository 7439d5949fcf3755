import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SimHandle } from '../../src/index.js'
import { TestClient } from '../support/baileys-client.js'
import { linkedClient, startTestSimulator } from '../support/sim-fixture.js'

/** Reconnects a linked client and returns the status code its socket ends with. */
async function reconnectAndClose(
  client: TestClient,
  action?: () => Promise<unknown>,
): Promise<number | undefined> {
  const mark = client.updateCount()
  client.connect()
  if (action) {
    await client.waitForOpen(mark)
    await action()
  }
  return client.waitForClose(mark)
}

describe('faults and the codes Baileys reports', () => {
  let sim: SimHandle
  beforeAll(async () => {
    sim = await startTestSimulator({ phoneBootstrap: false })
  })
  afterAll(async () => {
    await sim.stop()
  })

  it('replaces the older socket on a second login (440) and counts it', async () => {
    const { client, jid } = await linkedClient(sim)
    const twin = new TestClient(sim.url, sim.rootPublicKey)
    Object.assign(twin.auth.state.creds, client.auth.state.creds)
    twin.auth.state.keys = client.auth.state.keys
    const mark = client.updateCount()
    twin.connect()
    await twin.waitForOpen()
    expect(await client.waitForClose(mark)).toBe(440)
    const stats = await sim.stats()
    expect(stats.perDevice?.[jid]).toMatchObject({ replaced: 1, maxConcurrent: 2, live: 1 })
    expect(stats.replaced).toBeGreaterThanOrEqual(1)
    twin.close()
  })

  it('device removed by the phone: 401 stream error, then 401 login failure', async () => {
    const { client, jid } = await linkedClient(sim)
    const mark = client.updateCount()
    await sim.removeDevice(jid)
    expect(await client.waitForClose(mark)).toBe(401)
    expect(await reconnectAndClose(client)).toBe(401)
    expect((await sim.stats()).perDevice?.[jid]?.loginFailures).toBe(1)
  })

  it('refuses logins with a code while the fault lasts', async () => {
    const { client } = await linkedClient(sim)
    await client.closeAndWait()
    try {
      await sim.setFaults({ refuseLogins: { code: 503 } })
      expect(await reconnectAndClose(client)).toBe(503)
      await sim.setFaults({ refuseLogins: { code: 403, forMs: 60_000 } })
      expect(await reconnectAndClose(client)).toBe(403)
    } finally {
      await sim.setFaults({ clear: true })
    }
    const mark = client.updateCount()
    client.connect()
    await client.waitForOpen(mark)
    client.close()
  })

  it('server close is 428, system-shutdown is 500, kick replaced is 440', async () => {
    const { client, jid } = await linkedClient(sim)
    const mark = client.updateCount()
    await sim.kick({ jid, mode: 'close' })
    expect(await client.waitForClose(mark)).toBe(428)
    expect(await reconnectAndClose(client, () => sim.kick({ jid, mode: 'system-shutdown' }))).toBe(500)
    expect(await reconnectAndClose(client, () => sim.kick({ jid, mode: 'replaced' }))).toBe(440)
  })

  it('silence past the keepalive ends with 408', async () => {
    const { client, jid } = await linkedClient(sim, undefined, { keepAliveIntervalMs: 1_000 })
    const mark = client.updateCount()
    const result = await sim.setFaults({ silence: { jid } })
    expect(result.silenced).toBe(1)
    expect(await client.waitForClose(mark, 20_000)).toBe(408)
    await sim.setFaults({ clear: true })
  })

  it('a frame delay still lets a client link and open', async () => {
    await sim.setFaults({ frameDelayMs: 30 })
    try {
      const { client } = await linkedClient(sim)
      expect(client.state.creds.me?.id).toBeTruthy()
      client.close()
    } finally {
      await sim.setFaults({ clear: true })
    }
  })

  it('validates fault input', async () => {
    const res = await fetch(`${sim.controlUrl}/faults`, {
      method: 'POST',
      body: JSON.stringify({ refuseLogins: { code: 'x' } }),
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/refuseLogins.code/)
    const unknown = await fetch(`${sim.controlUrl}/kick`, {
      method: 'POST',
      body: JSON.stringify({ pn: '6289999999999' }),
    })
    expect(unknown.status).toBe(404)
  })
})
