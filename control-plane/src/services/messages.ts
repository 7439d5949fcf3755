import { createHash, randomBytes } from 'node:crypto'
import { coordinationKeys, DAILY_SENDS_WINDOW_MS, deleteMediaChunks, nudgeNode } from '@wa-cluster/core'
import { type MessageContent, messages } from '@wa-cluster/db'
import {
  Conflict,
  isMediaMessageType,
  type MediaMessageType,
  type MessageContact,
  type MessageError,
  type MessageLocation,
  type MessagePoll,
  type MessageReaction,
  type MessageReactionBy,
  messageErrorOf,
  NotFound,
  newId,
  normalizeRecipient,
  PayloadTooLarge,
  type PollOptionVotes,
  pollTally,
  RateLimited,
  type StoredMessageStatus,
  type TemplateVariables,
  type TenantLimits,
  Unprocessable,
  ValidationFailed,
} from '@wa-cluster/shared'
import { and, eq } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import {
  checkMediaType,
  mediaFingerprint,
  mediaSendOf,
  type SendMediaInput,
  storeSendMedia,
  type UploadedMedia,
} from './message-media.js'
import { findSessionMessage, requireSendable, requireSession } from './sessions.js'
import { type LoadedTemplate, loadTemplates, renderTenantTemplate } from './templates.js'

export type MessageView = {
  id: string
  sessionId: string
  direction: 'in' | 'out'
  to: string
  status: StoredMessageStatus
  waMessageId: string | null
  chatId: string
  /** Inbound: the sender's JID, push name and WhatsApp's time of the message. */
  from?: string
  pushName?: string
  sentAt?: string
  type: string
  text: string | null
  location?: MessageLocation
  contacts?: MessageContact[]
  reaction?: MessageReaction
  /** A poll, with its tally once someone voted. */
  poll?: MessagePoll & { votes?: PollOptionVotes[] }
  /** An `edit` or `revoke` row: the message it changes. */
  target?: string
  edited?: true
  revoked?: true
  reactions?: MessageReactionBy[]
  replyTo?: string
  replyToWaMessageId?: string
  mentions?: string[]
  sendAt?: string
  broadcastId?: string
  /** The caller's own keys, as sent. */
  metadata?: MessageMetadata
  /** Why it failed: a stable code and a message; null unless failed. */
  error: MessageError | null
  statusHistory: { status: string; at: string }[]
  createdAt: string
  updatedAt: string
}

type MessageRow = typeof messages.$inferSelect

/** A row's content as shown: the poll secret never leaves the store, the votes show as a tally. */
function shownContent(content: MessageContent | null): Partial<MessageView> {
  if (!content) return {}
  const { pollSecret: _secret, uploaded: _uploaded, mediaFile: _file, pollVotes, poll, ...shown } = content
  return {
    ...shown,
    ...(poll ? { poll: { ...poll, ...(pollVotes ? { votes: pollTally(poll, pollVotes) } : {}) } } : {}),
  }
}

export function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    sessionId: row.sessionId,
    direction: row.direction as 'in' | 'out',
    to: row.chatId,
    status: row.status,
    waMessageId: row.waMessageId,
    chatId: row.chatId,
    ...(row.sender ? { from: row.sender } : {}),
    ...(row.senderName ? { pushName: row.senderName } : {}),
    ...(row.waTimestamp ? { sentAt: row.waTimestamp.toISOString() } : {}),
    type: row.type,
    text: row.text,
    ...shownContent(row.content),
    ...(row.sendAfter ? { sendAt: row.sendAfter.toISOString() } : {}),
    ...(row.broadcastId ? { broadcastId: row.broadcastId } : {}),
    ...(row.metadata ? { metadata: row.metadata as MessageMetadata } : {}),
    error: messageErrorOf(row.errorCode, row.error),
    statusHistory: row.statusHistory,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

export type SendMessageInput = {
  to: string
  type?: 'text' | 'location' | 'contact' | 'reaction' | 'poll' | 'list' | 'buttons' | MediaMessageType
  text?: string
  location?: MessageLocation
  contacts?: MessageContact[]
  reaction?: MessageReaction
  poll?: { question: string; options: string[]; selectableCount?: number }
  replyTo?: string
  mentions?: string[]
  /** The caller's own keys, stored and echoed (see checkMetadata). */
  metadata?: MessageMetadata
  /** One of the tenant's templates: its rendered body is the text. */
  template?: string
  variables?: TemplateVariables
  /** A media send's file (`url` or base64 `data`) and its caption / voice-note flag. */
  media?: SendMediaInput
  caption?: string
  voiceNote?: boolean
}

/** The caller's own string keys on a message (`customerId`…). */
export type MessageMetadata = Record<string, string>

export const MAX_METADATA_KEYS = 16
export const MAX_METADATA_KEY_LENGTH = 64
export const MAX_METADATA_VALUE_BYTES = 512

/**
 * Checks a send's `metadata` against its limits; ValidationFailed naming `<field>.metadata` (too many
 * keys) or `<field>.metadata.<key>` and the limit. The limits keep every webhook event about the
 * message small whatever the caller puts there.
 */
export function checkMetadata(metadata: MessageMetadata | undefined, field: string): MessageMetadata | null {
  if (metadata === undefined) return null
  const keys = Object.keys(metadata)
  if (keys.length > MAX_METADATA_KEYS)
    throw new ValidationFailed(`${field}.metadata`, `must have at most ${MAX_METADATA_KEYS} keys`)
  for (const key of keys) {
    if (key.length === 0) throw new ValidationFailed(`${field}.metadata`, 'must not have an empty key')
    if (key.length > MAX_METADATA_KEY_LENGTH)
      throw new ValidationFailed(
        `${field}.metadata.${key.slice(0, MAX_METADATA_KEY_LENGTH)}…`,
        `is a key longer than ${MAX_METADATA_KEY_LENGTH} characters`,
      )
    if (Buffer.byteLength(metadata[key]!, 'utf8') > MAX_METADATA_VALUE_BYTES)
      throw new ValidationFailed(
        `${field}.metadata.${key}`,
        `must be at most ${MAX_METADATA_VALUE_BYTES} bytes (UTF-8)`,
      )
  }
  return keys.length > 0 ? metadata : null
}

/** How far ahead a message may be scheduled. */
export const MAX_SCHEDULE_AHEAD_MS = 365 * 24 * 3600_000

/** The field each sendable type carries. */
const FIELD_OF_TYPE = {
  text: 'text',
  location: 'location',
  contact: 'contacts',
  reaction: 'reaction',
  poll: 'poll',
} as const

/**
 * A phone a send names (a mention, a contact card) as the digits WhatsApp uses (`6281…`), read like
 * `to`; ValidationFailed naming the field for anything that is not a person's number.
 */
function phoneDigitsOf(input: string, field: string, defaultCountry: string): string {
  const normalized = normalizeRecipient(input, defaultCountry)
  if (!normalized.ok) throw new ValidationFailed(field, normalized.reason)
  if (!normalized.phone) throw new ValidationFailed(field, "must be a person's number, not a group or a LID")
  return normalized.phone.slice(1)
}

/**
 * The type of a send and its content, or the field that is wrong. `list` and `buttons` are refused:
 * WhatsApp stopped delivering interactive messages sent from linked devices to personal accounts
 * (the recipient sees nothing, or "this message can't be displayed"), so accepting them would only
 * queue messages that never arrive.
 */
export function contentOf(
  input: SendMessageInput,
  field: string,
  defaultCountry: string,
): {
  type: keyof typeof FIELD_OF_TYPE
  content: MessageContent | null
} {
  const type = input.type ?? (input.text !== undefined ? 'text' : undefined)
  if (!type) throw new ValidationFailed(`${field}.text`, 'is required unless a type or template is given')
  // Callers take media sends aside first (mediaSendOf), whose content and file are checked there.
  if (isMediaMessageType(type)) throw new Error(`contentOf was given a ${type} send: use mediaSendOf`)
  for (const mediaField of ['media', 'caption', 'voiceNote'] as const)
    if (input[mediaField] !== undefined)
      throw new ValidationFailed(`${field}.${mediaField}`, `is not allowed when type is ${type}`)
  if (type === 'list' || type === 'buttons') {
    throw new Unprocessable(
      `${field}.type`,
      'message_type_unsupported',
      `${type} messages are not delivered by WhatsApp to personal accounts from linked devices; send a text (a numbered menu) instead`,
    )
  }
  const typeField = FIELD_OF_TYPE[type]
  if (input[typeField] === undefined)
    throw new ValidationFailed(`${field}.${typeField}`, `is required when type is ${type}`)
  for (const other of Object.values(FIELD_OF_TYPE)) {
    if (other !== typeField && input[other] !== undefined)
      throw new ValidationFailed(`${field}.${other}`, `is not allowed when type is ${type}`)
  }
  if (type === 'reaction') {
    if (input.replyTo !== undefined)
      throw new ValidationFailed(`${field}.replyTo`, 'is not allowed on a reaction')
    if (input.mentions !== undefined)
      throw new ValidationFailed(`${field}.mentions`, 'is not allowed on a reaction')
  }
  if (type !== 'text' && input.mentions !== undefined)
    throw new ValidationFailed(`${field}.mentions`, 'is only allowed on a text')
  const content: MessageContent = {}
  if (input.poll) content.poll = checkedPoll(input.poll, `${field}.poll`)
  if (input.location) content.location = input.location
  if (input.contacts)
    content.contacts = input.contacts.map((contact, index) => ({
      ...contact,
      phone: phoneDigitsOf(contact.phone, `${field}.contacts.${index}.phone`, defaultCountry),
    }))
  if (input.reaction) content.reaction = input.reaction
  if (input.replyTo) content.replyTo = input.replyTo
  if (input.mentions)
    content.mentions = input.mentions.map((phone, index) =>
      phoneDigitsOf(phone, `${field}.mentions.${index}`, defaultCountry),
    )
  return { type, content: Object.keys(content).length > 0 ? content : null }
}

/** A poll as stored, or ValidationFailed naming the field: distinct options, a reachable count. */
function checkedPoll(poll: NonNullable<SendMessageInput['poll']>, field: string): MessagePoll {
  // Votes name options by a hash of their text, so two equal options could never be told apart.
  const seen = new Set<string>()
  poll.options.forEach((option, index) => {
    if (option.trim() === '') throw new ValidationFailed(`${field}.options.${index}`, 'must not be blank')
    if (seen.has(option)) throw new ValidationFailed(`${field}.options.${index}`, 'repeats an earlier option')
    seen.add(option)
  })
  if (poll.question.trim() === '') throw new ValidationFailed(`${field}.question`, 'must not be blank')
  const selectableCount = poll.selectableCount ?? 0
  if (selectableCount > poll.options.length)
    throw new ValidationFailed(
      `${field}.selectableCount`,
      `must be at most the number of options (${poll.options.length}); 0 allows any number`,
    )
  return { question: poll.question, options: poll.options, selectableCount }
}

/**
 * The content with a fresh `messageSecret` for a poll: WhatsApp clients encrypt their votes with it,
 * so it is stored with the row (after the request hash, which must not depend on it) and every
 * rebuild of the poll carries the same one.
 */
export function withPollSecret(content: MessageContent | null): MessageContent | null {
  if (!content?.poll || content.pollSecret) return content
  return { ...content, pollSecret: randomBytes(32).toString('base64') }
}

/** A send's input once its template is rendered, naming the template it came from. */
export type RenderedInput = Omit<SendMessageInput, 'template' | 'variables'> & {
  template?: string
  variables?: TemplateVariables
  /** The template that gave the body (its media refusals name `<field>.template`). */
  fromTemplate?: string
}

/**
 * The input with its template rendered: into `text` for a text template, into `type`, `media` and
 * `caption` for a media one (the rendered text is what is stored and shown), or as it is when it
 * names no template. `defaultTemplate` is the broadcast's, for a recipient that gives no body of its
 * own.
 */
export function renderInputTemplate(
  input: SendMessageInput,
  loaded: Map<string, LoadedTemplate>,
  field = 'body',
  defaultTemplate?: string,
): RenderedInput {
  const ownBody =
    input.text !== undefined ||
    input.type !== undefined ||
    input.location !== undefined ||
    input.contacts !== undefined ||
    input.reaction !== undefined ||
    input.poll !== undefined ||
    input.media !== undefined
  const template = input.template ?? (ownBody ? undefined : defaultTemplate)
  if (template === undefined) {
    if (input.variables !== undefined)
      throw new ValidationFailed(`${field}.variables`, 'are only allowed with a template')
    return input
  }
  if (input.text !== undefined) throw new ValidationFailed(`${field}.text`, 'is not allowed with a template')
  const { template: _template, variables, ...rest } = input
  const rendered = renderTenantTemplate(loaded, template, variables ?? {}, field)
  if (input.type !== undefined && input.type !== rendered.type)
    throw new ValidationFailed(
      `${field}.type`,
      `must be ${rendered.type} (or absent): template ${template} sends a ${rendered.type}`,
    )
  if (!rendered.media) return { ...rest, text: rendered.body, fromTemplate: template }
  for (const given of ['media', 'caption'] as const)
    if (input[given] !== undefined)
      throw new ValidationFailed(`${field}.${given}`, `is not allowed: template ${template} gives it`)
  return {
    ...rest,
    type: rendered.type as MediaMessageType,
    media: rendered.media,
    ...(rendered.body !== '' ? { caption: rendered.body } : {}),
    fromTemplate: template,
  }
}

/**
 * A refusal of a template's media file (a fetch that failed, a type it cannot carry), named as the
 * template's: the request gave no media of its own. Any other error as it is.
 */
export function templateMediaRefusal(error: unknown, prefix: string, template: string | undefined): unknown {
  if (template === undefined) return error
  if (!(error instanceof ValidationFailed || error instanceof PayloadTooLarge)) return error
  if (!error.field.startsWith(`${prefix}.media`)) return error
  const what = error.field.slice(prefix.length + 1)
  const reason = error.message.slice(error.field.length + 1)
  const message = `${template}: its ${what} ${reason}`
  return error instanceof PayloadTooLarge
    ? new PayloadTooLarge(`${prefix}.template`, error.limitBytes, message)
    : new ValidationFailed(`${prefix}.template`, message)
}

/**
 * `sendAt` as a time to store: null for none or a time already past (the message goes now), else
 * the instant. ValidationFailed for a time that is not one, or further ahead than a year.
 */
export function scheduledTimeOf(sendAt: string | undefined, field: string, now = Date.now()): Date | null {
  if (sendAt === undefined) return null
  const at = Date.parse(sendAt)
  if (Number.isNaN(at)) throw new ValidationFailed(field, 'is not a valid time')
  if (at > now + MAX_SCHEDULE_AHEAD_MS) throw new ValidationFailed(field, 'must be at most 365 days ahead')
  return at <= now ? null : new Date(at)
}

/** Checks that a message a send refers to (a quote, a reaction) is a message of the session, in the same chat. */
async function requireReferenced(
  ctx: ControlPlaneContext,
  sessionId: string,
  chatId: string,
  messageId: string,
  field: string,
): Promise<void> {
  const [row] = await ctx.database.db
    .select({ chatId: messages.chatId })
    .from(messages)
    .where(and(eq(messages.id, messageId), eq(messages.sessionId, sessionId)))
  if (!row) throw new ValidationFailed(field, 'is not a message of this session')
  if (row.chatId !== chatId) throw new ValidationFailed(field, 'is a message of another chat')
}

/**
 * Stores an outbound message (with its idempotency key) and nudges the owning node, which gives it its
 * WhatsApp id when it claims it. With `sendAt` in the future the row waits as `queued` with that time
 * (`send_after`), and the owner sends it once it is due; a template is rendered here, before storing. The same key returns the same message and never sends twice; reusing a key for a
 * different body is a conflict.
 */
export async function sendMessage({
  ctx,
  tenantId,
  sessionId,
  input,
  idempotencyKey,
  limits = {},
  defaultCountry = ctx.config.DEFAULT_COUNTRY_CODE,
  uploaded,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  input: SendMessageInput & { sendAt?: string }
  idempotencyKey?: string
  /** The limits the operator set for the tenant (`messagesPerMinutePerSession`, `messagesPerDay`). */
  limits?: TenantLimits
  /** The tenant's country for numbers without a country code (default DEFAULT_COUNTRY_CODE). */
  defaultCountry?: string
  /** A media file a multipart request stored already; deleted by the caller if this throws. */
  uploaded?: UploadedMedia
}): Promise<{ message: MessageView; created: boolean }> {
  const session = await requireSession(ctx, tenantId, sessionId)
  const recipient = normalizeRecipient(input.to, defaultCountry)
  if (!recipient.ok) throw new ValidationFailed('body.to', recipient.reason)
  const sendAfter = scheduledTimeOf(input.sendAt, 'body.sendAt')
  const metadata = checkMetadata(input.metadata, 'body')
  // A multipart upload brings its own file: its template (refused below) is not rendered.
  const loaded =
    input.template && !uploaded ? await loadTemplates(ctx, tenantId, [input.template]) : new Map()
  const rendered: RenderedInput = uploaded ? input : renderInputTemplate(input, loaded)
  const mediaSend = mediaSendOf(rendered, !!uploaded)
  if (uploaded && !mediaSend)
    throw new ValidationFailed(
      'body.type',
      'must be image, video, audio, document or sticker with a file part',
    )
  const mediaType = mediaSend?.type
  const decoded = mediaSend?.decoded
  const { type, content } = mediaSend
    ? { type: mediaSend.type, content: mediaSend.content as MessageContent }
    : contentOf(rendered, 'body', defaultCountry)
  // A plain text hashes as it always did, so a retry across an upgrade still matches. A template send
  // hashes what was asked (the template and its variables), not the text it rendered to. A media
  // send hashes its file by its bytes' hash (or its URL), never the bytes.
  const asked = mediaType
    ? {
        to: recipient.jid,
        type,
        content,
        media: {
          file: uploaded ? uploaded.file.sha256 : mediaFingerprint(rendered.media, decoded),
          mimeType: rendered.media?.mimeType ?? null,
          fileName: rendered.media?.fileName ?? uploaded?.fileName ?? null,
        },
      }
    : type === 'text' && !content
      ? { to: recipient.jid, text: input.text }
      : { to: recipient.jid, type, text: input.text ?? null, content }
  const requestHash = createHash('sha256')
    .update(
      JSON.stringify({
        ...asked,
        ...(input.template ? { template: input.template, variables: input.variables ?? {} } : {}),
        ...(input.sendAt !== undefined ? { sendAt: input.sendAt } : {}),
        ...(metadata ? { metadata } : {}),
      }),
    )
    .digest('hex')

  if (idempotencyKey) {
    const existing = await findByIdempotencyKey(ctx, sessionId, idempotencyKey)
    if (existing) return { message: sameRequestOrConflict(existing, requestHash), created: false }
  }
  if (content?.replyTo)
    await requireReferenced(ctx, sessionId, recipient.jid, content.replyTo, 'body.replyTo')
  if (content?.reaction)
    await requireReferenced(
      ctx,
      sessionId,
      recipient.jid,
      content.reaction.messageId,
      'body.reaction.messageId',
    )
  await requireSendable(ctx, session)
  // Counted before a media file is fetched or stored: a client past its limit makes the gateway do
  // no work for it (a send refused after this point still counts, as any accepted request would).
  await countSend({ ctx, tenantId, sessionId, limits })
  const messageId = uploaded?.messageId ?? newId('msg')
  // The file is stored before the row, so the owner never claims a message whose file is partial; it
  // goes again whenever the row is not written (a refusal, a concurrent twin, an error).
  if (mediaType)
    content!.media = await storeSendMedia(ctx, {
      fileKey: messageId,
      type: mediaType,
      media: rendered.media,
      decoded,
      uploaded,
    }).catch((error: unknown) => {
      throw templateMediaRefusal(error, 'body', rendered.fromTemplate)
    })
  const dropFile = async () => {
    if (mediaType) await deleteMediaChunks(ctx.database, messageId)
  }
  let inserted: MessageRow | undefined
  try {
    if (mediaType)
      checkMediaType(
        mediaType,
        content!.media!,
        !!content?.voiceNote,
        uploaded ? 'body.mimeType' : 'body.media.mimeType',
      )
    const now = new Date()
    const rows = await ctx.database.db
      .insert(messages)
      .values({
        id: messageId,
        tenantId,
        sessionId,
        direction: 'out',
        idempotencyKey: idempotencyKey ?? null,
        requestHash,
        chatId: recipient.jid,
        // The owning node gives the row its WhatsApp id when it claims it, before the first attempt.
        waMessageId: null,
        type,
        text: rendered.text ?? null,
        content: withPollSecret(content),
        sendAfter,
        metadata,
        status: 'queued',
        statusHistory: [{ status: 'queued', at: now.toISOString() }],
      })
      .onConflictDoNothing()
      .returning()
    inserted = rows[0]
  } catch (error) {
    await dropFile()
    throw templateMediaRefusal(error, 'body', rendered.fromTemplate)
  }
  if (!inserted) {
    // A concurrent request with the same key won the insert.
    await dropFile()
    const existing = await findByIdempotencyKey(ctx, sessionId, idempotencyKey!)
    return { message: sameRequestOrConflict(existing!, requestHash), created: false }
  }
  if (session.nodeId) await nudgeNode(ctx.coordinator, session.nodeId, { kind: 'send', sessionId })
  return { message: toMessageView(inserted), created: true }
}

/**
 * Counts one send against the session's per-minute limit (`limits.messagesPerMinutePerSession`, else
 * SEND_RATE_LIMIT_PER_MINUTE) and, when the operator set one, the tenant's `messagesPerDay` (a 24 h
 * window from its first send). Both windows are the coordinator's, shared by every control-plane. RateLimited naming the
 * limit and when it resets.
 */
export async function countSend({
  ctx,
  tenantId,
  sessionId,
  limits,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  limits: TenantLimits
}): Promise<void> {
  const perMinute = limits.messagesPerMinutePerSession ?? ctx.config.SEND_RATE_LIMIT_PER_MINUTE
  const minute = await ctx.coordinator.rateLimit(
    coordinationKeys.rateLimit(`send:${sessionId}`),
    perMinute,
    60_000,
  )
  if (!minute.allowed) {
    const retryAfterSeconds = Math.max(1, Math.ceil(minute.retryAfterMs / 1000))
    throw new RateLimited(
      retryAfterSeconds,
      `send rate limit reached: ${perMinute} messages per minute for this session (limits.messagesPerMinutePerSession); retry after ${retryAfterSeconds} s`,
      {
        limit: 'messagesPerMinutePerSession',
        value: perMinute,
        resetAt: new Date(Date.now() + minute.retryAfterMs).toISOString(),
      },
    )
  }
  if (limits.messagesPerDay === undefined) return
  const day = await ctx.coordinator.rateLimit(
    coordinationKeys.dailySends(tenantId),
    limits.messagesPerDay,
    DAILY_SENDS_WINDOW_MS,
  )
  if (!day.allowed) {
    const retryAfterSeconds = Math.max(1, Math.ceil(day.retryAfterMs / 1000))
    throw new RateLimited(
      retryAfterSeconds,
      `daily quota reached: ${limits.messagesPerDay} messages per day for this tenant (limits.messagesPerDay); it resets in ${retryAfterSeconds} s`,
      {
        limit: 'messagesPerDay',
        value: limits.messagesPerDay,
        resetAt: new Date(Date.now() + day.retryAfterMs).toISOString(),
      },
    )
  }
}

export async function findByIdempotencyKey(
  ctx: ControlPlaneContext,
  sessionId: string,
  key: string,
): Promise<MessageRow | undefined> {
  const [row] = await ctx.database.db
    .select()
    .from(messages)
    .where(and(eq(messages.sessionId, sessionId), eq(messages.idempotencyKey, key)))
  return row
}

export function sameRequestOrConflict(row: MessageRow, requestHash: string): MessageView {
  if (row.requestHash !== requestHash) {
    throw new Conflict(
      'Idempotency-Key was already used with a different request body',
      'idempotency_key_reused',
    )
  }
  return toMessageView(row)
}

export async function getMessage({
  ctx,
  tenantId,
  sessionId,
  messageId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  messageId: string
}): Promise<MessageView> {
  await requireSession(ctx, tenantId, sessionId)
  const row = await findSessionMessage(ctx, tenantId, sessionId, messageId)
  if (!row) throw new NotFound('message')
  return toMessageView(row)
}
