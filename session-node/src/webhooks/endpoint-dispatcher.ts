import {
  endpointRequestHeaders,
  endpointSealingContext,
  postWebhook,
  toEventEnvelope,
} from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import type { SecretBox } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Agent } from 'undici'
import { SKIP_WAL_FLUSH } from './skip-wal-flush.js'

/**
 * Delivers `webhook_deliveries`: one row per (event, endpoint) for the endpoints of /v1/webhooks. The
 * same rules as the default endpoint's delivery on the event row, kept simpler:
 *
 * - A claim is one statement (`FOR UPDATE SKIP LOCKED`) that counts the attempt and pushes
 *   `next_attempt_at` forward as a lease; a crashed process's claims come back when it ends. Every
 *   later write is fenced by the attempt number.
 * - Order: only the head of each (endpoint, session) queue is claimable (no earlier pending delivery
 *   of the same endpoint and session), so one endpoint sees a session's events in seq order, and a
 *   failing endpoint holds back only its own queue, never another endpoint's.
 * - Deliveries of a disabled endpoint stay pending until it is enabled again.
 */

export type EndpointDeliveryOptions = {
  maxAttempts: number
  requestTimeoutMs: number
  claimLeaseMs: number
  claimBatchSize: number
  maxInFlight: number
  retryDelayMs(attempt: number): number
}

type ClaimedDelivery = {
  event_id: string
  endpoint_id: string
  attempts: number | string
  type: string
  tenant_id: string
  session_id: string
  seq: number | string
  data: unknown
  occurred_at: string
  url: string
  headers: unknown
  hub_signature: boolean
  secret_sealed: Uint8Array
  previous_secret_sealed: Uint8Array | null
  previous_secret_valid: boolean | null
}

function jsonValue<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T
}

export type EndpointDeliveries = {
  /** Claims what is due and sends it; resolves when the claim is made (sends run on). */
  claimAndSend(): Promise<void>
  /** Sends in flight (the dispatcher waits for them when it stops). */
  readonly inFlight: Set<Promise<void>>
}

export function createEndpointDeliveries(deps: {
  database: DatabaseHandle
  secretBox: SecretBox
  logger: Logger
  agent(): Agent
  running(): boolean
  stopSignal(): AbortSignal
  onSettled(): void
  /** Counts each attempt's outcome (the dispatcher's wa_webhook_deliveries_total). */
  onOutcome?(outcome: 'delivered' | 'failed' | 'dead'): void
  options: EndpointDeliveryOptions
}): EndpointDeliveries {
  const { database, secretBox, logger, options } = deps
  const inFlight = new Set<Promise<void>>()

  async function claim(limit: number): Promise<ClaimedDelivery[]> {
    return database.rows<ClaimedDelivery>(sql`
      WITH due AS (
        SELECT d.event_id, d.endpoint_id FROM webhook_deliveries d
        JOIN webhook_endpoints endpoint ON endpoint.id = d.endpoint_id AND endpoint.enabled
        WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND ${SKIP_WAL_FLUSH}
          AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries earlier
            WHERE earlier.endpoint_id = d.endpoint_id AND earlier.session_id = d.session_id
              AND earlier.status = 'pending' AND earlier.seq < d.seq)
        ORDER BY d.next_attempt_at, d.seq
        LIMIT ${limit}
        FOR UPDATE OF d SKIP LOCKED
      ), claimed AS (
        UPDATE webhook_deliveries SET attempts = webhook_deliveries.attempts + 1,
          next_attempt_at = now() + ${options.claimLeaseMs} * interval '1 millisecond'
        FROM due
        WHERE webhook_deliveries.event_id = due.event_id AND webhook_deliveries.endpoint_id = due.endpoint_id
        RETURNING webhook_deliveries.event_id, webhook_deliveries.endpoint_id, webhook_deliveries.attempts
      )
      SELECT c.event_id, c.endpoint_id, c.attempts, e.type, e.tenant_id, e.session_id, e.seq, e.data,
        to_json(e.occurred_at) #>> '{}' AS occurred_at,
        endpoint.url, endpoint.headers, endpoint.hub_signature, endpoint.secret_sealed,
        endpoint.previous_secret_sealed, endpoint.previous_secret_expires_at > now() AS previous_secret_valid
      FROM claimed c
      JOIN events e ON e.id = c.event_id
      JOIN webhook_endpoints endpoint ON endpoint.id = c.endpoint_id`)
  }

  function open(sealed: Uint8Array, row: ClaimedDelivery): string {
    return secretBox.open(sealed, endpointSealingContext(row.tenant_id, row.endpoint_id)).toString('utf8')
  }

  async function send(row: ClaimedDelivery): Promise<void> {
    const attempt = Number(row.attempts)
    let result: Awaited<ReturnType<typeof postWebhook>>
    try {
      const secret = open(row.secret_sealed, row)
      const previousSecrets =
        row.previous_secret_sealed && row.previous_secret_valid ? [open(row.previous_secret_sealed, row)] : []
      const body = JSON.stringify(toEventEnvelope({ ...row, id: row.event_id }))
      const headers = endpointRequestHeaders({
        secret,
        previousSecrets,
        hubSignature: row.hub_signature,
        customHeaders: jsonValue<Record<string, string>>(row.headers) ?? {},
        messageId: row.event_id,
        timestamp: new Date(),
        body,
      })
      result = await postWebhook({
        agent: deps.agent(),
        url: row.url,
        body,
        headers,
        timeoutMs: options.requestTimeoutMs,
        signal: deps.stopSignal(),
      })
    } catch {
      result = {
        ok: false,
        status: null,
        reason: 'the endpoint secret cannot be opened (wrong AUTH_STATE_KEY?)',
      }
    }
    const fence = sql`event_id = ${row.event_id} AND endpoint_id = ${row.endpoint_id} AND status = 'pending'
      AND attempts = ${attempt} AND ${SKIP_WAL_FLUSH}`
    if (result.ok) {
      await database.rows(sql`
        UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), last_error = NULL,
          last_status = ${result.status}
        WHERE ${fence}`)
      deps.onOutcome?.('delivered')
      return
    }
    if (result.aborted) {
      // Stopped mid-request: hand it back uncounted; the receiver may still get it twice.
      await database.rows(sql`
        UPDATE webhook_deliveries SET attempts = attempts - 1, next_attempt_at = now() WHERE ${fence}`)
      return
    }
    const context = { endpointId: row.endpoint_id, eventId: row.event_id, attempt, error: result.reason }
    if (attempt >= options.maxAttempts) {
      await database.rows(sql`
        UPDATE webhook_deliveries SET status = 'dead', last_error = ${result.reason}, last_status = ${result.status}
        WHERE ${fence}`)
      deps.onOutcome?.('dead')
      logger.warn(context, 'endpoint delivery dead-lettered after its last attempt')
      return
    }
    const delayMs = options.retryDelayMs(attempt)
    await database.rows(sql`
      UPDATE webhook_deliveries SET next_attempt_at = now() + ${delayMs} * interval '1 millisecond',
        last_error = ${result.reason}, last_status = ${result.status}
      WHERE ${fence}`)
    deps.onOutcome?.('failed')
    logger.warn({ ...context, retryInMs: delayMs }, 'endpoint delivery failed')
  }

  return {
    inFlight,
    async claimAndSend() {
      const room = Math.min(options.claimBatchSize, options.maxInFlight - inFlight.size)
      if (room <= 0 || !deps.running()) return
      const claimed = await claim(room)
      for (const row of claimed) {
        const sending = send(row)
          .catch((error) =>
            logger.error(
              { err: (error as Error).message, endpointId: row.endpoint_id },
              'endpoint delivery failed',
            ),
          )
          .finally(() => {
            inFlight.delete(sending)
            deps.onSettled()
          })
        inFlight.add(sending)
      }
    },
  }
}
