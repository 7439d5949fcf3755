import type { Env, Hono } from 'hono'
import { OPENAPI_DOCUMENT_PATH } from '../http/openapi.js'
import { renderPage } from './page.js'

/** `/docs`: Swagger UI from the pinned `swagger-ui-dist`, reading this process's OpenAPI document. */
export function registerDocsPage<E extends Env>(app: Hono<E>): void {
  app.get('/docs', (c) =>
    c.html(
      renderPage({
        title: 'wa-cluster API',
        styles: ['/assets/vendor/swagger-ui.css'],
        classicScripts: ['/assets/vendor/swagger-ui-bundle.js'],
        scripts: ['/assets/app/docs.js'],
        data: { openapi: OPENAPI_DOCUMENT_PATH },
        body: '<div id="swagger-ui"></div>',
      }),
    ),
  )
}
