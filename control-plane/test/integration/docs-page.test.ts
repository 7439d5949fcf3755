import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, recordOffLoopbackRequests, recordPageErrors } from '../../../test-support/browser.js'
import { createTestApi, type TestApi } from '../support/test-context.js'

let api: TestApi
let url: string
let browser: Browser
beforeAll(async () => {
  api = await createTestApi('cp_docs_page')
  url = await api.listen()
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await api?.close()
})

describe('/docs in a real browser', () => {
  it('renders every operation with no request beyond loopback and no script error', async () => {
    const page = await browser.newPage()
    const offLoopback = await recordOffLoopbackRequests(page)
    const errors = recordPageErrors(page)
    await page.goto(`${url}/docs`)
    await page.locator('.opblock').first().waitFor()
    // An operation with several tags is shown once per tag: compare the sets of `method path`.
    const shown = await page
      .locator('.opblock')
      .evaluateAll((blocks) =>
        blocks.map(
          (block) =>
            `${block.querySelector('.opblock-summary-method')?.textContent?.toLowerCase()} ${block.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`,
        ),
      )
    // Paths and the webhook events the document describes (OpenAPI 3.1 `webhooks`).
    const document = (await api.call('GET', '/openapi.json')).body as Record<string, Record<string, object>>
    const documented = Object.entries({ ...document.paths, ...document.webhooks }).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method} ${path}`),
    )
    expect(new Set(shown)).toEqual(new Set(documented))
    expect(await page.getByText('/v1/sessions/{sessionId}/messages').first().isVisible()).toBe(true)
    expect(offLoopback).toEqual([])
    expect(errors).toEqual([])
    // `WRITE_SCREENSHOTS=1` writes the README's picture of /docs; a normal run writes no file.
    if (process.env.WRITE_SCREENSHOTS === '1')
      await page.screenshot({
        path: fileURLToPath(new URL('../../../docs/images/docs.png', import.meta.url)),
      })
  })

  it('is served with a strict Content-Security-Policy and its assets from pinned packages', async () => {
    const response = await api.call('GET', '/docs')
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(response.headers.get('content-security-policy')).not.toContain('unsafe-inline')
    expect(response.text).not.toMatch(/https?:\/\//)
    const bundle = await api.call('GET', '/assets/vendor/swagger-ui-bundle.js')
    expect(bundle.status).toBe(200)
    expect(bundle.headers.get('content-type')).toMatch(/javascript/)
    expect((await api.call('GET', '/assets/vendor/..%2Fpackage.json')).status).toBe(404)
    expect((await api.call('GET', '/assets/app/../../package.json')).status).toBe(404)
  })
})
