import { createHash } from 'node:crypto'
import {
  appendEvent,
  BROADCAST_CANCELLED_ERROR,
  broadcastProgressData,
  deleteBroadcastMediaChunks,
  deleteEndedBroadcastMediaChunks,
  nudgeNode,
  readBroadcastCounts,
} from '@wa-cluster/core'
import { broadcasts, type MessageContent, messages, sessionPacing } from '@wa-cluster/db'
import {
  AppError,
  type BroadcastCounts,
  type BroadcastStatus,
  Conflict,
  type MediaMessageType,
  type MessageError,
  type MessageErrorCode,
  type MessageStatus,
  messageErrorOf,
  mimeTypeRefusal,
  NotFound,
  newId,
  nextWindowOpening,
  normalizeRecipient,
  PayloadTooLarge,
  type SendWindow,
  sendWindowProblem,
  ValidationFailed,
} from '@wa-cluster/shared'
import { and, asc, desc, eq, gt, lt, sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { mediaSendOf, type SendMediaInput, storeSendMedia } from './message-media.js'
import {
  checkMetadata,
  contentOf,
  renderInputTemplate,
  type SendMessageInput,
  scheduledTimeOf,
  templateMediaRefusal,
  withPollSecret,
} from './messages.js'
import { requireSendable, requireSession } from './sessions.js'
import { loadTemplates } from './templates.js'

/** The pause between two recipients when the request names none. */
export const DEFAULT_BROADCAST_DELAY_MS = 3000
/** Recipient rows inserted per statement (well under Postgres' 65,535 bound parameters). */
const INSERT_CHUNK = 500
/** Bad rows a 400 lists in `details.rows` (the message says how many there are in all). */
const MAX_LISTED_BAD_ROWS = 100
/** The most distinct files one broadcast carries (each is fetched or decoded once, when it is created). */
export const MAX_BROADCAST_FILES = 100
/** Files of one broadcast fetched at the same time. */
const FILE_FETCH_CONCURRENCY = 4

export type BroadcastRecipientInput = SendMessageInput

export type CreateBroadcastInput = {
  recipients: BroadcastRecipientInput[]
  template?: string
  delayMs?: number
  jitterMs?: number
  sendAt?: string
  window?: SendWindow
}

export type BroadcastCreatedView = { id: string; status: BroadcastStatus; total: number }

export type BroadcastView = BroadcastCounts & {
  id: string
  sessionId: string
  status: BroadcastStatus
  delayMs: number
  jitterMs: number
  sendAt: string | null
  window: SendWindow | null
  startedAt: string | null
  finishedAt: string | null
  nextSendAt: string | null
  createdAt: string
}

export type BroadcastRecipientView = {
  index: number
  messageId: string
  to: string
  status: MessageStatus
  text: string | null
  metadata: Record<string, unknown> | null
  /** Why it failed (`broadcast_cancelled` for a recipient a cancel left unsent); null unless failed. */
  error: MessageError | null
  sentAt: string | null
}

type BroadcastRow = typeof broadcasts.$inferSelect
type BadRow = { index: number; field: string; reason: string }

/**
 * Stores a broadcast and all its recipients in one transaction, each recipient a `queued` message
 * row with a deterministic idempotency key (`broadcast:<id>:<index>`), and nudges the owning node,
 * which sends them at the session's pace. Every recipient is checked first: one bad row refuses the
 * whole request (400 listing the bad rows by index) and nothing is queued. The same Idempotency-Key
 * with the same body answers with the broadcast it created.
 */
export async function createBroadcast({
  ctx,
  tenantId,
  sessionId,
  input,
  idempotencyKey,
  defaultCountry = ctx.config.DEFAULT_COUNTRY_CODE,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  input: CreateBroadcastInput
  idempotencyKey?: string
  /** The tenant's country for numbers without a country code (default DEFAULT_COUNTRY_CODE). */
  defaultCountry?: string
}): Promise<{ broadcast: BroadcastCreatedView; created: boolean }> {
  const session = await requireSession(ctx, tenantId, sessionId)
  const requestHash = createHash('sha256').update(JSON.stringify(input)).digest('hex')
  if (idempotencyKey) {
    const existing = await findByIdempotencyKey(ctx, tenantId, idempotencyKey)
    if (existing)
      return { broadcast: sameRequestOrConflict(existing, requestHash, sessionId), created: false }
  }
  const minDelayMs = ctx.config.BROADCAST_MIN_DELAY_MS
  if (input.delayMs !== undefined && input.delayMs < minDelayMs)
    throw new ValidationFailed('body.delayMs', `must be at least ${minDelayMs}`)
  if (input.window) {
    const problem = sendWindowProblem(input.window)
    if (problem) throw new ValidationFailed(`body.window.${problem.field}`, problem.reason)
  }
  const sendAt = scheduledTimeOf(input.sendAt, 'body.sendAt')
  const { rows, files } = await checkRecipients(ctx, tenantId, input, defaultCountry)

  await requireSendable(ctx, session)

  const broadcastId = newId('brd')
  await storeBroadcastFiles(ctx, broadcastId, rows, files)
  const now = Date.now()
  const start = sendAt?.getTime() ?? now
  const notBefore = input.window ? (nextWindowOpening(input.window, start) ?? start) : start
  const status: BroadcastStatus = notBefore > now ? 'scheduled' : 'running'
  const queuedAt = new Date(now).toISOString()
  const inserted = await insertBroadcast().catch(async (error: unknown) => {
    await deleteBroadcastMediaChunks(ctx.database, broadcastId)
    throw error
  })
  if (!inserted) {
    // A concurrent request with the same key won the insert.
    await deleteBroadcastMediaChunks(ctx.database, broadcastId)
    const existing = await findByIdempotencyKey(ctx, tenantId, idempotencyKey!)
    return { broadcast: sameRequestOrConflict(existing!, requestHash, sessionId), created: false }
  }
  if (session.nodeId) await nudgeNode(ctx.coordinator, session.nodeId, { kind: 'send', sessionId })
  return { broadcast: { id: inserted.id, status: inserted.status, total: inserted.total }, created: true }

  /** The broadcast and all its recipient rows, in one transaction; undefined when the key's twin won. */
  function insertBroadcast() {
    return ctx.database.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(broadcasts)
        .values({
          id: broadcastId,
          tenantId,
          sessionId,
          idempotencyKey: idempotencyKey ?? null,
          requestHash,
          status,
          total: rows.length,
          delayMs: input.delayMs ?? Math.max(DEFAULT_BROADCAST_DELAY_MS, minDelayMs),
          jitterMs: input.jitterMs ?? 0,
          sendAt,
          window: input.window ?? null,
          notBefore: new Date(notBefore),
        })
        .onConflictDoNothing()
        .returning()
      if (!row) return undefined
      await tx.insert(sessionPacing).values({ sessionId }).onConflictDoNothing()
      for (let from = 0; from < rows.length; from += INSERT_CHUNK) {
        await tx.insert(messages).values(
          rows.slice(from, from + INSERT_CHUNK).map((recipient, offset) => ({
            id: newId('msg'),
            tenantId,
            sessionId,
            direction: 'out' as const,
            idempotencyKey: `broadcast:${broadcastId}:${from + offset}`,
            chatId: recipient.chatId,
            waMessageId: null,
            type: recipient.type,
            text: recipient.text,
            content: recipient.content,
            status: 'queued' as const,
            statusHistory: [{ status: 'queued' as const, at: queuedAt }],
            broadcastId,
            broadcastIndex: from + offset,
            metadata: recipient.metadata,
          })),
        )
      }
      return row
    })
  }
}

type CheckedRecipient = {
  chatId: string
  type: string
  text: string | null
  content: MessageContent | null
  metadata: Record<string, unknown> | null
}

/** One distinct file of a broadcast, and the rows that send it (with the template each took it from). */
type BroadcastFile = {
  type: MediaMessageType
  media: SendMediaInput
  decoded: Buffer | undefined
  rows: { index: number; fromTemplate?: string }[]
}

/** Every recipient as it will be stored, or ValidationFailed listing every bad row by index. */
async function checkRecipients(
  ctx: ControlPlaneContext,
  tenantId: string,
  input: CreateBroadcastInput,
  defaultCountry: string,
): Promise<{ rows: CheckedRecipient[]; files: BroadcastFile[] }> {
  const names = input.recipients.flatMap((recipient) => (recipient.template ? [recipient.template] : []))
  if (input.template) names.push(input.template)
  const loaded = await loadTemplates(ctx, tenantId, names)
  const bad: BadRow[] = []
  const checked: CheckedRecipient[] = []
  const files = new Map<string, BroadcastFile>()
  input.recipients.forEach((recipient, index) => {
    const field = `body.recipients.${index}`
    try {
      const to = normalizeRecipient(recipient.to, defaultCountry)
      if (!to.ok) throw new ValidationFailed(`${field}.to`, to.reason)
      // A broadcast sends new messages: quoting or reacting names one earlier message of one chat.
      if (recipient.replyTo !== undefined)
        throw new ValidationFailed(`${field}.replyTo`, 'is not allowed in a broadcast')
      if (recipient.type === 'reaction' || recipient.reaction !== undefined)
        throw new ValidationFailed(`${field}.type`, 'reaction is not allowed in a broadcast')
      const { metadata: asked, ...message } = recipient
      const metadata = checkMetadata(asked, field)
      const rendered = renderInputTemplate(message, loaded, field, input.template)
      const mediaSend = mediaSendOf(rendered, false, field)
      if (mediaSend) {
        const { type: mediaType, content, decoded } = mediaSend
        const media = rendered.media!
        // Rows that send the same file the same way share one stored copy.
        const source = decoded ? createHash('sha256').update(decoded).digest('hex') : media.url
        const key = JSON.stringify([mediaType, source, media.mimeType, media.fileName])
        let file = files.get(key)
        if (!file) {
          if (files.size >= MAX_BROADCAST_FILES)
            throw new ValidationFailed(
              `${field}.media`,
              `is one file too many: a broadcast carries at most ${MAX_BROADCAST_FILES} distinct files (send per-recipient files one at a time, with sendAt)`,
            )
          file = { type: mediaType, media, decoded, rows: [] }
          files.set(key, file)
        }
        file.rows.push({
          index,
          ...(rendered.fromTemplate ? { fromTemplate: rendered.fromTemplate } : {}),
        })
        checked.push({ chatId: to.jid, type: mediaType, text: null, content, metadata })
        return
      }
      const { type, content } = contentOf(rendered, field, defaultCountry)
      checked.push({
        chatId: to.jid,
        type,
        text: rendered.text ?? null,
        content: withPollSecret(content),
        metadata,
      })
    } catch (error) {
      if (!(error instanceof AppError) || !('field' in error)) throw error
      bad.push({ index, field: String(error.field), reason: error.message })
    }
  })
  if (bad.length > 0) throw badRowsError(bad)
  return { rows: checked, files: [...files.values()] }
}

/** The 400 of a broadcast with bad rows, listing them by index. */
function badRowsError(bad: BadRow[]): ValidationFailed {
  bad.sort((a, b) => a.index - b.index)
  const listed = bad
    .slice(0, 5)
    .map((row) => row.reason)
    .join('; ')
  return new ValidationFailed(
    'body.recipients',
    `has ${bad.length} invalid row${bad.length === 1 ? '' : 's'} (indexes ${bad
      .slice(0, 20)
      .map((row) => row.index)
      .join(', ')}${bad.length > 20 ? ', …' : ''}): ${listed}${bad.length > 5 ? '; …' : ''}`,
    { rows: bad.slice(0, MAX_LISTED_BAD_ROWS) },
  )
}

/**
 * Stores each distinct file of the broadcast once (`<broadcast id>/<n>`, a few fetched at a time) and
 * points the rows that send it at it. When a file cannot be had, or a row's kind cannot carry its type,
 * every file stored is deleted and the 400 lists the rows concerned.
 */
async function storeBroadcastFiles(
  ctx: ControlPlaneContext,
  broadcastId: string,
  rows: CheckedRecipient[],
  files: BroadcastFile[],
): Promise<void> {
  if (files.length === 0) return
  const bad: BadRow[] = []
  /** A refusal of row `index`'s file (`what`: `media.url`…), named as its template's when it took the file from one. */
  const refuseRow = (index: number, fromTemplate: string | undefined, what: string, reason: string) => {
    const field = `body.recipients.${index}`
    const named = templateMediaRefusal(
      new ValidationFailed(`${field}.${what}`, reason),
      field,
      fromTemplate,
    ) as ValidationFailed
    bad.push({ index, field: named.field, reason: named.message })
  }
  let failure: unknown
  let next = 0
  const storeNext = async (): Promise<void> => {
    while (next < files.length && failure === undefined) {
      const n = next++
      const file = files[n]!
      const fileKey = `${broadcastId}/${n}`
      const first = file.rows[0]!.index
      try {
        const media = await storeSendMedia(ctx, {
          fileKey,
          type: file.type,
          media: file.media,
          decoded: file.decoded,
          prefix: `body.recipients.${first}`,
        })
        for (const { index, fromTemplate } of file.rows) {
          const content = rows[index]!.content!
          const refusal = mimeTypeRefusal(file.type, media.mimeType, !!content.voiceNote)
          if (refusal) refuseRow(index, fromTemplate, 'media.mimeType', refusal)
          content.media = media
          content.mediaFile = fileKey
        }
      } catch (error) {
        if (!(error instanceof ValidationFailed || error instanceof PayloadTooLarge)) {
          failure = error
          return
        }
        // The file's refusal, named for each row that sends it.
        const what = error.field.slice(`body.recipients.${first}.`.length)
        const reason = error.message.slice(error.field.length + 1)
        for (const { index, fromTemplate } of file.rows) refuseRow(index, fromTemplate, what, reason)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(FILE_FETCH_CONCURRENCY, files.length) }, storeNext))
  if (failure !== undefined || bad.length > 0) {
    await deleteBroadcastMediaChunks(ctx.database, broadcastId)
    throw failure ?? badRowsError(bad)
  }
}

async function findByIdempotencyKey(
  ctx: ControlPlaneContext,
  tenantId: string,
  key: string,
): Promise<BroadcastRow | undefined> {
  const [row] = await ctx.database.db
    .select()
    .from(broadcasts)
    .where(and(eq(broadcasts.tenantId, tenantId), eq(broadcasts.idempotencyKey, key)))
  return row
}

function sameRequestOrConflict(
  row: BroadcastRow,
  requestHash: string,
  sessionId: string,
): BroadcastCreatedView {
  if (row.requestHash !== requestHash || row.sessionId !== sessionId) {
    throw new Conflict(
      'Idempotency-Key was already used with a different request body',
      'idempotency_key_reused',
    )
  }
  return { id: row.id, status: row.status, total: row.total }
}

async function requireBroadcast(
  ctx: ControlPlaneContext,
  tenantId: string,
  broadcastId: string,
): Promise<BroadcastRow> {
  const [row] = await ctx.database.db
    .select()
    .from(broadcasts)
    .where(and(eq(broadcasts.id, broadcastId), eq(broadcasts.tenantId, tenantId)))
  if (!row) throw new NotFound('broadcast')
  return row
}

async function toBroadcastView(ctx: ControlPlaneContext, row: BroadcastRow): Promise<BroadcastView> {
  const counts = await readBroadcastCounts(ctx.database.db, row.id)
  let nextSendAt: string | null = null
  if ((row.status === 'scheduled' || row.status === 'running') && counts.queued > 0) {
    const [pace] = await ctx.database.db
      .select({ nextSendAt: sessionPacing.nextSendAt })
      .from(sessionPacing)
      .where(eq(sessionPacing.sessionId, row.sessionId))
    const next = Math.max(row.notBefore.getTime(), pace?.nextSendAt.getTime() ?? 0)
    nextSendAt = new Date(next).toISOString()
  }
  return {
    id: row.id,
    sessionId: row.sessionId,
    status: row.status,
    ...counts,
    delayMs: row.delayMs,
    jitterMs: row.jitterMs,
    sendAt: row.sendAt?.toISOString() ?? null,
    window: row.window,
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    nextSendAt,
    createdAt: row.createdAt.toISOString(),
  }
}

export async function getBroadcast({
  ctx,
  tenantId,
  broadcastId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  broadcastId: string
}): Promise<BroadcastView> {
  return toBroadcastView(ctx, await requireBroadcast(ctx, tenantId, broadcastId))
}

/** One page of a session's broadcasts, newest first, each with its counts, after the cursor `after`. */
export async function listBroadcasts({
  ctx,
  tenantId,
  sessionId,
  page,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  sessionId: string
  page: { after?: string; limit: number }
}): Promise<{ data: BroadcastView[]; nextCursor: string | null }> {
  await requireSession(ctx, tenantId, sessionId)
  const rows = await ctx.database.db
    .select()
    .from(broadcasts)
    .where(
      and(
        eq(broadcasts.tenantId, tenantId),
        eq(broadcasts.sessionId, sessionId),
        page.after === undefined ? undefined : lt(broadcasts.id, page.after),
      ),
    )
    .orderBy(desc(broadcasts.id))
    .limit(page.limit + 1)
  const data = await Promise.all(rows.slice(0, page.limit).map((row) => toBroadcastView(ctx, row)))
  return { data, nextCursor: rows.length > page.limit ? (data.at(-1)?.id ?? null) : null }
}

/** One page of a broadcast's recipients, in request order, after the index `after`. */
export async function listBroadcastRecipients({
  ctx,
  tenantId,
  broadcastId,
  page,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  broadcastId: string
  page: { after?: number; limit: number }
}): Promise<{ data: BroadcastRecipientView[]; nextCursor: string | null }> {
  await requireBroadcast(ctx, tenantId, broadcastId)
  const rows = await ctx.database.db
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.broadcastId, broadcastId),
        page.after === undefined ? undefined : gt(messages.broadcastIndex, page.after),
      ),
    )
    .orderBy(asc(messages.broadcastIndex))
    .limit(page.limit + 1)
  const data = rows.slice(0, page.limit).map((row) => ({
    index: row.broadcastIndex ?? 0,
    messageId: row.id,
    to: row.chatId,
    // A broadcast's rows are outbound: never `received`.
    status: row.status as MessageStatus,
    text: row.text,
    metadata: row.metadata,
    error: messageErrorOf(row.errorCode, row.error),
    sentAt: row.statusHistory.find((entry) => entry.status === 'sent')?.at ?? null,
  }))
  return { data, nextCursor: rows.length > page.limit ? String(data.at(-1)?.index) : null }
}

/** Stops sending the broadcast's recipients until it is resumed; a send already under way completes. */
export async function pauseBroadcast({
  ctx,
  tenantId,
  broadcastId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  broadcastId: string
}): Promise<BroadcastView> {
  const [row] = await ctx.database.db
    .update(broadcasts)
    .set({ status: 'paused', updatedAt: sql`now()` })
    .where(
      and(
        eq(broadcasts.id, broadcastId),
        eq(broadcasts.tenantId, tenantId),
        sql`${broadcasts.status} IN ('scheduled', 'running')`,
      ),
    )
    .returning()
  if (!row) return refuse(ctx, tenantId, broadcastId, 'pause')
  return toBroadcastView(ctx, row)
}

/** Sends a paused broadcast's remaining recipients again, at the session's pace. */
export async function resumeBroadcast({
  ctx,
  tenantId,
  broadcastId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  broadcastId: string
}): Promise<BroadcastView> {
  const [row] = await ctx.database.db
    .update(broadcasts)
    .set({
      status: sql`CASE WHEN ${broadcasts.notBefore} > now() THEN 'scheduled' ELSE 'running' END`,
      updatedAt: sql`now()`,
    })
    .where(
      and(eq(broadcasts.id, broadcastId), eq(broadcasts.tenantId, tenantId), eq(broadcasts.status, 'paused')),
    )
    .returning()
  if (!row) return refuse(ctx, tenantId, broadcastId, 'resume')
  // Paused while its last recipient was being sent: nothing is left, so it is done now.
  const finished = await completeIfNothingLeft(ctx, tenantId, row)
  if (finished) return toBroadcastView(ctx, finished)
  await nudgeOwner(ctx, tenantId, row.sessionId)
  return toBroadcastView(ctx, row)
}

/** Completes a running broadcast with no recipient left to send, with its `broadcast.completed`. */
async function completeIfNothingLeft(
  ctx: ControlPlaneContext,
  tenantId: string,
  row: BroadcastRow,
): Promise<BroadcastRow | undefined> {
  const finished = await ctx.database.db.transaction(async (tx) => {
    const [completed] = await tx
      .update(broadcasts)
      .set({ status: 'completed', finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(
        and(
          eq(broadcasts.id, row.id),
          sql`${broadcasts.status} IN ('scheduled', 'running')`,
          sql`NOT EXISTS (SELECT 1 FROM messages WHERE broadcast_id = ${row.id} AND status IN ('queued', 'sending'))`,
        ),
      )
      .returning()
    if (!completed) return undefined
    const data = await broadcastProgressData(tx, row.id, 'completed')
    await appendEvent(tx, {
      sessionId: row.sessionId,
      tenantId,
      type: 'broadcast.completed',
      data: { ...data, finishedAt: completed.finishedAt!.toISOString() },
    })
    return completed
  })
  if (finished) await deleteEndedBroadcastMediaChunks(ctx.database, row.id)
  return finished
}

/**
 * Ends the broadcast: its recipients not sent yet become `failed` ("broadcast cancelled") and a
 * `broadcast.completed` event says so, in one transaction. A send already under way completes.
 */
export async function cancelBroadcast({
  ctx,
  tenantId,
  broadcastId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  broadcastId: string
}): Promise<BroadcastView> {
  const row = await ctx.database.db.transaction(async (tx) => {
    const [cancelled] = await tx
      .update(broadcasts)
      .set({ status: 'cancelled', finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(
        and(
          eq(broadcasts.id, broadcastId),
          eq(broadcasts.tenantId, tenantId),
          sql`${broadcasts.status} IN ('scheduled', 'running', 'paused')`,
        ),
      )
      .returning()
    if (!cancelled) return undefined
    await tx.execute(sql`
      UPDATE messages SET status = 'failed', error = ${BROADCAST_CANCELLED_ERROR},
        error_code = ${'broadcast_cancelled' satisfies MessageErrorCode}, updated_at = now(),
        status_history = status_history || jsonb_build_array(jsonb_build_object('status', 'failed', 'at', now()))
      WHERE broadcast_id = ${broadcastId} AND status = 'queued'`)
    const data = await broadcastProgressData(tx, broadcastId, 'cancelled')
    await appendEvent(tx, {
      sessionId: cancelled.sessionId,
      tenantId,
      type: 'broadcast.completed',
      data: { ...data, finishedAt: cancelled.finishedAt!.toISOString() },
    })
    return cancelled
  })
  if (!row) return refuse(ctx, tenantId, broadcastId, 'cancel')
  await deleteEndedBroadcastMediaChunks(ctx.database, broadcastId)
  return toBroadcastView(ctx, row)
}

/** NotFound for an unknown broadcast, else Conflict naming the state that does not allow `action`. */
async function refuse(
  ctx: ControlPlaneContext,
  tenantId: string,
  broadcastId: string,
  action: string,
): Promise<never> {
  const row = await requireBroadcast(ctx, tenantId, broadcastId)
  throw new Conflict(`cannot ${action} a broadcast that is ${row.status}`, `broadcast_${row.status}`)
}

async function nudgeOwner(ctx: ControlPlaneContext, tenantId: string, sessionId: string): Promise<void> {
  const session = await requireSession(ctx, tenantId, sessionId).catch(() => undefined)
  if (session?.nodeId) await nudgeNode(ctx.coordinator, session.nodeId, { kind: 'send', sessionId })
}
