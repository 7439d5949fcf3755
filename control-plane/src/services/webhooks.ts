import { checkOutboundUrl, generateWebhookSecret, webhookSecretSealContext } from '@wa-cluster/core'
import { webhooks } from '@wa-cluster/db'
import { type EventType, NotFound, ValidationFailed } from '@wa-cluster/shared'
import { eq } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'

/** The tenant's endpoint. The secret is returned because the tenant needs it to verify signatures. */
export type WebhookView = {
  url: string
  /** null = every event type */
  events: EventType[] | null
  secret: string
  /** Until then the secret before the last rotation signs too; null when none. */
  previousSecretExpiresAt: string | null
  createdAt: string
  updatedAt: string
}

export type PutWebhookInput = {
  url: string
  events?: EventType[] | null
  rotateSecret?: boolean
  /** With rotateSecret: how long the old secret keeps signing beside the new one. Default a day. */
  gracePeriodSeconds?: number
}

/** Grace period of a rotated-out secret unless the request says otherwise: a day. */
export const DEFAULT_SECRET_GRACE_SECONDS = 86_400

type WebhookRow = typeof webhooks.$inferSelect

/**
 * The URL as the API shows it: a password in it (`https://user:pass@host/`) is replaced by `****`, so a
 * credential the tenant put in the URL is not echoed to every reader of the endpoint (or its logs).
 */
export function maskUrlPassword(url: string): string {
  try {
    const parsed = new URL(url)
    if (!parsed.password) return url
    parsed.password = '****'
    return parsed.toString()
  } catch {
    return url
  }
}

function toWebhookView(ctx: ControlPlaneContext, row: WebhookRow): WebhookView {
  return {
    url: maskUrlPassword(row.url),
    events: (row.events as EventType[] | null) ?? null,
    secret: ctx.secretBox.open(row.secretSealed, webhookSecretSealContext(row.tenantId)).toString('utf8'),
    previousSecretExpiresAt:
      row.previousSecretExpiresAt && row.previousSecretExpiresAt.getTime() > Date.now()
        ? row.previousSecretExpiresAt.toISOString()
        : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

async function readWebhook(ctx: ControlPlaneContext, tenantId: string): Promise<WebhookRow | undefined> {
  const [row] = await ctx.database.db.select().from(webhooks).where(eq(webhooks.tenantId, tenantId))
  return row
}

/** How long the set-time check waits for DNS; past it the name is judged again at connect time. */
const URL_CHECK_TIMEOUT_MS = 3_000

/**
 * Refuses a URL that targets a loopback, private, link-local, CGNAT, unique-local or metadata host
 * (any spelling, or a name resolving to one) unless ALLOW_PRIVATE_NETWORKS allows it. The dispatcher
 * checks again when it connects, with the address pinned, so this is the early, readable refusal.
 */
export async function assertWebhookUrlAllowed(
  ctx: ControlPlaneContext,
  url: string,
  field: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), URL_CHECK_TIMEOUT_MS)
  })
  try {
    const refusal = await Promise.race([checkOutboundUrl(url, ctx.outboundPolicy), timedOut])
    if (refusal)
      throw new ValidationFailed(
        field,
        `must not target a private network (${refusal}); an operator can allow it with ALLOW_PRIVATE_NETWORKS`,
      )
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Creates or replaces the tenant's webhook. The signing secret is generated on the first PUT and kept
 * on later ones (receivers keep verifying) unless `rotateSecret` asks for a new one.
 */
export async function putWebhook({
  ctx,
  tenantId,
  input,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  input: PutWebhookInput
}): Promise<WebhookView> {
  await assertWebhookUrlAllowed(ctx, input.url, 'body.url')
  const existing = await readWebhook(ctx, tenantId)
  const rotating = existing !== undefined && input.rotateSecret === true
  const secretSealed =
    existing && !rotating
      ? existing.secretSealed
      : ctx.secretBox.seal(Buffer.from(generateWebhookSecret()), webhookSecretSealContext(tenantId))
  // Rotating keeps the old secret signing for the grace period, so receivers can switch without
  // rejecting a delivery; otherwise whatever grace is running stays as it is.
  const graceSeconds = input.gracePeriodSeconds ?? DEFAULT_SECRET_GRACE_SECONDS
  const previous = rotating
    ? graceSeconds > 0
      ? { sealed: existing.secretSealed, expiresAt: new Date(Date.now() + graceSeconds * 1000) }
      : { sealed: null, expiresAt: null }
    : { sealed: existing?.previousSecretSealed ?? null, expiresAt: existing?.previousSecretExpiresAt ?? null }
  const events = input.events ? [...new Set(input.events)] : null
  const now = new Date()
  const values = {
    url: input.url,
    events,
    secretSealed,
    previousSecretSealed: previous.sealed,
    previousSecretExpiresAt: previous.expiresAt,
  }
  const [row] = await ctx.database.db
    .insert(webhooks)
    .values({ tenantId, ...values })
    .onConflictDoUpdate({
      target: webhooks.tenantId,
      set: { ...values, updatedAt: now },
    })
    .returning()
  return toWebhookView(ctx, row!)
}

export async function getWebhook({
  ctx,
  tenantId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
}): Promise<WebhookView> {
  const row = await readWebhook(ctx, tenantId)
  if (!row) throw new NotFound('webhook')
  return toWebhookView(ctx, row)
}

/** Removes the endpoint; events keep being recorded in the outbox and stay listable. */
export async function deleteWebhook({
  ctx,
  tenantId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
}): Promise<void> {
  const deleted = await ctx.database.db
    .delete(webhooks)
    .where(eq(webhooks.tenantId, tenantId))
    .returning({ tenantId: webhooks.tenantId })
  if (deleted.length === 0) throw new NotFound('webhook')
}
