import type { Env, Hono } from 'hono'
import { renderPage } from './page.js'

/**
 * `/console`: the operator's and tenants' page. The server renders only the shell; the app under
 * `web/console/` asks for a key and calls the API with it from the browser, so the page itself
 * holds nothing secret and is the same for everyone.
 */
export function registerConsolePage<E extends Env>(app: Hono<E>): void {
  app.get('/console', (c) =>
    c.html(
      renderPage({
        title: 'wa-cluster console',
        styles: ['/assets/app/app.css', '/assets/app/console/console.css'],
        scripts: ['/assets/app/console/main.js'],
      }),
    ),
  )
}
