import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import {
  createOutboundAgent,
  createWhatsAppMediaAgent,
  deleteMediaChunks,
  downloadWhatsAppMedia,
  MediaDownloadFailed,
  MediaTooLarge,
  mediaCaPem,
  outboundRefusalOf,
  type StoredMediaFile,
  writeMediaChunks,
} from '@wa-cluster/core'
import {
  formatBytes,
  isMediaMessageType,
  MEDIA_SIZE_LIMITS,
  type MediaMessageType,
  type MessageMedia,
  mimeTypeRefusal,
  NotFound,
  PayloadTooLarge,
  sniffMimeType,
  Unavailable,
  ValidationFailed,
} from '@wa-cluster/shared'
import { type Agent, request } from 'undici'
import type { ControlPlaneContext } from '../context.js'
import { findSessionMessage, requireSession } from './sessions.js'

// The file of a media send, from whichever way it came (base64 in JSON, a URL the gateway fetches, a
// multipart upload), stored in pieces (media_chunks) before the message row, and the bytes of a
// received media message, downloaded from WhatsApp on demand.

/** `media` of a JSON send. */
export type SendMediaInput = { url?: string; data?: string; mimeType?: string; fileName?: string }

/** A file already stored for a message id (a multipart upload streams it in before the fields are checked). */
export type UploadedMedia = {
  messageId: string
  file: StoredMediaFile
  /** The part's declared type and file name, used when the fields give none. */
  mimeType?: string
  fileName?: string
}

/** The largest file of any kind: what an upload may reach before its kind is known. */
export const MAX_MEDIA_BYTES = Math.max(...Object.values(MEDIA_SIZE_LIMITS))

/** How long a media URL may take to answer, and at most between two reads of its body. */
const MEDIA_FETCH_TIMEOUT_MS = 30_000
/** How long fetching a media URL may take in all (a server dripping bytes cannot hold a request longer). */
const MEDIA_FETCH_TOTAL_MS = 120_000

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** The 413 of a file over its kind's limit. */
export function mediaTooLarge(field: string, type: MediaMessageType): PayloadTooLarge {
  const limit = MEDIA_SIZE_LIMITS[type]
  return new PayloadTooLarge(
    field,
    limit,
    `must be at most ${formatBytes(limit)} for ${type} (WhatsApp's limit)`,
  )
}

/** The bytes of `media.data`, or the field that is wrong. Checked strictly: base64 is not guessed at. */
export function decodeMediaData(data: string, type: MediaMessageType, field = 'body.media.data'): Buffer {
  const compact = data.replace(/\s+/g, '')
  if (compact.length === 0) throw new ValidationFailed(field, 'must not be empty')
  if (compact.length % 4 !== 0 || !BASE64.test(compact))
    throw new ValidationFailed(field, 'is not valid base64')
  if ((compact.length / 4) * 3 > MEDIA_SIZE_LIMITS[type] + 2) throw mediaTooLarge(field, type)
  const bytes = Buffer.from(compact, 'base64')
  if (bytes.length > MEDIA_SIZE_LIMITS[type]) throw mediaTooLarge(field, type)
  return bytes
}

/** What identifies the file of a send for the idempotency hash: its bytes' hash, or its URL. */
export function mediaFingerprint(
  media: SendMediaInput | undefined,
  decoded: Buffer | undefined,
): string | null {
  if (decoded) return createHash('sha256').update(decoded).digest('hex')
  return media?.url ?? null
}

const fetchAgents = new WeakMap<ControlPlaneContext, Agent>()
const whatsAppAgents = new WeakMap<ControlPlaneContext, Agent>()

/** The agent media URLs are fetched through: the outbound guard webhooks use. */
function fetchAgentOf(ctx: ControlPlaneContext): Agent {
  let agent = fetchAgents.get(ctx)
  if (!agent) {
    agent = createOutboundAgent(ctx.outboundPolicy)
    fetchAgents.set(ctx, agent)
  }
  return agent
}

function whatsAppAgentOf(ctx: ControlPlaneContext): Agent {
  let agent = whatsAppAgents.get(ctx)
  if (!agent) {
    agent = createWhatsAppMediaAgent(ctx.outboundPolicy, mediaCaPem(ctx.config.WA_MEDIA_CA))
    whatsAppAgents.set(ctx, agent)
  }
  return agent
}

/** The refusal of a URL whose host is on a network the operator did not allow. */
function privateTarget(field: string, why: string): ValidationFailed {
  return new ValidationFailed(
    field,
    `must not target a private network (${why}); an operator can allow it with ALLOW_PRIVATE_NETWORKS`,
  )
}

/**
 * Checks a URL the gateway will fetch before anything else: one it can parse, whose host (when it is
 * an address) is not on a network the operator did not allow. ValidationFailed naming `field`.
 */
export function checkMediaUrl(ctx: ControlPlaneContext, url: string, field: string): void {
  if (!URL.canParse(url)) throw new ValidationFailed(field, 'is not a valid URL')
  const refused = ctx.outboundPolicy.refuseHost(new URL(url).hostname)
  if (refused) throw privateTarget(field, refused)
}

/**
 * Fetches `url` and streams the body into the pieces of `fileKey`. The refusals name `field`: a
 * private target, a status other than 200 (redirects are not followed), a timeout, too large.
 */
async function fetchMediaUrl(
  ctx: ControlPlaneContext,
  fileKey: string,
  url: string,
  type: MediaMessageType,
  field: string,
): Promise<{ file: StoredMediaFile; contentType?: string }> {
  checkMediaUrl(ctx, url, field)
  let response: Awaited<ReturnType<typeof request>>
  try {
    response = await request(url, {
      dispatcher: fetchAgentOf(ctx),
      headersTimeout: MEDIA_FETCH_TIMEOUT_MS,
      bodyTimeout: MEDIA_FETCH_TIMEOUT_MS,
      signal: AbortSignal.timeout(MEDIA_FETCH_TOTAL_MS),
    })
  } catch (error) {
    const refusal = outboundRefusalOf(error)
    if (refusal) throw privateTarget(field, refusal)
    throw new ValidationFailed(field, `could not be fetched: ${(error as Error).message}`)
  }
  if (response.statusCode !== 200) {
    response.body.resume()
    const redirect =
      response.statusCode >= 300 && response.statusCode < 400 ? ' (redirects are not followed)' : ''
    throw new ValidationFailed(field, `could not be fetched: it answered ${response.statusCode}${redirect}`)
  }
  const declared = Number(response.headers['content-length'])
  if (Number.isFinite(declared) && declared > MEDIA_SIZE_LIMITS[type]) {
    response.body.destroy()
    throw mediaTooLarge(field, type)
  }
  try {
    const file = await writeMediaChunks(ctx.database, fileKey, response.body, MEDIA_SIZE_LIMITS[type])
    const contentType = response.headers['content-type']
    return { file, ...(typeof contentType === 'string' ? { contentType } : {}) }
  } catch (error) {
    response.body.destroy()
    if (error instanceof MediaTooLarge) throw mediaTooLarge(field, type)
    throw new ValidationFailed(field, `could not be fetched: ${(error as Error).message}`)
  }
}

/**
 * Stores the file of a media send under `fileKey` (the message's id, or a broadcast's key for a file
 * several recipients send) and returns how the message shows it. The file's type is the one given,
 * else sniffed from its first bytes, else the one its source declared (a document may be anything:
 * `application/octet-stream` then). Deletes what it stored when the file is refused. Refusals name
 * `<prefix>.media.…` (`file` for an upload).
 */
export async function storeSendMedia(
  ctx: ControlPlaneContext,
  input: {
    fileKey: string
    type: MediaMessageType
    media: SendMediaInput | undefined
    decoded: Buffer | undefined
    uploaded?: UploadedMedia | undefined
    prefix?: string
  },
): Promise<MessageMedia> {
  const { fileKey, type, media, decoded, uploaded, prefix = 'body' } = input
  let file: StoredMediaFile
  let declaredType: string | undefined
  let field: string
  if (uploaded) {
    field = 'file'
    file = uploaded.file
    declaredType = uploaded.mimeType
    if (file.size > MEDIA_SIZE_LIMITS[type]) {
      await deleteMediaChunks(ctx.database, fileKey)
      throw mediaTooLarge(field, type)
    }
  } else if (decoded) {
    field = `${prefix}.media.data`
    file = await writeMediaChunks(ctx.database, fileKey, [decoded], MEDIA_SIZE_LIMITS[type])
  } else if (media?.url) {
    field = `${prefix}.media.url`
    const fetched = await fetchMediaUrl(ctx, fileKey, media.url, type, field)
    file = fetched.file
    declaredType = fetched.contentType
  } else {
    throw new ValidationFailed(`${prefix}.media`, `is required when type is ${type}: give url or data`)
  }
  try {
    if (file.size === 0) throw new ValidationFailed(field, 'is an empty file')
    const declared = declaredType?.split(';')[0]?.trim().toLowerCase()
    const mimeType =
      media?.mimeType ??
      sniffMimeType(file.head) ??
      (declared && declared !== 'application/octet-stream' ? declared : undefined) ??
      (type === 'document' ? 'application/octet-stream' : undefined)
    if (!mimeType)
      throw new ValidationFailed(
        uploaded ? `${prefix}.mimeType` : `${prefix}.media.mimeType`,
        `is required: the file's type could not be recognised from its bytes`,
      )
    const fileName = media?.fileName ?? uploaded?.fileName
    return {
      mimeType,
      size: file.size,
      sha256: file.sha256,
      ...(type === 'document' && fileName ? { fileName } : {}),
    }
  } catch (error) {
    await deleteMediaChunks(ctx.database, fileKey)
    throw error
  }
}

/** The fields of a media send besides its file, or the field that is wrong. */
function mediaSendContentOf(
  input: {
    text?: string
    location?: unknown
    contacts?: unknown
    reaction?: unknown
    mentions?: unknown
    template?: string
    variables?: unknown
    media?: SendMediaInput
    caption?: string
    voiceNote?: boolean
    replyTo?: string
  },
  type: MediaMessageType,
  uploaded: boolean,
  prefix = 'body',
): { caption?: string; voiceNote?: boolean; replyTo?: string } {
  for (const other of [
    'text',
    'location',
    'contacts',
    'reaction',
    'mentions',
    'template',
    'variables',
  ] as const)
    if (input[other] !== undefined)
      throw new ValidationFailed(`${prefix}.${other}`, `is not allowed when type is ${type}`)
  if (uploaded) {
    if (input.media?.url !== undefined || input.media?.data !== undefined)
      throw new ValidationFailed(`${prefix}.media`, 'is not allowed beside a file part: send one file')
  } else {
    if (!input.media) throw new ValidationFailed(`${prefix}.media`, `is required when type is ${type}`)
    const given = [input.media.url, input.media.data].filter((value) => value !== undefined).length
    if (given !== 1) throw new ValidationFailed(`${prefix}.media`, 'must have exactly one of url and data')
  }
  if (input.caption !== undefined && !['image', 'video', 'document'].includes(type))
    throw new ValidationFailed(`${prefix}.caption`, 'is only allowed on an image, a video or a document')
  if (input.voiceNote !== undefined && type !== 'audio')
    throw new ValidationFailed(`${prefix}.voiceNote`, 'is only allowed on an audio')
  return {
    ...(input.caption !== undefined ? { caption: input.caption } : {}),
    ...(input.voiceNote ? { voiceNote: true } : {}),
    ...(input.replyTo !== undefined ? { replyTo: input.replyTo } : {}),
  }
}

/**
 * A media send's kind, its fields besides the file and its decoded `data`, or the field that is
 * wrong; undefined for a send of another kind. Refusals name `<prefix>.…`.
 */
export function mediaSendOf(
  input: Parameters<typeof mediaSendContentOf>[0] & { type?: string },
  uploaded: boolean,
  prefix = 'body',
):
  | {
      type: MediaMessageType
      content: ReturnType<typeof mediaSendContentOf>
      decoded: Buffer | undefined
    }
  | undefined {
  const type = input.type !== undefined && isMediaMessageType(input.type) ? input.type : undefined
  if (!type) return undefined
  const content = mediaSendContentOf(input, type, uploaded, prefix)
  const data = input.media?.data
  return {
    type,
    content,
    decoded: data !== undefined ? decodeMediaData(data, type, `${prefix}.media.data`) : undefined,
  }
}

/** Refuses a MIME type the kind cannot carry (naming the field that gave it). */
export function checkMediaType(
  type: MediaMessageType,
  media: MessageMedia,
  voiceNote: boolean,
  field: string,
): void {
  const refusal = mimeTypeRefusal(type, media.mimeType, voiceNote)
  if (refusal) throw new ValidationFailed(field, refusal)
}

/**
 * The decrypted bytes of a received media message, downloaded from WhatsApp now with the keys its row
 * keeps. NotFound for another tenant's message, a message without media, or one of another session.
 */
export async function openReceivedMedia({
  ctx,
  tenantId,
  sessionId,
  messageId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  messageId: string
}): Promise<{ stream: Readable; mimeType: string; size?: number; fileName?: string }> {
  await requireSession(ctx, tenantId, sessionId)
  const row = await findSessionMessage(ctx, tenantId, sessionId, messageId)
  if (!row) throw new NotFound('message')
  if (!row.mediaSource) throw new NotFound('media of this message')
  let stream: Readable
  try {
    stream = await downloadWhatsAppMedia(row.mediaSource, whatsAppAgentOf(ctx))
  } catch (error) {
    if (error instanceof MediaDownloadFailed) throw new Unavailable(error.message)
    throw error
  }
  const media = row.content?.media
  return {
    stream,
    mimeType: media?.mimeType ?? row.mediaSource.mimeType,
    ...(media?.size ? { size: media.size } : {}),
    ...(media?.fileName ? { fileName: media.fileName } : {}),
  }
}
