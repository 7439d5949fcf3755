import { hubSignature256, signWebhook } from './signature.js'

/**
 * The request every endpoint delivery (and its `/test`) sends: the tenant's own headers, then ours,
 * which a tenant header can never replace (the API refuses those names, and ours are written last).
 */

/** Header names an endpoint may not set: the signing, framing and identity of the request are ours. */
export const RESERVED_WEBHOOK_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'host',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'x-hub-signature-256',
  'x-hub-signature',
])

export function endpointRequestHeaders(input: {
  secret: string
  /** Rotated-out secrets still in their grace period: one more signature each. */
  previousSecrets?: string[]
  /** Also send `X-Hub-Signature-256`, keyed with the current secret. */
  hubSignature: boolean
  customHeaders: Record<string, string>
  messageId: string
  timestamp: Date
  body: string
}): Record<string, string> {
  return {
    ...input.customHeaders,
    ...signWebhook({
      secret: input.secret,
      ...(input.previousSecrets?.length ? { previousSecrets: input.previousSecrets } : {}),
      messageId: input.messageId,
      timestamp: input.timestamp,
      body: input.body,
    }),
    ...(input.hubSignature ? { 'x-hub-signature-256': hubSignature256(input.secret, input.body) } : {}),
    'content-type': 'application/json',
    'user-agent': 'wa-cluster-webhooks/1',
  }
}
