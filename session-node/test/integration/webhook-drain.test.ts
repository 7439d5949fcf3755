import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { appendEvent, endpointSealingContext, generateWebhookSecret, listEvents } from '@wa-cluster/core'
import { newId } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import {
  createTestSecretBox,
  seedSession,
  seedTenant,
  seedWebhook,
  silentLogger,
  testOutboundPolicy,
  waitUntil,
} from '../../../test-support/seed.js'
import { createWebhookDispatcher } from '../../src/webhooks/dispatcher.js'

// Issue 13, "a clean restart delivers twice": a receiver that answers while the process is stopping
// must see its answer recorded, not the event handed back and sent again after the restart.

/** A receiver that holds every request until the test answers it. */
async function startHoldingReceiver() {
  const held: ServerResponse[] = []
  const server = createServer((request, response) => {
    request.resume()
    request.on('end', () => held.push(response))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    held,
    answerAll(status: number) {
      for (const response of held.splice(0)) response.writeHead(status).end()
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

describe('webhook dispatcher stop drains what is in flight', () => {
  let test: TestDatabase
  const secretBox = createTestSecretBox()

  beforeAll(async () => {
    test = await createTestDatabase('webhook_drain')
  })
  afterAll(async () => {
    await test?.drop()
  })

  it('records an answer that arrives while stopping: delivered once, attempts counted', async () => {
    const receiver = await startHoldingReceiver()
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    await seedWebhook(test.handle, secretBox, { tenantId, url: receiver.url })
    // An endpoint of /v1/webhooks on the same receiver: its delivery row must be drained the same way.
    const endpointId = newId('whe')
    const sealed = secretBox.seal(
      Buffer.from(generateWebhookSecret()),
      endpointSealingContext(tenantId, endpointId),
    )
    await test.handle.rows(sql`
      INSERT INTO webhook_endpoints (id, tenant_id, url, secret_sealed)
      VALUES (${endpointId}, ${tenantId}, ${receiver.url}, ${sealed})`)

    const dispatcher = createWebhookDispatcher({
      database: test.handle,
      secretBox,
      logger: silentLogger,
      outboundPolicy: testOutboundPolicy,
      options: { requestTimeoutMs: 60_000, pollIntervalMs: 20 },
    })
    await dispatcher.start()
    try {
      const event = await appendEvent(test.handle.db, {
        sessionId,
        type: 'connection.update',
        data: { state: 'CONNECTING', previousState: 'DISCONNECTED' },
      })
      dispatcher.notify()
      await waitUntil('both requests are at the receiver', () => receiver.held.length === 2)

      const stopping = dispatcher.stop()
      receiver.answerAll(204)
      await stopping

      const [listed] = (await listEvents(test.handle.db, { tenantId, limit: 1 })).data
      expect(listed?.id).toBe(event.id)
      expect(listed?.delivery).toMatchObject({ status: 'delivered', attempts: 1 })
      const [endpointDelivery] = await test.handle.rows<{ status: string; attempts: number }>(
        sql`SELECT status, attempts FROM webhook_deliveries WHERE endpoint_id = ${endpointId}`,
      )
      expect(endpointDelivery).toEqual({ status: 'delivered', attempts: 1 })
    } finally {
      await dispatcher.stop()
      await receiver.close()
    }
  })
})
