import { InvalidJson, UnsupportedMediaType, ValidationFailed } from '@wa-cluster/shared'
import type { Context, MiddlewareHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { AppEnv } from './env.js'

/** Request bodies above this are refused with 413, before or while they are read. */
export const MAX_BODY_BYTES = 1024 * 1024
/** A broadcast carries up to 10,000 recipients, each with its own text or variables. */
export const MAX_BROADCAST_BODY_BYTES = 8 * 1024 * 1024
const BROADCAST_PATH = /^\/v1\/sessions\/[^/]+\/broadcasts\/?$/
/** A send may carry a media file in base64: 16 MB (video, audio) is 21.4 MB of base64. */
export const MAX_MEDIA_SEND_BODY_BYTES = 24 * 1024 * 1024
const SEND_PATH = /^\/v1\/sessions\/[^/]+\/messages\/?$/

/** The largest body the request may have: MAX_BODY_BYTES, or more for a broadcast or a send. */
function bodyLimitOf(c: Context<AppEnv>): number {
  if (c.req.method !== 'POST') return MAX_BODY_BYTES
  if (BROADCAST_PATH.test(c.req.path)) return MAX_BROADCAST_BODY_BYTES
  if (SEND_PATH.test(c.req.path)) return MAX_MEDIA_SEND_BODY_BYTES
  return MAX_BODY_BYTES
}

/**
 * A multipart send (a media file as a `file` part): its body is left unread here, for the send route
 * to stream the file into storage without holding it.
 */
export function isMultipartSend(c: Context<AppEnv>): boolean {
  return (
    c.req.method === 'POST' &&
    SEND_PATH.test(c.req.path) &&
    /^multipart\/form-data\b/i.test(c.req.header('content-type') ?? '')
  )
}

/**
 * The client went away before its request body arrived (it hung up mid-upload). Not a failure of
 * ours: answered (to nobody) and counted as 499, logged without a stack.
 */
export class ClientClosedRequest extends Error {
  constructor() {
    super('the client closed the connection before sending the whole request body')
    this.name = 'ClientClosedRequest'
  }
}

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i

/** True when a read failed because the client hung up (the server aborts the request's signal). */
async function clientHungUp(c: Context<AppEnv>, error: unknown): Promise<boolean> {
  // The connection's close event may come a moment after the failed read.
  await new Promise((resolve) => setImmediate(resolve))
  if (c.req.raw.signal.aborted) return true
  const code = (error as { code?: unknown })?.code
  return (
    code === 'ECONNRESET' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    /aborted|prematurely closed/i.test((error as Error)?.message ?? '')
  )
}

/**
 * First thing after the request id: reads the raw body bytes once, at most MAX_BODY_BYTES (413
 * otherwise), so that every later reader sees the bytes the client sent and nothing else. A client
 * that hangs up meanwhile ends the request as ClientClosedRequest. The bytes are checked as JSON by
 * `acceptJsonBody` on each route, after authentication.
 */
export const readRequestBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const body = c.req.raw.body
  if (!body || isMultipartSend(c)) return next()
  const limit = bodyLimitOf(c)
  const declared = c.req.header('content-length')
  if (declared && /^\d+$/.test(declared) && Number(declared) > limit) throw tooLarge(limit)
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) {
        void reader.cancel().catch(() => {})
        throw tooLarge(limit)
      }
      chunks.push(value)
    }
  } catch (error) {
    if (error instanceof HTTPException) throw error
    if (await clientHungUp(c, error)) throw new ClientClosedRequest()
    throw error
  }
  const bytes = Buffer.concat(chunks, size)
  // Later readers (hono's validators, `c.req.text()`) take the body from this cache.
  c.req.bodyCache.arrayBuffer = Promise.resolve(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  ) as never
  await next()
}

function tooLarge(limit: number): HTTPException {
  const media =
    limit === MAX_MEDIA_SEND_BODY_BYTES
      ? ': send a larger media file by url or as multipart/form-data (a `file` part)'
      : ''
  return new HTTPException(413, {
    message: `request body is larger than ${limit / (1024 * 1024)} MiB${media}`,
  })
}

/** The charset parameter of a Content-Type, unquoted and lower-cased; undefined when absent. */
function charsetOf(contentType: string): string | undefined {
  for (const parameter of contentType.split(';').slice(1)) {
    const [name, ...rest] = parameter.split('=')
    if (name?.trim().toLowerCase() !== 'charset') continue
    return rest
      .join('=')
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase()
  }
  return undefined
}

/** True when `label` is a name of UTF-8 (`utf-8`, `utf8`, `unicode-1-1-utf-8`…). */
function isUtf8Label(label: string): boolean {
  try {
    return new TextDecoder(label).encoding === 'utf-8'
  } catch {
    return false
  }
}

const isWellFormed = (value: string) => (value as string & { isWellFormed(): boolean }).isWellFormed()

/** A value met while walking a body, with how it was reached (to name its field only when needed). */
type Visit = { value: unknown; key?: string; parent?: Visit }

function fieldOf(visit: Visit): string {
  const keys: string[] = []
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) keys.push(at.key)
  return ['body', ...keys.reverse()].join('.')
}

/**
 * The first string (or object key) of `root` that is not well-formed Unicode, as a field path
 * (`body.name`, `body.events.0`). JSON escapes such as "\ud800" decode to lone surrogates, which no
 * UTF-8 encoder can carry to WhatsApp or Postgres unchanged. Walks with its own stack and builds the
 * path only for the culprit: a body of half a million nested arrays is valid JSON.
 */
function malformedStringPath(root: unknown): string | undefined {
  const pending: Visit[] = [{ value: root }]
  for (let visit = pending.pop(); visit; visit = pending.pop()) {
    const { value } = visit
    if (typeof value === 'string') {
      if (!isWellFormed(value)) return fieldOf(visit)
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) {
        pending.push({ value: value[index], key: String(index), parent: visit })
      }
    } else if (value && typeof value === 'object') {
      const entries = Object.entries(value)
      for (const [key] of entries) if (!isWellFormed(key)) return fieldOf(visit)
      for (let index = entries.length - 1; index >= 0; index--) {
        const [key, item] = entries[index]!
        pending.push({ value: item, key, parent: visit })
      }
    }
  }
  return undefined
}

/**
 * Route middleware for every `/v1` endpoint, after authentication: a request body, when one is sent,
 * must be `application/json` in UTF-8 (415 otherwise), decode as strict UTF-8 and parse as JSON (400
 * invalid_json otherwise, on endpoints that take no body too), and carry no lone surrogate in any
 * string (400 validation_failed naming the field). Nothing is replaced with U+FFFD. An empty body is
 * fine.
 */
export const acceptJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const cached = c.req.bodyCache.arrayBuffer as unknown as Promise<ArrayBuffer> | undefined
  const bytes = cached ? new Uint8Array(await cached) : new Uint8Array(await c.req.arrayBuffer())
  // Nothing, or only whitespace (clients that send a Content-Type with no body): no body.
  if (bytes.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d)) return next()
  const contentType = c.req.header('content-type')
  const mediaType = contentType?.split(';')[0]?.trim() ?? ''
  if (!JSON_MEDIA_TYPE.test(mediaType)) throw new UnsupportedMediaType()
  const charset = charsetOf(contentType!)
  if (charset !== undefined && !isUtf8Label(charset)) {
    throw new UnsupportedMediaType(`request body must be application/json in UTF-8, not charset=${charset}`)
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new InvalidJson('request body is not valid UTF-8')
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new InvalidJson()
  }
  const malformed = malformedStringPath(parsed)
  if (malformed) {
    throw new ValidationFailed(malformed, 'is not valid Unicode: it contains a lone surrogate')
  }
  c.req.bodyCache.text = Promise.resolve(text) as never
  await next()
}
