import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOutboundPolicy, generateWebhookSecret, type OutboundPolicy } from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import { createSecretBox, type InboundMessage, newId, type SecretBox } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import pino from 'pino'

// Shared by the outbox and webhook integration tests: tenants, sessions and webhooks written straight
// to the tables, and a real HTTP receiver on loopback.

export const silentLogger = pino({ level: 'silent' })

/**
 * ALLOW_PRIVATE_NETWORKS for every test process: receivers listen on this machine, which the outbound
 * guard refuses by default. Tests of the guard itself use their own, stricter setting.
 */
export const TEST_ALLOW_PRIVATE_NETWORKS = '127.0.0.0/8,::1/128,localhost'

/** The outbound guard as the test processes run it (loopback allowed). */
export const testOutboundPolicy: OutboundPolicy = createOutboundPolicy(TEST_ALLOW_PRIVATE_NETWORKS)

export function createTestSecretBox(): SecretBox {
  return createSecretBox(randomBytes(32))
}

export async function seedTenant(database: DatabaseHandle): Promise<string> {
  const tenantId = newId('ten')
  await database.rows(sql`INSERT INTO tenants (id, name) VALUES (${tenantId}, ${tenantId})`)
  return tenantId
}

export async function seedSession(database: DatabaseHandle, tenantId: string, epoch = 1): Promise<string> {
  const sessionId = newId('ses')
  await database.rows(
    sql`INSERT INTO sessions (id, tenant_id, name, epoch) VALUES (${sessionId}, ${tenantId}, 'test', ${epoch})`,
  )
  return sessionId
}

/** Stores a webhook the way the control-plane does (sealed secret) and returns the plain secret. */
export async function seedWebhook(
  database: DatabaseHandle,
  secretBox: SecretBox,
  input: { tenantId: string; url: string; events?: string[] | null },
): Promise<string> {
  const secret = generateWebhookSecret()
  const sealed = secretBox.seal(Buffer.from(secret), `webhook:${input.tenantId}`)
  const events = input.events ? JSON.stringify(input.events) : null
  await database.rows(sql`
    INSERT INTO webhooks (tenant_id, url, events, secret_sealed)
    VALUES (${input.tenantId}, ${input.url}, ${events}::jsonb, ${sealed})`)
  return secret
}

export type Received = { body: string; headers: Record<string, string>; answered: number | 'hung' }

/** What the receiver does with a request: answer with a status, or never answer. */
export type Respond = (request: {
  body: string
  headers: IncomingHttpHeaders
  index: number
}) => number | 'hang'

export type Receiver = {
  url: string
  /** Every request, in arrival order, with what it was answered. */
  received: Received[]
  /** Bodies of requests answered 2xx, parsed, in arrival order. */
  acknowledged(): { id: string; sessionId: string; seq: number; type: string }[]
  respond: Respond
  close(): Promise<void>
}

export async function startReceiver(respond: Respond = () => 200): Promise<Receiver> {
  const received: Received[] = []
  const receiver: Receiver = {
    url: '',
    received,
    respond,
    acknowledged: () =>
      received
        .filter((item) => typeof item.answered === 'number' && item.answered < 300)
        .map((item) => JSON.parse(item.body)),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
      )
      const answer = receiver.respond({ body, headers: request.headers, index: received.length })
      received.push({ body, headers, answered: answer === 'hang' ? 'hung' : answer })
      if (answer === 'hang') return
      response.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'nope')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  return receiver
}

/** Polls until `check` holds; fails with `what` after `timeoutMs` (a guard, not a timing assertion). */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

export async function deliveryCounts(
  database: DatabaseHandle,
  tenantId: string,
): Promise<Record<string, number>> {
  const rows = await database.rows<{ delivery: string; count: number | string }>(
    sql`SELECT delivery, count(*) AS count FROM events WHERE tenant_id = ${tenantId} GROUP BY delivery`,
  )
  return Object.fromEntries(rows.map((row) => [row.delivery, Number(row.count)]))
}

/**
 * A received text message as an outbox `messages.upsert` carries it, for tests and benches that append
 * straight to the outbox (as a session-node's append does).
 */
export function receivedText(
  waMessageId: string,
  text: string,
  from = '6281300000001@s.whatsapp.net',
): InboundMessage {
  return {
    id: waMessageId,
    waMessageId,
    chatId: from,
    from,
    fromMe: false,
    timestamp: 1_700_000_000,
    type: 'text',
    text,
  }
}
