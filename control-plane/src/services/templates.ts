import { templates } from '@wa-cluster/db'
import {
  NotFound,
  renderTemplate,
  type TemplateVariables,
  templateVariablesOf,
  ValidationFailed,
} from '@wa-cluster/shared'
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'

export type TemplateView = {
  name: string
  body: string
  variables: string[]
  createdAt: string
  updatedAt: string
}

type TemplateRow = typeof templates.$inferSelect

function toTemplateView(row: TemplateRow): TemplateView {
  return {
    name: row.name,
    body: row.body,
    variables: templateVariablesOf(row.body),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

/** Creates or replaces the tenant's template `name`; `created` tells which. */
export async function putTemplate({
  ctx,
  tenantId,
  name,
  input,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  name: string
  input: { body: string }
}): Promise<{ template: TemplateView; created: boolean }> {
  const [row] = await ctx.database.db
    .insert(templates)
    .values({ tenantId, name, body: input.body })
    .onConflictDoUpdate({
      target: [templates.tenantId, templates.name],
      set: { body: input.body, updatedAt: sql`now()` },
    })
    .returning()
  // An insert stamps both times with the same now(); a replace moves only updated_at.
  return { template: toTemplateView(row!), created: row!.createdAt.getTime() === row!.updatedAt.getTime() }
}

export async function getTemplate({
  ctx,
  tenantId,
  name,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  name: string
}): Promise<TemplateView> {
  const [row] = await ctx.database.db
    .select()
    .from(templates)
    .where(and(eq(templates.tenantId, tenantId), eq(templates.name, name)))
  if (!row) throw new NotFound('template')
  return toTemplateView(row)
}

/** One page of the tenant's templates, by name, after the cursor `after`. */
export async function listTemplates({
  ctx,
  tenantId,
  page,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  page: { after?: string; limit: number }
}): Promise<{ data: TemplateView[]; nextCursor: string | null }> {
  const rows = await ctx.database.db
    .select()
    .from(templates)
    .where(
      and(
        eq(templates.tenantId, tenantId),
        page.after === undefined ? undefined : gt(templates.name, page.after),
      ),
    )
    .orderBy(asc(templates.name))
    .limit(page.limit + 1)
  const data = rows.slice(0, page.limit).map(toTemplateView)
  return { data, nextCursor: rows.length > page.limit ? (data.at(-1)?.name ?? null) : null }
}

export async function deleteTemplate({
  ctx,
  tenantId,
  name,
}: {
  ctx: ControlPlaneContext
  tenantId: string
  name: string
}): Promise<void> {
  const deleted = await ctx.database.db
    .delete(templates)
    .where(and(eq(templates.tenantId, tenantId), eq(templates.name, name)))
    .returning({ name: templates.name })
  if (deleted.length === 0) throw new NotFound('template')
}

/** The bodies of the tenant's templates with these names (the ones that exist). */
export async function loadTemplateBodies(
  ctx: ControlPlaneContext,
  tenantId: string,
  names: string[],
): Promise<Map<string, string>> {
  if (names.length === 0) return new Map()
  const rows = await ctx.database.db
    .select({ name: templates.name, body: templates.body })
    .from(templates)
    .where(and(eq(templates.tenantId, tenantId), inArray(templates.name, [...new Set(names)])))
  return new Map(rows.map((row) => [row.name, row.body]))
}

/**
 * The text of a template with its variables filled in. ValidationFailed naming `field.template` for a
 * template the tenant does not have, and `field.variables.<name>` for the first missing variable (the
 * message lists them all).
 */
export function renderTenantTemplate(
  bodies: Map<string, string>,
  name: string,
  variables: TemplateVariables,
  field: string,
): string {
  const body = bodies.get(name)
  if (body === undefined)
    throw new ValidationFailed(`${field}.template`, `names no template of this tenant: ${name}`)
  const rendered = renderTemplate(body, variables)
  if (!rendered.ok) {
    throw new ValidationFailed(
      `${field}.variables.${rendered.missing[0]}`,
      `is missing: template ${name} needs ${rendered.missing.map((variable) => `{{${variable}}}`).join(', ')}`,
      { missing: rendered.missing },
    )
  }
  if (rendered.text.length > 4096)
    throw new ValidationFailed(
      `${field}.variables`,
      `make the text of template ${name} longer than 4096 characters`,
    )
  return rendered.text
}
