import { Readable } from 'node:stream'
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi'
import { deleteMediaChunks, MediaTooLarge, type StoredMediaFile, writeMediaChunks } from '@wa-cluster/core'
import {
  isMediaMessageType,
  MEDIA_SIZE_LIMITS,
  newId,
  UnsupportedMediaType,
  ValidationFailed,
} from '@wa-cluster/shared'
import Busboy from 'busboy'
import type { Context, MiddlewareHandler } from 'hono'
import { activeTenantOf, requireTenant } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { validationHook } from '../http/errors.js'
import { isMultipartSend } from '../http/request-body.js'
import { errorResponses, IdempotencyHeaders, MessageParams, SendMessageBody } from '../http/schemas.js'
import {
  MAX_MEDIA_BYTES,
  mediaTooLarge,
  openReceivedMedia,
  type UploadedMedia,
} from '../services/message-media.js'
import { sendMessage } from '../services/messages.js'

// Media over HTTP: a send as multipart/form-data (the file streamed into storage as it arrives), and
// the bytes of a received media message.

/** The form fields of a multipart send; everything else of a send is JSON-only. */
const FORM_FIELDS = new Set([
  'to',
  'type',
  'caption',
  'voiceNote',
  'mimeType',
  'fileName',
  'replyTo',
  'sendAt',
  'metadata',
])

/**
 * The multipart body of a send, for the OpenAPI document only: a plain schema, not zod, so no
 * validator buffers the body (acceptMultipartSend reads it as a stream).
 */
export const SendMessageMultipart = {
  type: 'object' as const,
  required: ['file', 'to', 'type'],
  properties: {
    file: { type: 'string' as const, format: 'binary', description: 'The media file' },
    to: { type: 'string' as const },
    type: { type: 'string' as const, enum: ['image', 'video', 'audio', 'document', 'sticker'] },
    caption: { type: 'string' as const },
    voiceNote: { type: 'string' as const, enum: ['true', 'false'] },
    mimeType: { type: 'string' as const, description: "The file's type; else sniffed, else the part's" },
    fileName: { type: 'string' as const, description: "A document's file name; else the part's" },
    replyTo: { type: 'string' as const },
    sendAt: { type: 'string' as const },
    metadata: { type: 'string' as const, description: 'A JSON object of strings' },
  },
}

/** The form fields as the JSON body they stand for, or the field that is wrong. */
function inputOfFields(fields: Map<string, string>) {
  const body: Record<string, unknown> = {}
  const media: Record<string, string> = {}
  for (const [name, value] of fields) {
    if (!FORM_FIELDS.has(name))
      throw new ValidationFailed(`body.${name}`, 'is not a field of a multipart send')
    if (name === 'mimeType' || name === 'fileName') media[name] = value
    else if (name === 'voiceNote') {
      if (value !== 'true' && value !== 'false')
        throw new ValidationFailed('body.voiceNote', 'must be true or false')
      body.voiceNote = value === 'true'
    } else if (name === 'metadata') {
      try {
        body.metadata = JSON.parse(value)
      } catch {
        throw new ValidationFailed('body.metadata', 'must be a JSON object of strings')
      }
    } else body[name] = value
  }
  if (Object.keys(media).length > 0) body.media = media
  const parsed = SendMessageBody.safeParse(body)
  // Form fields are named like the JSON body's (`body.to`), so both kinds of send fail alike.
  if (!parsed.success) validationHook({ target: 'json', success: false, error: parsed.error })
  return parsed.data!
}

/**
 * Reads a multipart send: the fields, and the `file` part streamed into a message id's pieces as it
 * arrives (at most the limit of the type named before it, else the largest of any type). Resolves once
 * the body is read; whatever it stored is deleted when it fails.
 */
async function readMultipartSend(
  c: Context<AppEnv>,
  messageId: string,
): Promise<{ fields: Map<string, string>; uploaded: UploadedMedia }> {
  const body = c.req.raw.body
  if (!body) throw new ValidationFailed('file', 'is required: send the media file as a `file` part')
  let parser: Busboy.Busboy
  try {
    parser = Busboy({
      headers: { 'content-type': c.req.header('content-type') ?? '' },
      limits: { files: 1, fields: 20, fieldSize: 64 * 1024, parts: 30 },
    })
  } catch (error) {
    throw new UnsupportedMediaType(`multipart/form-data body cannot be read: ${(error as Error).message}`)
  }
  const fields = new Map<string, string>()
  let stored: Promise<StoredMediaFile> | undefined
  let part: { mimeType: string; fileName: string } | undefined
  const done = new Promise<void>((resolve, reject) => {
    parser.on('field', (name, value) => fields.set(name, value))
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || stored) {
        stream.resume()
        return
      }
      part = { mimeType: info.mimeType, fileName: info.filename ?? '' }
      const type = fields.get('type')
      const limit = type && isMediaMessageType(type) ? MEDIA_SIZE_LIMITS[type] : MAX_MEDIA_BYTES
      // Past the limit the rest of the part is read and dropped (not destroyed: the parser would stall),
      // so the client finishes its upload and reads the answer.
      stored = writeMediaChunks(
        c.get('ctx').database,
        messageId,
        stream.iterator({ destroyOnReturn: false }),
        limit,
      )
      stored.catch(() => stream.resume())
    })
    parser.on('error', reject)
    parser.on('close', resolve)
  })
  Readable.fromWeb(body as never)
    .on('error', (error) => parser.destroy(error))
    .pipe(parser)
  try {
    await done
    if (!stored || !part)
      throw new ValidationFailed('file', 'is required: send the media file as a `file` part')
    const file = await stored
    return {
      fields,
      uploaded: {
        messageId,
        file,
        ...(part.mimeType ? { mimeType: part.mimeType } : {}),
        ...(part.fileName ? { fileName: part.fileName } : {}),
      },
    }
  } catch (error) {
    await stored?.catch(() => {})
    await deleteMediaChunks(c.get('ctx').database, messageId)
    if (error instanceof MediaTooLarge) {
      const type = fields.get('type')
      throw type && isMediaMessageType(type) ? mediaTooLarge('file', type) : mediaTooLarge('file', 'document')
    }
    throw error
  }
}

/**
 * The send route's handling of multipart/form-data: answers the request itself (202 like a JSON send)
 * and lets every other request through to the JSON validators.
 */
export const acceptMultipartSend: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!isMultipartSend(c)) return next()
  const headers = IdempotencyHeaders.safeParse({ 'idempotency-key': c.req.header('idempotency-key') })
  if (!headers.success) validationHook({ target: 'header', success: false, error: headers.error })
  const idempotencyKey = headers.data?.['idempotency-key']
  const messageId = newId('msg')
  const { fields, uploaded } = await readMultipartSend(c, messageId)
  const { tenantId, limits, defaultCountry } = activeTenantOf(c)
  try {
    const { message, created } = await sendMessage({
      ctx: c.get('ctx'),
      tenantId,
      limits,
      defaultCountry,
      sessionId: c.req.param('sessionId') ?? '',
      input: inputOfFields(fields),
      uploaded,
      ...(idempotencyKey ? { idempotencyKey } : {}),
    })
    // A replay answers with the first message; the file of this request was not needed.
    if (!created) await deleteMediaChunks(c.get('ctx').database, messageId)
    return c.json(message, 202)
  } catch (error) {
    await deleteMediaChunks(c.get('ctx').database, messageId)
    throw error
  }
}

const getMessageMediaRoute = createRoute({
  tags: ['Messages'],
  security: [{ bearer: [] }],
  middleware: [requireTenant],
  method: 'get',
  operationId: 'getMessageMedia',
  path: '/v1/sessions/{sessionId}/messages/{messageId}/media',
  summary: 'Download the file of a received media message',
  description:
    'Streams the decrypted bytes with the content-type WhatsApp gave. They are downloaded from WhatsApp on each request with the keys kept in the message (nothing is stored), so this works as long as WhatsApp keeps the file (about 30 days) and the message is kept (retention). 404 for a message without media or of another tenant; 503 when WhatsApp does not give the file.',
  request: { params: MessageParams },
  responses: {
    200: {
      description: 'The file',
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...errorResponses(401, 403, 404, 503),
  },
})

export function registerMessageMediaRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(getMessageMediaRoute, async (c) => {
    const { sessionId, messageId } = c.req.valid('param')
    const { tenantId } = activeTenantOf(c)
    const media = await openReceivedMedia({ ctx: c.get('ctx'), tenantId, sessionId, messageId })
    const headers: Record<string, string> = { 'content-type': media.mimeType, 'cache-control': 'no-store' }
    if (media.size !== undefined) headers['content-length'] = String(media.size)
    if (media.fileName)
      headers['content-disposition'] = `attachment; filename*=UTF-8''${encodeURIComponent(media.fileName)}`
    return new Response(Readable.toWeb(media.stream) as ReadableStream, { status: 200, headers }) as never
  })
}
