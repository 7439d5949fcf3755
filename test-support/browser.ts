import { existsSync } from 'node:fs'
import { type Browser, chromium, type Page } from 'playwright-core'

/** Debian's Chromium (`apt-get install -y chromium`); `CHROMIUM_PATH` points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Headless Chromium for the page tests. When it is missing the test fails and says how to install
 * it: a page test that skips itself would pass on a machine where nothing was checked.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `page tests need Chromium at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` ` +
        '(.ci/run does) or set CHROMIUM_PATH',
    )
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
  })
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/**
 * Records every request the page makes to anything but loopback (a CDN, a font service): the pages
 * must work on a machine with no internet. Such requests are aborted, as they would fail offline.
 */
export async function recordOffLoopbackRequests(page: Page): Promise<string[]> {
  const offLoopback: string[] = []
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if ((url.protocol === 'http:' || url.protocol === 'https:') && !LOOPBACK.has(url.hostname)) {
      offLoopback.push(url.href)
      return route.abort()
    }
    return route.continue()
  })
  return offLoopback
}

/** Collects console errors and uncaught page errors (a CSP violation shows up here). */
export function recordPageErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })
  return errors
}
