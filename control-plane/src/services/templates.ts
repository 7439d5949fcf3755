import { templates } from '@wa-cluster/db'
import {
  isMediaMessageType,
  mimeTypeRefusal,
  NotFound,
  renderTemplate,
  type TemplateMedia,
  type TemplateType,
  type TemplateVariables,
  templateVariablesOf,
  ValidationFailed,
} from '@wa-cluster/shared'
import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm'
import type { ControlPlaneContext } from '../context.js'
import { checkMediaUrl } from './message-media.js'

export type TemplateView = {
  name: string
  type: TemplateType
  body: string
  media?: TemplateMedia
  variables: string[]
  createdAt: string
  updatedAt: string
}

type TemplateRow = typeof templates.$inferSelect

function toTemplateView(row: TemplateRow): TemplateView {
  return {
    name: row.name,
    type: row.type,
    body: row.body,
    ...(row.media ? { media: row.media } : {}),
    variables: templateVariablesOf(row.body),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }
}

export type TemplateInput = { body?: string; type?: TemplateType; media?: TemplateMedia }

/** The longest caption WhatsApp shows. */
const MAX_CAPTION = 1024

/**
 * A template as stored, or ValidationFailed naming the field: a text template has a body and no
 * media; a media template has `media` (a URL the gateway may fetch, checked now as a send would), a
 * body that is its caption (image, video, document) or none (audio, sticker).
 */
function checkedTemplate(
  ctx: ControlPlaneContext,
  input: TemplateInput,
): { type: TemplateType; body: string; media: TemplateMedia | null } {
  const type = input.type ?? 'text'
  if (!isMediaMessageType(type)) {
    if (input.media !== undefined)
      throw new ValidationFailed('body.media', 'is only allowed on a media template')
    if (!input.body) throw new ValidationFailed('body.body', 'is required for a text template')
    return { type, body: input.body, media: null }
  }
  if (!input.media) throw new ValidationFailed('body.media', `is required when type is ${type}`)
  const body = input.body ?? ''
  if (body !== '' && !['image', 'video', 'document'].includes(type))
    throw new ValidationFailed('body.body', `is not allowed when type is ${type}: it has no caption`)
  if (body.length > MAX_CAPTION)
    throw new ValidationFailed('body.body', `must be at most ${MAX_CAPTION} characters: it is the caption`)
  checkMediaUrl(ctx, input.media.url, 'body.media.url')
  if (input.media.mimeType !== undefined) {
    const refusal = mimeTypeRefusal(type, input.media.mimeType, false)
    if (refusal) throw new ValidationFailed('body.media.mimeType', refusal)
  }
  if (input.media.fileName !== undefined && type !== 'document')
    throw new ValidationFailed('body.media.fileName', 'is only allowed on a document')
  return { type, body, media: input.media }
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
  input: TemplateInput
}): Promise<{ template: TemplateView; created: boolean }> {
  const template = checkedTemplate(ctx, input)
  const [row] = await ctx.database.db
    .insert(templates)
    .values({ tenantId, name, ...template })
    .onConflictDoUpdate({
      target: [templates.tenantId, templates.name],
      set: { ...template, updatedAt: sql`now()` },
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

/** A stored template as a send uses it. */
export type LoadedTemplate = { body: string; type: TemplateType; media: TemplateMedia | null }

/** The tenant's templates with these names (the ones that exist). */
export async function loadTemplates(
  ctx: ControlPlaneContext,
  tenantId: string,
  names: string[],
): Promise<Map<string, LoadedTemplate>> {
  if (names.length === 0) return new Map()
  const rows = await ctx.database.db
    .select({ name: templates.name, body: templates.body, type: templates.type, media: templates.media })
    .from(templates)
    .where(and(eq(templates.tenantId, tenantId), inArray(templates.name, [...new Set(names)])))
  return new Map(rows.map(({ name, ...template }) => [name, template]))
}

/**
 * A template with its variables filled in: the text (or a media template's caption) and its kind.
 * ValidationFailed naming `field.template` for a template the tenant does not have, and
 * `field.variables.<name>` for the first missing variable (the message lists them all).
 */
export function renderTenantTemplate(
  loaded: Map<string, LoadedTemplate>,
  name: string,
  variables: TemplateVariables,
  field: string,
): LoadedTemplate {
  const template = loaded.get(name)
  if (template === undefined)
    throw new ValidationFailed(`${field}.template`, `names no template of this tenant: ${name}`)
  const rendered = renderTemplate(template.body, variables)
  if (!rendered.ok) {
    throw new ValidationFailed(
      `${field}.variables.${rendered.missing[0]}`,
      `is missing: template ${name} needs ${rendered.missing.map((variable) => `{{${variable}}}`).join(', ')}`,
      { missing: rendered.missing },
    )
  }
  const limit = template.type === 'text' ? 4096 : MAX_CAPTION
  if (rendered.text.length > limit)
    throw new ValidationFailed(
      `${field}.variables`,
      `make the ${template.type === 'text' ? 'text' : 'caption'} of template ${name} longer than ${limit} characters`,
    )
  return { ...template, body: rendered.text }
}
