import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { startSimulator } from '@wa-cluster/wa-sim'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cluster, linkSessionThroughApi, startCluster } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/wait.js'
import {
  type ReceivedEvent,
  startWebhookReceiver,
  type WebhookReceiver,
} from '../../../test-support/webhook-receiver.js'

/** A file of `size` bytes that starts with the magic bytes of its format. */
const fileOf = (magic: Buffer, size: number) => Buffer.concat([magic, randomBytes(size - magic.length)])
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const webp = (size: number) => {
  const header = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 ')])
  header.writeUInt32LE(size - 8, 4)
  return fileOf(header, size)
}
const FILES = {
  jpeg: () => fileOf(Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 40_000),
  mp4: () => fileOf(Buffer.from('00000018667479706d703432', 'hex'), 300_000),
  ogg: () => fileOf(Buffer.from('OggS'), 20_000),
  pdf: () => fileOf(Buffer.from('%PDF-1.7\n'), 120_000),
  webp: () => webp(30_000),
}

/**
 * Media both ways through the cluster: one session sends every media type to another session of the
 * same tenant on one wa-sim (base64 in JSON, a URL the gateway fetches, a multipart upload), the other
 * receives it through its webhook and serves the identical bytes; a contact's phone sends a photo; bad
 * input is refused with the field and stores nothing.
 */
describe.sequential('media messages through the cluster', () => {
  const senderPhone = '6285720000301'
  const receiverPhone = '6285720000302'
  const contact = '6281320000301'
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let hooks: WebhookReceiver
  let tenant: WaClusterClient
  let tenantKey: string
  let other: WaClusterClient
  let baseUrl: string
  let sender: string
  let receiver: string
  let files: http.Server
  let filesUrl: string
  const served = new Map<string, Buffer>()
  /** How many times each path of the file server was fetched. */
  const fetched = new Map<string, number>()
  const audience = ['6281320000311', '6281320000312', '6281320000313']

  const upsertWith = (sessionId: string, digest: string) => (event: ReceivedEvent) =>
    event.type === 'messages.upsert' &&
    event.sessionId === sessionId &&
    event.data.messages.some((message) => message.media?.sha256 === digest)

  /** The stored inbound message of `sessionId` whose file has this hash. */
  const receivedMessage = async (sessionId: string, digest: string) => {
    const page = await tenant.GET('/v1/sessions/{sessionId}/messages', {
      params: { path: { sessionId }, query: { direction: 'in' } },
    })
    const found = page.data!.data.find((message) => message.media?.sha256 === digest)
    if (!found) throw new Error(`no received message with file ${digest}`)
    return found
  }
  const download = async (sessionId: string, messageId: string, key = tenantKey) => {
    const response = await fetch(`${baseUrl}/v1/sessions/${sessionId}/messages/${messageId}/media`, {
      headers: { authorization: `Bearer ${key}` },
    })
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: Buffer.from(await response.arrayBuffer()),
    }
  }
  const sendJson = (body: Record<string, unknown>, sessionId = sender) =>
    fetch(`${baseUrl}/v1/sessions/${sessionId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenantKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const sendMultipart = (
    fields: Record<string, string>,
    file?: { bytes: Buffer; name: string; type: string },
    headers: Record<string, string> = {},
  ) => {
    const form = new FormData()
    for (const [name, value] of Object.entries(fields)) form.append(name, value)
    if (file) form.append('file', new Blob([file.bytes], { type: file.type }), file.name)
    return fetch(`${baseUrl}/v1/sessions/${sender}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenantKey}`, ...headers },
      body: form,
    })
  }
  /** Checks that the receiver got the file through its webhook and serves the same bytes. */
  const expectReceived = async (bytes: Buffer, expected: Record<string, unknown>) => {
    const digest = sha256(bytes)
    const event = await hooks.waitFor(`upsert of ${digest.slice(0, 8)}`, upsertWith(receiver, digest))
    const item = event.type === 'messages.upsert' ? event.data.messages[0]! : undefined
    expect(item).toMatchObject({ ...expected, media: { size: bytes.length, sha256: digest } })
    const stored = await receivedMessage(receiver, digest)
    const downloaded = await download(receiver, stored.id)
    expect(downloaded.status).toBe(200)
    expect(downloaded.type).toBe((expected.media as { mimeType: string }).mimeType)
    expect(downloaded.body.equals(bytes)).toBe(true)
    return stored
  }

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    await sim.addContact({ pn: contact, name: 'Dewi' })
    hooks = await startWebhookReceiver()
    for (const [index, pn] of audience.entries()) await sim.addContact({ pn, name: `Pasien ${index + 1}` })
    files = http.createServer((request, response) => {
      fetched.set(request.url ?? '', (fetched.get(request.url ?? '') ?? 0) + 1)
      const file = served.get(request.url ?? '')
      if (!file) return response.writeHead(404).end()
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(file)
    })
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve))
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`
    cluster = await startCluster({
      controlPlanes: 1,
      sessionNodes: 1,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: { WA_MEDIA_CA: sim.mediaCa, BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'error' },
    })
    baseUrl = cluster.controlPlanes[0]!.url
    const admin = createClient({ baseUrl, apiKey: cluster.adminKey })
    tenantKey = (await admin.POST('/v1/tenants', { body: { name: 'Clinic' } })).data!.apiKey
    tenant = createClient({ baseUrl, apiKey: tenantKey })
    other = createClient({
      baseUrl,
      apiKey: (await admin.POST('/v1/tenants', { body: { name: 'Someone else' } })).data!.apiKey,
    })
    hooks.setSecret((await tenant.PUT('/v1/webhook', { body: { url: hooks.url } })).data!.secret)
    sender = (await linkSessionThroughApi(tenant, sim, senderPhone)).id
    receiver = (await linkSessionThroughApi(tenant, sim, receiverPhone)).id
  })

  afterAll(async () => {
    await cluster?.stop()
    await hooks?.close()
    await sim?.stop()
    files?.close()
  })

  it('sends an image and a document as base64; the other session receives them with identical bytes', async () => {
    const image = FILES.jpeg()
    const accepted = await sendJson({
      to: receiverPhone,
      type: 'image',
      caption: 'Hasil rontgen',
      media: { data: image.toString('base64') },
    })
    expect(accepted.status).toBe(202)
    const message = (await accepted.json()) as Record<string, unknown>
    // Echoed as sent, without the bytes: the sniffed type, the size and the hash.
    expect(message).toMatchObject({
      type: 'image',
      caption: 'Hasil rontgen',
      media: { mimeType: 'image/jpeg', size: image.length, sha256: sha256(image) },
    })
    expect(JSON.stringify(message)).not.toContain(image.toString('base64').slice(0, 100))
    await expectReceived(image, {
      type: 'image',
      caption: 'Hasil rontgen',
      media: { mimeType: 'image/jpeg' },
    })

    const pdf = FILES.pdf()
    const document = await sendJson({
      to: receiverPhone,
      type: 'document',
      caption: 'Invoice Mei',
      media: { data: pdf.toString('base64'), fileName: 'invoice-mei.pdf' },
    })
    expect(document.status).toBe(202)
    const stored = await expectReceived(pdf, {
      type: 'document',
      media: { mimeType: 'application/pdf', fileName: 'invoice-mei.pdf' },
    })
    expect(stored.media?.fileName).toBe('invoice-mei.pdf')
    // The sent file is gone from storage once the message is settled.
    await eventually('media pieces deleted', async () => {
      const [row] = await cluster.database.handle.rows<{ count: number }>(
        sql`SELECT count(*)::int AS count FROM media_chunks`,
      )
      return row!.count === 0
    })
  })

  it('sends a video by URL, a voice note and a sticker as multipart', async () => {
    const video = FILES.mp4()
    served.set('/clip.mp4', video)
    const byUrl = await sendJson({
      to: receiverPhone,
      type: 'video',
      caption: 'Senam pagi',
      media: { url: `${filesUrl}/clip.mp4` },
    })
    expect(byUrl.status).toBe(202)
    await expectReceived(video, { type: 'video', caption: 'Senam pagi', media: { mimeType: 'video/mp4' } })

    const voice = FILES.ogg()
    const sendNote = () =>
      sendMultipart(
        { to: receiverPhone, type: 'audio', voiceNote: 'true' },
        { bytes: voice, name: 'note.ogg', type: 'audio/ogg; codecs=opus' },
        { 'idempotency-key': 'voice-note-1' },
      )
    const note = await sendNote()
    expect(note.status).toBe(202)
    const noted = (await note.json()) as { id: string }
    expect(noted).toMatchObject({ type: 'audio', voiceNote: true, media: { mimeType: 'audio/ogg' } })
    // A retry with the same key and file is the same message; its upload is not kept.
    const again = await sendNote()
    expect(again.status).toBe(202)
    expect(((await again.json()) as { id: string }).id).toBe(noted.id)
    await expectReceived(voice, { type: 'audio', voiceNote: true, media: { mimeType: 'audio/ogg' } })

    const sticker = FILES.webp()
    const stuck = await sendMultipart(
      { to: receiverPhone, type: 'sticker' },
      { bytes: sticker, name: 'smile.webp', type: 'image/webp' },
    )
    expect(stuck.status).toBe(202)
    await expectReceived(sticker, { type: 'sticker', media: { mimeType: 'image/webp' } })
  })

  it("receives a contact's photo and its caption; another tenant gets 404 for its media", async () => {
    const photo = FILES.jpeg()
    await sim.send({
      from: contact,
      to: receiverPhone,
      media: { type: 'image', data: photo.toString('base64'), mimeType: 'image/jpeg', caption: 'Foto KTP' },
    })
    const stored = await expectReceived(photo, {
      type: 'image',
      caption: 'Foto KTP',
      media: { mimeType: 'image/jpeg' },
    })
    const foreign = await other.GET('/v1/sessions/{sessionId}/messages/{messageId}/media', {
      params: { path: { sessionId: receiver, messageId: stored.id } },
      parseAs: 'arrayBuffer',
    })
    expect(foreign.response.status).toBe(404)
  })

  it("a contact's phone decrypts what a session sent: the inbox shows the file", async () => {
    const pdf = FILES.pdf()
    const sent = await sendJson({
      to: contact,
      type: 'document',
      media: { data: pdf.toString('base64'), fileName: 'resep.pdf', mimeType: 'application/pdf' },
    })
    expect(sent.status).toBe(202)
    const inbox = await eventually('the contact decrypted the document', async () =>
      (await sim.inbox(contact)).find((message) => message.media?.sha256 === sha256(pdf)),
    )
    expect(inbox.media).toEqual({
      type: 'document',
      mimeType: 'application/pdf',
      size: pdf.length,
      sha256: sha256(pdf),
      fileName: 'resep.pdf',
    })

    // The contact's phone lost its session and asks again, after the file's pieces were deleted and the
    // node restarted: the gateway answers with the upload it kept, and the phone decrypts the same file.
    const messageId = ((await sent.json()) as { id: string }).id
    await eventually('the file deleted once sent', async () => {
      const [row] = await cluster.database.handle.rows<{ pieces: number }>(
        sql`SELECT count(*)::int AS pieces FROM media_chunks WHERE message_id = ${messageId}`,
      )
      return row?.pieces === 0
    })
    // A restart of the node empties Baileys' own cache of recent messages: only the row can answer.
    await cluster.node('node-1').stop('SIGTERM')
    await cluster.startNode('node-1')
    await eventually(
      'the sender CONNECTED again',
      async () =>
        (await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId: sender } } })).data
          ?.state === 'CONNECTED',
      60_000,
    )
    const failuresBefore = (await sim.stats()).decryptFailures
    expect((await sim.requestRetry({ from: contact, id: inbox.id })).requested).toBe(1)
    const copies = await eventually('the document decrypted again from the kept upload', async () => {
      const found = (await sim.inbox(contact)).filter((message) => message.id === inbox.id)
      return found.length === 2 ? found : undefined
    })
    expect(copies[1]!.media).toEqual(inbox.media)
    expect((await sim.stats()).decryptFailures).toBe(failuresBefore)
    // What was kept of the upload (the file's key among it) is never shown.
    const view = await tenant.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: sender, messageId } },
    })
    expect(view.data).toMatchObject({ id: messageId, type: 'document' })
    expect(view.data).not.toHaveProperty('uploaded')
  })

  it('a broadcast of a media template fetches its file once; every recipient decrypts it with its own caption', async () => {
    const poster = FILES.jpeg()
    served.set('/poster.jpg', poster)
    const template = await tenant.PUT('/v1/templates/{name}', {
      params: { path: { name: 'vaccination_poster' } },
      body: {
        type: 'image',
        body: 'Jadwal vaksin {{name}}: {{day}}',
        media: { url: `${filesUrl}/poster.jpg` },
      },
    })
    expect(template.response.status).toBe(201)
    expect(template.data).toMatchObject({ type: 'image', variables: ['name', 'day'] })
    const created = await tenant.POST('/v1/sessions/{sessionId}/broadcasts', {
      params: { path: { sessionId: sender } },
      body: {
        template: 'vaccination_poster',
        delayMs: 1000,
        recipients: audience.map((to, index) => ({
          to,
          variables: { name: `Pasien ${index + 1}`, day: 'Senin' },
        })),
      },
    })
    expect(created.response.status).toBe(202)
    const broadcastId = created.data!.id
    const inboxes = await eventually(
      'every recipient decrypted the poster',
      async () => {
        const found = await Promise.all(
          audience.map(async (pn) =>
            (await sim.inbox(pn)).find((message) => message.media?.sha256 === sha256(poster)),
          ),
        )
        return found.every(Boolean) ? found.map((message) => message!) : undefined
      },
      30_000,
    )
    inboxes.forEach((message, index) => {
      expect(message.media).toEqual({
        type: 'image',
        mimeType: 'image/jpeg',
        size: poster.length,
        sha256: sha256(poster),
      })
      expect(message.text).toBe(`Jadwal vaksin Pasien ${index + 1}: Senin`)
    })
    // Fetched once for the whole broadcast, stored once, and deleted once the broadcast completed.
    expect(fetched.get('/poster.jpg')).toBe(1)
    await eventually('the broadcast completed and its file deleted', async () => {
      const broadcast = await tenant.GET('/v1/broadcasts/{broadcastId}', {
        params: { path: { broadcastId } },
      })
      const [row] = await cluster.database.handle.rows<{ pieces: number }>(
        sql`SELECT count(*)::int AS pieces FROM media_chunks WHERE starts_with(message_id, ${`${broadcastId}/`})`,
      )
      return (
        broadcast.data?.status === 'completed' && broadcast.data.sent === audience.length && row?.pieces === 0
      )
    })
    const recipients = await tenant.GET('/v1/broadcasts/{broadcastId}/recipients', {
      params: { path: { broadcastId } },
    })
    const first = await tenant.GET('/v1/sessions/{sessionId}/messages/{messageId}', {
      params: { path: { sessionId: sender, messageId: recipients.data!.data[0]!.messageId } },
    })
    expect(first.data).toMatchObject({
      type: 'image',
      caption: 'Jadwal vaksin Pasien 1: Senin',
      media: { mimeType: 'image/jpeg', size: poster.length, sha256: sha256(poster) },
    })
    expect(first.data).not.toHaveProperty('mediaFile')

    // A single send of the template fetches it again; a file that is gone is the template's refusal.
    const single = await sendJson({
      to: contact,
      template: 'vaccination_poster',
      variables: { name: 'Dewi', day: 'Selasa' },
    })
    expect(single.status).toBe(202)
    await eventually('the contact decrypted the poster', async () =>
      (await sim.inbox(contact)).find(
        (message) =>
          message.media?.sha256 === sha256(poster) && message.text === 'Jadwal vaksin Dewi: Selasa',
      ),
    )
    expect(fetched.get('/poster.jpg')).toBe(2)
    served.delete('/poster.jpg')
    const gone = await sendJson({
      to: contact,
      template: 'vaccination_poster',
      variables: { name: 'Dewi', day: 'Rabu' },
    })
    expect(gone.status).toBe(400)
    expect(((await gone.json()) as { error: { message: string } }).error.message).toBe(
      'body.template vaccination_poster: its media.url could not be fetched: it answered 404',
    )
  })

  it('refuses bad media with the field and the reason, storing nothing', async () => {
    const before = await cluster.database.handle.rows<{ count: number }>(
      sql`SELECT count(*)::int AS count FROM messages`,
    )
    const refusal = async (response: Response) => ({
      status: response.status,
      error: ((await response.json()) as { error: { code: string; message: string } }).error,
    })
    // A PDF is not an image.
    expect(
      await refusal(
        await sendJson({ to: contact, type: 'image', media: { data: FILES.pdf().toString('base64') } }),
      ),
    ).toMatchObject({
      status: 400,
      error: {
        message: expect.stringMatching(/^body\.media\.mimeType application\/pdf cannot be sent as image/),
      },
    })
    // Over WhatsApp's limit for the type: 413 naming it.
    const big = fileOf(Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 5 * 1024 * 1024 + 1)
    expect(
      await refusal(await sendJson({ to: contact, type: 'image', media: { data: big.toString('base64') } })),
    ).toMatchObject({
      status: 413,
      error: {
        code: 'payload_too_large',
        message: "body.media.data must be at most 5 MB for image (WhatsApp's limit)",
      },
    })
    expect(
      await refusal(
        await sendMultipart(
          { to: contact, type: 'sticker' },
          { bytes: webp(600 * 1024), name: 's.webp', type: 'image/webp' },
        ),
      ),
    ).toMatchObject({
      status: 413,
      error: { message: "file must be at most 500 KB for sticker (WhatsApp's limit)" },
    })
    // A private address the operator did not allow.
    expect(
      await refusal(await sendJson({ to: contact, type: 'image', media: { url: 'http://10.1.2.3/x.jpg' } })),
    ).toMatchObject({
      status: 400,
      error: {
        message: expect.stringMatching(
          /^body\.media\.url must not target a private network \(private address\)/,
        ),
      },
    })
    // A URL that does not answer 200.
    expect(
      await refusal(
        await sendJson({ to: contact, type: 'image', media: { url: `${filesUrl}/missing.jpg` } }),
      ),
    ).toMatchObject({
      status: 400,
      error: { message: 'body.media.url could not be fetched: it answered 404' },
    })
    expect(
      await refusal(await sendJson({ to: contact, type: 'image', media: { data: 'not base64!' } })),
    ).toMatchObject({ status: 400, error: { message: 'body.media.data is not valid base64' } })
    expect(await refusal(await sendJson({ to: contact, type: 'image' }))).toMatchObject({
      status: 400,
      error: { message: 'body.media is required when type is image' },
    })
    expect(await refusal(await sendMultipart({ to: contact, type: 'image' }))).toMatchObject({
      status: 400,
      error: { message: expect.stringMatching(/^file is required/) },
    })
    expect(
      await refusal(
        await sendJson({
          to: contact,
          type: 'audio',
          caption: 'x',
          media: { data: FILES.ogg().toString('base64') },
        }),
      ),
    ).toMatchObject({
      status: 400,
      error: { message: 'body.caption is only allowed on an image, a video or a document' },
    })
    const after = await cluster.database.handle.rows<{ count: number }>(
      sql`SELECT count(*)::int AS count FROM messages`,
    )
    expect(after[0]!.count).toBe(before[0]!.count)
    const [chunks] = await cluster.database.handle.rows<{ count: number }>(
      sql`SELECT count(*)::int AS count FROM media_chunks`,
    )
    expect(chunks!.count).toBe(0)
  })
})
