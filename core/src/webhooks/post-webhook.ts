import { type Agent, request } from 'undici'
import { outboundRefusalOf } from '../net/outbound-target.js'

/**
 * One webhook POST and what may be said about it. The receiver's body is never read into memory or
 * stored: a tenant reads `lastError` back, and a body would make the gateway a read-out of whatever
 * answered (issue 13). Only the status code and a fixed phrase come back.
 */
export type WebhookPostResult =
  | { ok: true; status: number }
  | { ok: false; status: number | null; reason: string; aborted?: boolean }

/** Fixed phrases for transport failures, by the error's code. */
const FAILURE_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the response',
  UND_ERR_BODY_TIMEOUT: 'timed out reading the response',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_INVALID_ARG: 'invalid request',
  ERR_INVALID_URL: 'invalid URL',
}

function errorCode(error: unknown): string | undefined {
  let current = error as { code?: string; cause?: unknown } | undefined
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current.code === 'string') return current.code
    current = current.cause as typeof current
  }
  return undefined
}

/** A fixed description of a failed request: never the error's own text (it can name internal hosts). */
export function describeWebhookFailure(error: unknown): string {
  const refusal = outboundRefusalOf(error)
  if (refusal) return `target refused: ${refusal}`
  const code = errorCode(error)
  if (code === undefined) return 'request failed'
  if (FAILURE_REASONS[code]) return FAILURE_REASONS[code]
  if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code))
    return 'TLS handshake failed'
  return 'request failed'
}

/** What `lastError` says about a non-2xx answer: the status only, never the body. */
export function describeWebhookStatus(status: number): string {
  if (status >= 300 && status < 400) return `HTTP ${status} (redirects are not followed)`
  return `HTTP ${status}`
}

/** POSTs `body` through the guarded agent; 2xx is a delivery, anything else a failure with a fixed reason. */
export async function postWebhook(input: {
  agent: Agent
  url: string
  body: string
  headers: Record<string, string>
  timeoutMs: number
  /** Aborts the request (a stopping dispatcher); the result then has `aborted`. */
  signal?: AbortSignal
}): Promise<WebhookPostResult> {
  const timeout = AbortSignal.timeout(input.timeoutMs)
  try {
    // undici's request(): a fraction of fetch()'s cost per call, and redirects are not followed (a
    // redirect is not a delivery, and following one could send the body somewhere unintended).
    const response = await request(input.url, {
      method: 'POST',
      body: input.body,
      headers: input.headers,
      dispatcher: input.agent,
      signal: input.signal ? AbortSignal.any([timeout, input.signal]) : timeout,
    })
    // Discarding the body (unread) lets the keep-alive connection be reused.
    await response.body.dump({ limit: 64 * 1024 }).catch(() => {})
    const status = response.statusCode
    if (status >= 200 && status < 300) return { ok: true, status }
    return { ok: false, status, reason: describeWebhookStatus(status) }
  } catch (error) {
    if (input.signal?.aborted) return { ok: false, status: null, reason: 'aborted', aborted: true }
    if (timeout.aborted) return { ok: false, status: null, reason: `timed out after ${input.timeoutMs} ms` }
    return { ok: false, status: null, reason: describeWebhookFailure(error) }
  }
}
