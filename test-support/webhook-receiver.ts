import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { SessionState, WebhookEvent } from '@wa-cluster/client'
import { Webhook } from 'standardwebhooks'
import { eventually } from './processes.js'

/** A delivery as the receiver recorded it: the documented body, narrowed by `type`. */
export type ReceivedEvent = WebhookEvent & { receivedAt: number; verified: boolean }

/**
 * A tenant's webhook endpoint for tests: verifies every delivery with the stock Standard Webhooks
 * verifier, records events (de-duplicated by id, as a receiver should), and can be told to fail.
 */
export async function startWebhookReceiver() {
  let secret: string | undefined
  let failing: number | 'timeout' | undefined
  const events: ReceivedEvent[] = []
  const seen = new Set<string>()
  let deliveries = 0
  let rejected = 0
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      deliveries++
      if (failing === 'timeout') return // never answer: the dispatcher's timeout must fire
      if (typeof failing === 'number') {
        response.writeHead(failing).end('failing on purpose')
        return
      }
      const body = Buffer.concat(chunks).toString('utf8')
      let verified = false
      try {
        if (secret) {
          new Webhook(secret).verify(body, request.headers as Record<string, string>)
          verified = true
        }
      } catch {
        rejected++
        response.writeHead(400).end('bad signature')
        return
      }
      const event = JSON.parse(body) as WebhookEvent
      if (!seen.has(event.id)) {
        seen.add(event.id)
        events.push({ ...event, receivedAt: Date.now(), verified })
      }
      response.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    events,
    get deliveries() {
      return deliveries
    },
    get rejected() {
      return rejected
    },
    setSecret(value: string) {
      secret = value
    },
    /** Answer every delivery with this status (or never answer) until `recover()`. */
    fail(mode: number | 'timeout') {
      failing = mode
    },
    recover() {
      failing = undefined
    },
    /** Waits for an event matching `predicate` and returns it. */
    waitFor(
      what: string,
      predicate: (event: ReceivedEvent) => boolean,
      timeoutMs = 30_000,
    ): Promise<ReceivedEvent> {
      return eventually(what, () => events.find(predicate), timeoutMs, 25)
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>

/** Shorthand: a `connection.update` event of `sessionId` reaching `state`. */
export const connectionState = (sessionId: string, state: SessionState) => (event: ReceivedEvent) =>
  event.type === 'connection.update' && event.sessionId === sessionId && event.data.state === state

/** Shorthand: a `messages.upsert` event carrying an inbound message with this text. */
export const inboundText = (text: string) => (event: ReceivedEvent) =>
  event.type === 'messages.upsert' && event.data.messages.some((message) => message.text === text)
