import { createHmac, randomBytes } from 'node:crypto'

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): tenants verify our requests with any
 * stock library, in any language, instead of code we would have to document and maintain.
 */

const SECRET_PREFIX = 'whsec_'

/** The three headers every delivery carries. */
export type WebhookSignatureHeaders = {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/** A new signing secret: `whsec_` + base64 of 32 random bytes (the spec asks for 24 to 64). */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`
}

function secretKey(secret: string): Buffer {
  const key = Buffer.from(
    secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret,
    'base64',
  )
  if (key.length < 24) throw new Error('webhook secret must hold at least 24 bytes of base64 after whsec_')
  return key
}

/**
 * Signs one delivery. `messageId` stays the same across retries (receivers de-duplicate on it);
 * `timestamp` is the attempt's time, which receivers check against replays. `body` must be the exact
 * bytes sent. While a rotated-out secret is still in its grace period, pass it as `previousSecrets`:
 * the header then carries one signature per secret (`v1,<new> v1,<old>`), which the spec allows, so a
 * receiver still holding the old secret keeps verifying.
 */
export function signWebhook(input: {
  secret: string
  previousSecrets?: string[]
  messageId: string
  timestamp: Date
  body: string | Buffer
}): WebhookSignatureHeaders {
  const seconds = Math.floor(input.timestamp.getTime() / 1000)
  const signatures = [input.secret, ...(input.previousSecrets ?? [])].map(
    (secret) =>
      `v1,${createHmac('sha256', secretKey(secret))
        .update(`${input.messageId}.${seconds}.`)
        .update(input.body)
        .digest('base64')}`,
  )
  return {
    'webhook-id': input.messageId,
    'webhook-timestamp': String(seconds),
    'webhook-signature': signatures.join(' '),
  }
}

/**
 * Meta's `X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the raw body, keyed with the secret
 * string exactly as the API returned it (`whsec_…` included), for receivers built for that scheme.
 */
export function hubSignature256(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}
