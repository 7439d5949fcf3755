/**
 * A tenant's own message templates: a body with `{{variable}}` placeholders, rendered server-side
 * before the message is stored, so the stored (and listed) text is what the recipient got.
 */
import type { MediaMessageType } from './media.js'

/** A placeholder: `{{name}}`, spaces inside the braces allowed. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]{0,63})\s*\}\}/g

/** What a variable may hold: a string, or a number or boolean written as text. */
export type TemplateVariables = Record<string, string | number | boolean>

/** The variable names a body uses, in order of first use. */
export function templateVariablesOf(body: string): string[] {
  return [...new Set([...body.matchAll(PLACEHOLDER)].map((match) => match[1]!))]
}

/**
 * The body with every placeholder replaced by its variable, or the variables that are missing (all of
 * them, so one 400 names everything to fix). Variables the body does not use are ignored.
 */
export function renderTemplate(
  body: string,
  variables: TemplateVariables,
): { ok: true; text: string } | { ok: false; missing: string[] } {
  const missing = templateVariablesOf(body).filter((name) => !Object.hasOwn(variables, name))
  if (missing.length > 0) return { ok: false, missing }
  return { ok: true, text: body.replace(PLACEHOLDER, (_, name: string) => String(variables[name])) }
}

/** What a template sends: a text, or a media message whose rendered body is its caption. */
export type TemplateType = 'text' | MediaMessageType

/** A media template's file: a URL the gateway fetches at each send, and what the send would give beside it. */
export type TemplateMedia = { url: string; mimeType?: string; fileName?: string }
