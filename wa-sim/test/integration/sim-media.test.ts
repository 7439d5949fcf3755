import { createHash, randomBytes } from 'node:crypto'
import { Agent as HttpsAgent, request } from 'node:https'
import { downloadMediaMessage } from '@whiskeysockets/baileys'
import { Agent } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../../../test-support/wait.js'
import type { SimHandle } from '../../src/index.js'
import type { TestClient } from '../support/baileys-client.js'
import { linkedClient, newPhone, startTestSimulator } from '../support/sim-fixture.js'

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')
const jpeg = () => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(30_000)])

describe('the media server and the phones’ media', () => {
  let sim: SimHandle
  let session: { client: TestClient; phone: string; jid: string }
  const contact = newPhone()
  beforeAll(async () => {
    sim = await startTestSimulator()
    session = await linkedClient(sim, newPhone(), { fetchAgent: new HttpsAgent({ ca: sim.mediaCa }) })
    await sim.addContact({ pn: contact, name: 'Alice' })
  })
  afterAll(async () => {
    session.client.close()
    await sim.stop()
  })

  it('takes an upload over HTTPS from a client that trusts its CA; the contact decrypts the image', async () => {
    const image = jpeg()
    const sent = await session.client.sock!.sendMessage(`${contact}@s.whatsapp.net`, {
      image,
      mimetype: 'image/jpeg',
      caption: 'KTP',
    })
    expect(sent?.message?.imageMessage?.url).toMatch(new RegExp(`^https://${sim.mediaHost}/`))
    const received = await eventually('the contact decrypted the image', async () =>
      (await sim.inbox(contact)).find((message) => message.id === sent?.key.id),
    )
    expect(received).toMatchObject({
      text: 'KTP',
      media: { type: 'image', mimeType: 'image/jpeg', size: image.length, sha256: sha256(image) },
    })
  })

  it("sends a contact's document that the client downloads and decrypts", async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(50_000)])
    const { id } = await sim.send({
      from: contact,
      to: session.phone,
      media: {
        type: 'document',
        data: pdf.toString('base64'),
        mimeType: 'application/pdf',
        fileName: 'a.pdf',
      },
    })
    await session.client.waitFor(
      () => !!session.client.events['messages.upsert']?.some((u) => u.messages.some((m) => m.key.id === id)),
      'document',
    )
    const message = session.client.events['messages.upsert']!.flatMap((u) => u.messages).find(
      (m) => m.key.id === id,
    )!
    expect(message.message?.documentMessage?.fileName).toBe('a.pdf')
    const dispatcher = new Agent({ connect: { ca: sim.mediaCa } })
    const bytes = await downloadMediaMessage(message, 'buffer', { options: { dispatcher } as never })
    expect(sha256(bytes)).toBe(sha256(pdf))
  })

  it('is not trusted without its CA, and refuses an upload whose token is not its hash', async () => {
    const untrusted = await new Promise<string>((resolve) => {
      request(`https://${sim.mediaHost}/mms/image/abc`, { method: 'POST' }, () => resolve('answered'))
        .on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message))
        .end('x')
    })
    expect(untrusted).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE')
    const status = await new Promise<number>((resolve, reject) => {
      request(
        `https://${sim.mediaHost}/mms/image/not-the-hash`,
        { method: 'POST', ca: sim.mediaCa },
        (response) => resolve(response.statusCode ?? 0),
      )
        .on('error', reject)
        .end(randomBytes(100))
    })
    expect(status).toBe(400)
  })
})
