import type { MiddlewareHandler } from 'hono'

/**
 * Headers for every HTML page: scripts, styles and connections only from this origin (so an
 * injected string cannot run or phone home), no framing, no referrer leaking a link page's token.
 * `'unsafe-inline'` is not allowed anywhere; pages carry their data in `data-` attributes instead.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export const pageHeaders: MiddlewareHandler = async (c, next) => {
  await next()
  if (!c.res.headers.get('content-type')?.startsWith('text/html')) return
  c.res.headers.set('content-security-policy', PAGE_CSP)
  c.res.headers.set('x-content-type-options', 'nosniff')
  c.res.headers.set('referrer-policy', 'no-referrer')
  c.res.headers.set('x-frame-options', 'DENY')
  c.res.headers.set('cache-control', 'no-store')
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string)
}

export type PageShell = {
  title: string
  /** Module scripts, by URL (same origin). */
  scripts?: string[]
  /** Classic scripts (UMD bundles), deferred: they run before the module scripts, in order. */
  classicScripts?: string[]
  styles?: string[]
  /** Values the page script reads from `document.body.dataset` (escaped here). */
  data?: Record<string, string>
  /** Server-rendered markup; callers escape what they interpolate. */
  body?: string
}

/** The HTML document every page uses: viewport for phones, the page's styles and module scripts. */
export function renderPage(shell: PageShell): string {
  const styles = (shell.styles ?? ['/assets/app/app.css'])
    .map((href) => `<link rel="stylesheet" href="${escapeHtml(href)}">`)
    .join('\n    ')
  const scripts = [
    ...(shell.classicScripts ?? []).map((src) => `<script defer src="${escapeHtml(src)}"></script>`),
    ...(shell.scripts ?? []).map((src) => `<script type="module" src="${escapeHtml(src)}"></script>`),
  ].join('\n    ')
  const data = Object.entries(shell.data ?? {})
    .map(([key, value]) => ` data-${key}="${escapeHtml(value)}"`)
    .join('')
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(shell.title)}</title>
    <link rel="icon" href="data:,">
    ${styles}
    ${scripts}
  </head>
  <body${data}>
${shell.body ?? '<main id="app"></main>'}
  </body>
</html>
`
}
