import { generateWebhookSecret } from '@wa-cluster/core'
import { webhooks } from '@wa-cluster/db'
import { type EventType, NotFound } from '@wa-cluster/shared'
import { eq } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'

/** The tenant's endpoint. The secret is returned because the tenant needs it to verify signatures. */
export type WebhookView = {
  url: string
  /** null = every event type */
  events: EventType[] | null
  secret: string
  createdAt: string
  updatedAt: string
}

export type PutWebhookInput = { url: string; events?: EventType[] | null; rotateSecret?: boolean }

type WebhookRow = typeof webhooks.$inferSelect

/** AAD binds the sealed secret to its tenant: a value copied to another tenant's row does not open. */
function sealingContext(tenantId: string): string {
  return `webhook:${tenantId}`
}

function toWebhookView(ctx: ControlPlaneContext, row: WebhookRow): WebhookView {
  return {
    url: row.url,
    events: (row.events as EventType[] | null) ?? null,
    secret: ctx.secretBox.open(row.secretSealed, sealingContext(row.tenantId)).toString('utf8'),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

async function readWebhook(ctx: ControlPlaneContext, tenantId: string): Promise<WebhookRow | undefined> {
  const [row] = await ctx.database.db.select().from(webhooks).where(eq(webhooks.tenantId, tenantId))
  return row
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
  const existing = await readWebhook(ctx, tenantId)
  const secretSealed =
    existing && !input.rotateSecret
      ? existing.secretSealed
      : ctx.secretBox.seal(Buffer.from(generateWebhookSecret()), sealingContext(tenantId))
  const events = input.events ? [...new Set(input.events)] : null
  const now = new Date()
  const [row] = await ctx.database.db
    .insert(webhooks)
    .values({ tenantId, url: input.url, events, secretSealed })
    .onConflictDoUpdate({
      target: webhooks.tenantId,
      set: { url: input.url, events, secretSealed, updatedAt: now },
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
