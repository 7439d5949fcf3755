import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { startSimulator } from '@wa-cluster/wa-sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { type Cluster, startCluster } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/wait.js'
import { openSse, type SseClient } from '../support/sse-client.js'

/**
 * The live stream across real processes: two control-planes and a session-node on one Postgres and a
 * private Redis, Baileys against wa-sim. Inbound messages are written by the session-node; the
 * streams are read from the control-plane that served none of the requests, and across a restart of
 * that control-plane. `GET /v1/events` is the oracle: same ids, same seq, nothing twice.
 */
describe.sequential('event stream across processes', () => {
  const contact = '6281300000077'
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let apiKey: string
  let viaFirst: WaClusterClient
  let session: { id: string; phone: string }
  let textCounter = 0
  const clients: { close(): void }[] = []

  const streamUrl = (index: number) => `${cluster.controlPlanes[index]!.url}/v1/events/stream`
  async function stream(index: number, query = '', headers: Record<string, string> = {}): Promise<SseClient> {
    const client = await openSse(`${streamUrl(index)}${query}`, { key: apiKey, headers })
    clients.push(client)
    expect(client.status).toBe(200)
    return client
  }

  /** Sends `count` inbound texts and waits until the outbox has them (listed through the first control-plane). */
  async function sendInbound(count: number): Promise<string[]> {
    const texts: string[] = []
    for (let index = 0; index < count; index++) {
      const text = `stream inbound ${++textCounter}`
      texts.push(text)
      expect((await sim.send({ from: contact, to: session.phone, text })).devices).toBe(1)
    }
    await eventually(`${count} inbound messages in the outbox`, async () => {
      const listedTexts = (await listAll()).flatMap((event) =>
        event.type === 'messages.upsert' ? event.data.messages.map((message: any) => message.text) : [],
      )
      return texts.every((text) => listedTexts.includes(text))
    })
    return texts
  }

  async function listAll(after?: string): Promise<any[]> {
    const all: any[] = []
    let cursor = after
    for (;;) {
      const { data } = await viaFirst.GET('/v1/events', {
        params: { query: { limit: 200, sessionId: session.id, ...(cursor ? { after: cursor } : {}) } },
      })
      all.push(...data!.data)
      if (!data!.nextCursor) return all
      cursor = data!.nextCursor
    }
  }

  const idsAndSeqs = (events: { id: string; seq: number }[]) =>
    events.map((event) => `${event.seq}:${event.id}`)

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    await sim.addContact({ pn: contact, name: 'Contact' })
    cluster = await startCluster({
      controlPlanes: 2,
      sessionNodes: 1,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: {
        BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn',
        STREAM_HEARTBEAT_MS: '200',
      },
    })
    const admin = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey: cluster.adminKey })
    apiKey = (await admin.POST('/v1/tenants', { body: { name: 'Stream tenant' } })).data!.apiKey
    viaFirst = createClient({ baseUrl: cluster.controlPlanes[0]!.url, apiKey })
    const created = (await viaFirst.POST('/v1/sessions', { body: { name: 'desk' } })).data!
    const connect = await viaFirst.POST('/v1/sessions/{sessionId}/connect', {
      params: { path: { sessionId: created.id } },
    })
    const phone = '6285710000077'
    await sim.scan({ qr: connect.data!.qr!, phone, pushName: 'Desk' })
    await eventually(
      'session CONNECTED',
      async () =>
        (await viaFirst.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId: created.id } } })).data
          ?.state === 'CONNECTED',
    )
    session = { id: created.id, phone }
  })

  afterAll(async () => {
    for (const client of clients) client.close()
    await cluster?.stop()
    await sim?.stop()
  })

  it("streams the session-node's events live on the other control-plane, as GET /v1/events lists them", async () => {
    const history = await listAll()
    const live = await stream(1, `?sessionId=${session.id}`)
    await live.ready()
    const texts = await sendInbound(3)
    await eventually('the inbound messages on the stream', () =>
      texts.every((text) =>
        live.events.some(
          (event) => event.data.type === 'messages.upsert' && event.data.data.messages[0].text === text,
        ),
      ),
    )
    const listed = await listAll(history.at(-1)?.id)
    await live.waitForEvents(listed.length)
    expect(idsAndSeqs(live.events.map((event) => event.data))).toEqual(idsAndSeqs(listed))
    // The whole history replays from the first event too, on either control-plane.
    const replay = await stream(0, `?sessionId=${session.id}&after=${history[0]!.id}`)
    await replay.ready()
    expect(idsAndSeqs(replay.events.map((event) => event.data))).toEqual(
      idsAndSeqs((await listAll()).slice(1)),
    )
    live.close()
    replay.close()
  })

  it('resumes after a dropped connection with no gap and no duplicate', async () => {
    const start = (await listAll()).at(-1)!.id
    const first = await stream(1, `?after=${start}`)
    await first.ready()
    await sendInbound(2)
    await first.waitForEvents(2)
    first.close()
    await first.ended
    await sendInbound(3)
    const resumed = await stream(1, `?after=${start}`, { 'last-event-id': first.events.at(-1)!.id })
    await resumed.ready()
    const received = [...first.events, ...resumed.events].map((event) => event.data)
    expect(idsAndSeqs(received)).toEqual(idsAndSeqs(await listAll(start)))
    resumed.close()
  })

  it('resumes after the control-plane restarts, with no gap and no duplicate', async () => {
    const start = (await listAll()).at(-1)!.id
    const before = await stream(1, `?after=${start}`)
    await before.ready()
    await sendInbound(2)
    await before.waitForEvents(2)
    await cluster.controlPlanes[1]!.process.stop('SIGKILL')
    await before.ended
    await sendInbound(3)
    await cluster.startControlPlane(1)
    const after = await stream(1, '', { 'last-event-id': before.events.at(-1)!.id })
    await after.ready()
    const received = [...before.events, ...after.events].map((event) => event.data)
    expect(idsAndSeqs(received)).toEqual(idsAndSeqs(await listAll(start)))
    // And it is live again on the restarted process.
    const texts = await sendInbound(1)
    await eventually('the next message on the restarted control-plane', () =>
      after.events.some(
        (event) => event.data.type === 'messages.upsert' && event.data.data.messages[0].text === texts[0],
      ),
    )
    after.close()
  })

  it('sends the same events over the WebSocket', async () => {
    const start = (await listAll()).at(-1)!.id
    const url = `${cluster.controlPlanes[1]!.url.replace('http', 'ws')}/v1/events/ws?after=${start}`
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${apiKey}` } })
    clients.push({ close: () => socket.terminate() })
    const messages: any[] = []
    socket.on('message', (data) => messages.push(JSON.parse(String(data))))
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    await sendInbound(2)
    const listed = await listAll(start)
    await eventually('the WebSocket events', () => messages.length >= listed.length)
    expect(idsAndSeqs(messages)).toEqual(idsAndSeqs(listed))
    expect(messages.map(({ delivery: _delivery, ...envelope }) => envelope)).toEqual(
      listed.map(({ delivery: _delivery, ...envelope }) => envelope),
    )
    socket.close()
  })
})
