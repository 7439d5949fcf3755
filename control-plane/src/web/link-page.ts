import { Gone, NotFound } from '@wa-cluster/shared'
import type { Context, Hono } from 'hono'
import type { AppEnv } from '../http/env.js'
import { validationHook } from '../http/errors.js'
import { acceptJsonBody } from '../http/request-body.js'
import { LinkPairingCodeBody } from '../http/schemas.js'
import {
  connectLinkedSession,
  type LinkGrant,
  linkPagePath,
  readLinkState,
  resolveSessionLink,
} from '../services/session-links.js'
import { countTenantRequest } from '../services/tenant-limits.js'
import { escapeHtml, renderPage } from './page.js'
import { requireSameOriginJson } from './same-origin.js'

/**
 * `/link/<token>`: the page a tenant hands its customer (see services/session-links.ts), and the
 * JSON endpoints its script calls under the same path. They are pages, not API: the token in the path
 * is the only credential, they stay out of the OpenAPI document, and a bad link is an HTML page
 * (404, or 410 once expired), never a JSON error shown to a person.
 */

const PROBLEM_PAGES = {
  expired: {
    status: 410,
    title: 'This link has expired',
    text: 'Links to connect WhatsApp work for a limited time. Ask whoever sent it to you for a new one.',
  },
  invalid: {
    status: 404,
    title: 'This link is not valid',
    text: 'It may have been copied incompletely, or the number it was for no longer exists. Ask whoever sent it to you for a new one.',
  },
} as const

function problemPage(c: Context<AppEnv>, problem: keyof typeof PROBLEM_PAGES): Response {
  const page = PROBLEM_PAGES[problem]
  return c.html(
    renderPage({
      title: page.title,
      body: `<main class="link-page"><h1>${escapeHtml(page.title)}</h1><p>${escapeHtml(page.text)}</p></main>`,
    }),
    page.status,
  )
}

/** Names the tenant and session on the request's log line (never the token). */
function rememberScope(c: Context<AppEnv>, grant: LinkGrant): void {
  c.set('tenantId', grant.tenantId)
  c.set('sessionId', grant.sessionId)
}

/** The grant of the path's token for the page's JSON calls: 404 when not a link, 410 once expired. */
async function requireLinkGrant(c: Context<AppEnv>): Promise<LinkGrant> {
  const resolution = await resolveSessionLink({ ctx: c.get('ctx'), token: c.req.param('token') ?? '' })
  if (resolution.status === 'expired')
    throw new Gone('this link has expired: ask for a new one', 'link_expired')
  if (resolution.status === 'invalid') throw new NotFound('link')
  rememberScope(c, resolution.grant)
  return resolution.grant
}

/** A state-changing call counts against the tenant's request limit, like the API call it stands for. */
async function countLinkRequest(c: Context<AppEnv>, grant: LinkGrant): Promise<void> {
  await countTenantRequest({ ctx: c.get('ctx'), tenantId: grant.tenantId, stored: grant.tenantLimits })
}

/** The body already passed `acceptJsonBody`: JSON in UTF-8, or nothing (read as `{}`). */
async function jsonBodyOf(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text()
  return text.trim() === '' ? {} : JSON.parse(text)
}

export function registerLinkPage(routes: Hono<AppEnv>): void {
  routes.get('/link/:token', async (c) => {
    const resolution = await resolveSessionLink({ ctx: c.get('ctx'), token: c.req.param('token') })
    if (resolution.status !== 'valid') return problemPage(c, resolution.status)
    rememberScope(c, resolution.grant)
    return c.html(
      renderPage({
        title: 'Connect your WhatsApp',
        styles: ['/assets/app/app.css', '/assets/app/link/link.css'],
        scripts: ['/assets/app/link/link.js'],
        data: { link: linkPagePath(resolution.grant.token) },
        body: '<main id="app" class="link-page"><p>Loading…</p></main>',
      }),
    )
  })
  routes.get('/link/:token/state', async (c) => {
    const grant = await requireLinkGrant(c)
    return c.json(await readLinkState({ ctx: c.get('ctx'), grant }), 200, { 'cache-control': 'no-store' })
  })
  routes.post('/link/:token/connect', requireSameOriginJson, acceptJsonBody, async (c) => {
    const grant = await requireLinkGrant(c)
    await countLinkRequest(c, grant)
    return c.json(await connectLinkedSession({ ctx: c.get('ctx'), grant }), 200)
  })
  routes.post('/link/:token/pairing-code', requireSameOriginJson, acceptJsonBody, async (c) => {
    const grant = await requireLinkGrant(c)
    const parsed = LinkPairingCodeBody.safeParse(await jsonBodyOf(c))
    if (!parsed.success) validationHook({ target: 'json', success: false, error: parsed.error })
    await countLinkRequest(c, grant)
    const pairingPhone = parsed.data!.phone
    return c.json(await connectLinkedSession({ ctx: c.get('ctx'), grant, pairingPhone }), 200)
  })
}
