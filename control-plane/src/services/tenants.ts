import { listTenantSessions } from '@wa-cluster/core'
import { apiKeys, tenants } from '@wa-cluster/db'
import { NotFound, newId } from '@wa-cluster/shared'
import { desc, eq } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { newApiKeyRecord } from './api-keys.js'
import { deleteSession } from './sessions.js'

export type TenantView = { id: string; name: string; createdAt: string }

type TenantRow = typeof tenants.$inferSelect

function toTenantView(row: TenantRow): TenantView {
  return { id: row.id, name: row.name, createdAt: row.createdAt.toISOString() }
}

/** Creates the tenant with its first API key in one transaction; the plain key is returned once. */
export async function createTenant({
  ctx,
  input,
}: {
  ctx: ControlPlaneContext
  input: { name: string }
}): Promise<TenantView & { apiKey: string }> {
  const tenantId = newId('ten')
  const { row: keyRow, apiKey } = newApiKeyRecord(tenantId, 'default')
  const tenant = await ctx.database.db.transaction(async (tx) => {
    const [inserted] = await tx.insert(tenants).values({ id: tenantId, name: input.name }).returning()
    await tx.insert(apiKeys).values(keyRow)
    return inserted!
  })
  return { ...toTenantView(tenant), apiKey }
}

export async function listTenants({ ctx }: { ctx: ControlPlaneContext }): Promise<TenantView[]> {
  const rows = await ctx.database.db.select().from(tenants).orderBy(desc(tenants.id))
  return rows.map(toTenantView)
}

export async function getTenant({
  ctx,
  tenantId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
}): Promise<TenantView> {
  const [row] = await ctx.database.db.select().from(tenants).where(eq(tenants.id, tenantId))
  if (!row) throw new NotFound('tenant')
  return toTenantView(row)
}

/**
 * Deletes the tenant and everything it owns. Sessions go first through `deleteSession` so live sockets
 * are logged out on the phone and credentials wiped; the rest (keys, webhook, events) cascades.
 */
export async function deleteTenant({
  ctx,
  tenantId,
}: {
  ctx: ControlPlaneContext
  tenantId: string
}): Promise<void> {
  await getTenant({ ctx, tenantId })
  const owned = await listTenantSessions(ctx.database, tenantId)
  for (const session of owned) {
    await deleteSession({ ctx, tenantId, sessionId: session.id }).catch((error: unknown) => {
      // A session already gone (deleted concurrently) must not stop the tenant's deletion.
      if (!(error instanceof NotFound)) throw error
    })
  }
  await ctx.database.db.delete(tenants).where(eq(tenants.id, tenantId))
}
