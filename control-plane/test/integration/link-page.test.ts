import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { createSecretBox, parseSecretBoxKey } from '@wa-cluster/shared'
import { startSimulator } from '@wa-cluster/wa-sim'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, recordOffLoopbackRequests, recordPageErrors } from '../../../test-support/browser.js'
import { type Cluster, startCluster } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/wait.js'
import { sealLinkToken } from '../../src/services/session-links.js'

/**
 * The link page a tenant hands its customer, in headless Chromium against a real control-plane and
 * session-node process, with Baileys linking through wa-sim: the simulated phone scans the QR the page
 * shows (or types the pairing code it shows), and the page moves on by itself.
 */
describe.sequential('link page for end customers', () => {
  const PHONE_VIEWPORT = { width: 390, height: 844 }
  const XSS = '<img src=x onerror=alert(1)>'
  /** The page reads the state every 1.5 s; a loaded machine may take a few polls to render a change. */
  const PAGE_WAIT = { timeout: 15_000 }
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let browser: Browser
  let admin: WaClusterClient
  let tenant: WaClusterClient
  let tenantId: string
  let gatewayUrl: string
  /** The tenant's own site, where the page sends the customer back (another loopback origin). */
  let shop: Server
  let shopUrl: string
  const pages: Page[] = []

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    cluster = await startCluster({
      controlPlanes: 1,
      sessionNodes: 1,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: { BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn' },
    })
    gatewayUrl = cluster.controlPlanes[0]!.url
    admin = createClient({ baseUrl: gatewayUrl, apiKey: cluster.adminKey })
    const created = (await admin.POST('/v1/tenants', { body: { name: 'Klinik Sehat' } })).data!
    tenantId = created.id
    tenant = createClient({ baseUrl: gatewayUrl, apiKey: created.apiKey })
    shop = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      response.end('<!doctype html><title>Shop</title><p>Welcome back</p>')
    })
    await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve))
    shopUrl = `http://127.0.0.1:${(shop.address() as AddressInfo).port}`
    browser = await launchBrowser()
  })
  afterAll(async () => {
    for (const page of pages) await page.close().catch(() => {})
    await browser?.close()
    shop?.close()
    await cluster?.stop()
    await sim?.stop()
  })

  async function newSession(client: WaClusterClient, name: string): Promise<string> {
    return (await client.POST('/v1/sessions', { body: { name } })).data!.id
  }

  async function newLink(
    client: WaClusterClient,
    sessionId: string,
    body: { returnUrl?: string; ttlSeconds?: number } = {},
  ) {
    const { data, error, response } = await client.POST('/v1/sessions/{sessionId}/link', {
      params: { path: { sessionId } },
      body,
    })
    if (!data) throw new Error(`link: ${response.status} ${JSON.stringify(error)}`)
    expect(response.status).toBe(201)
    return data
  }

  /** A phone-sized page that records requests beyond loopback, script errors and dialogs. */
  async function phonePage() {
    const page = await browser.newPage({ viewport: PHONE_VIEWPORT })
    pages.push(page)
    const offLoopback = await recordOffLoopbackRequests(page)
    const errors = recordPageErrors(page)
    const dialogs: string[] = []
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
    return { page, offLoopback, errors, dialogs }
  }

  const sessionOf = async (sessionId: string) =>
    (await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })).data!

  const noHorizontalOverflow = (page: Page) =>
    page.evaluate<boolean>('document.documentElement.scrollWidth <= window.innerWidth')

  it('shows the tenant and the live QR, links when the phone scans it, and returns to returnUrl by itself', {
    timeout: 180_000,
  }, async () => {
    const sessionId = await newSession(tenant, 'Front desk')
    const link = await newLink(tenant, sessionId, { returnUrl: `${shopUrl}/linked?ref=42` })
    expect(link.url).toMatch(new RegExp(`^${gatewayUrl}/link/wsl_[A-Za-z0-9_-]+$`))
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(3500 * 1000)
    expect(link.url).not.toContain(cluster.adminKey)

    const { page, offLoopback, errors, dialogs } = await phonePage()
    const opened = await page.goto(link.url)
    expect(opened?.status()).toBe(200)
    expect(opened?.headers()['content-security-policy']).toContain("script-src 'self'")
    await expect.poll(() => page.locator('.link-tenant').textContent(), PAGE_WAIT).toBe('Klinik Sehat')
    const qrImage = page.getByRole('img', { name: 'QR code to scan with WhatsApp' })
    await qrImage.waitFor()
    expect(await qrImage.getAttribute('src')).toMatch(/^data:image\/png;base64,/)
    // The page connected the session itself; the QR it shows is the session's current one.
    const currentQr = async () => {
      const { data } = await tenant.GET('/v1/sessions/{sessionId}/qr', { params: { path: { sessionId } } })
      return typeof data === 'object' && data.qr ? data : undefined
    }
    const first = await eventually('the QR in the API', currentQr)
    await expect.poll(() => qrImage.getAttribute('src'), PAGE_WAIT).toBe(first.qrImage)
    expect(await noHorizontalOverflow(page)).toBe(true)
    if (process.env.WRITE_SCREENSHOTS === '1') {
      await page.screenshot({ path: new URL('../../../docs/images/link-page.png', import.meta.url).pathname })
    }
    // WhatsApp rotates the QR (the first after 60 s): the page shows the new one in the same element,
    // without a reload, and that is the one the phone scans.
    const shownImage = await qrImage.elementHandle()
    const qr = await eventually(
      'the next QR',
      async () => {
        const next = await currentQr()
        return next && next.qr !== first.qr ? next : undefined
      },
      90_000,
      1000,
    )
    await expect.poll(() => qrImage.getAttribute('src'), PAGE_WAIT).toBe(qr.qrImage)
    expect(await shownImage!.evaluate((image) => image.isConnected)).toBe(true)
    expect(page.url()).toBe(link.url)

    await sim.scan({ qr: qr.qr!, phone: '6281311110001', pushName: 'Customer' })
    await page.waitForURL(`${shopUrl}/linked?ref=42`, { timeout: 30_000 })
    expect(page.url()).toBe(`${shopUrl}/linked?ref=42`)
    expect((await sessionOf(sessionId)).state).toBe('CONNECTED')
    expect(offLoopback).toEqual([])
    expect(errors).toEqual([])
    expect(dialogs).toEqual([])
    // The token is the page's only credential: request logs name the tenant and session, not it.
    const token = link.url.slice(link.url.lastIndexOf('/') + 1)
    const logs = cluster.controlPlanes[0]!.process.lines
    expect(logs.some((line) => line.includes('/link/***'))).toBe(true)
    expect(logs.some((line) => line.includes(token))).toBe(false)
  })

  it('links with a pairing code typed on the phone, then says it is linked when there is no returnUrl', async () => {
    const sessionId = await newSession(tenant, 'Pharmacy')
    const link = await newLink(tenant, sessionId)
    const { page, offLoopback, errors } = await phonePage()
    await page.goto(link.url)
    await page.getByRole('img', { name: 'QR code to scan with WhatsApp' }).waitFor()
    // By keyboard alone: the button, then the labelled field (focused for the customer), Enter submits.
    await page.getByRole('button', { name: 'Link with a phone number instead' }).focus()
    await page.keyboard.press('Enter')
    const phone = page.getByLabel('Your WhatsApp phone number')
    await expect
      .poll(() => phone.evaluate((field) => field === field.ownerDocument.activeElement), PAGE_WAIT)
      .toBe(true)
    await page.keyboard.type('not a number')
    await page.keyboard.press('Enter')
    await page.locator('#phone-error').waitFor()
    expect(await phone.getAttribute('aria-invalid')).toBe('true')
    await phone.fill('+62 813 1111 0002')
    await page.keyboard.press('Enter')
    const shown = page.locator('.pairing-code')
    await shown.waitFor({ timeout: 30_000 })
    const code = (await shown.getAttribute('data-code'))!
    expect(code).toMatch(/^[A-Z0-9]{8}$/)
    expect(await shown.textContent()).toBe(`${code.slice(0, 4)}-${code.slice(4)}`)
    expect(await noHorizontalOverflow(page)).toBe(true)

    const linked = await sim.enterPairingCode({ phone: '6281311110002', code })
    expect(linked.jid).toMatch(/^6281311110002:\d+@s\.whatsapp\.net$/)
    await page.getByRole('heading', { name: 'Linked' }).waitFor({ timeout: 30_000 })
    expect(await page.getByText('You can close this page.').isVisible()).toBe(true)
    expect(await sessionOf(sessionId)).toMatchObject({ state: 'CONNECTED', phone: '6281311110002' })
    expect(offLoopback).toEqual([])
    // The one failed request is the refused number (Chromium logs every 4xx response).
    expect(errors).toEqual([expect.stringContaining('status of 400')])
  })

  it('renders a tenant and a session named like markup as text', async () => {
    const created = (await admin.POST('/v1/tenants', { body: { name: XSS } })).data!
    const markupTenant = createClient({ baseUrl: gatewayUrl, apiKey: created.apiKey })
    const sessionId = await newSession(markupTenant, XSS)
    const link = await newLink(markupTenant, sessionId)
    const { page, errors, dialogs } = await phonePage()
    await page.goto(link.url)
    await expect.poll(() => page.locator('.link-tenant').textContent(), PAGE_WAIT).toBe(XSS)
    expect(await page.locator('.link-session').textContent()).toBe(XSS)
    expect(await page.locator('.link-tenant').isVisible()).toBe(true)
    await page.getByRole('img', { name: 'QR code to scan with WhatsApp' }).waitFor()
    expect(await page.locator('img[src="x"]').count()).toBe(0)
    expect(await noHorizontalOverflow(page)).toBe(true)
    expect(dialogs).toEqual([])
    expect(errors).toEqual([])
    await markupTenant.POST('/v1/sessions/{sessionId}/disconnect', { params: { path: { sessionId } } })
  })

  it('shows a clear page for an expired (410), tampered or unknown (404) link, never a 500', async () => {
    const sessionId = await newSession(tenant, 'Expired')
    const secretBox = createSecretBox(parseSecretBoxKey(cluster.controlPlanes[0]!.env.AUTH_STATE_KEY!))
    const expired = sealLinkToken(
      { secretBox },
      { tenantId, sessionId, expiresAt: Date.now() - 1000, returnUrl: null },
    )
    const { page, errors } = await phonePage()
    const expiredPage = await page.goto(`${gatewayUrl}/link/${expired}`)
    expect(expiredPage?.status()).toBe(410)
    expect(expiredPage?.headers()['content-type']).toMatch(/^text\/html/)
    expect(await page.getByRole('heading', { name: 'This link has expired' }).isVisible()).toBe(true)
    expect(await noHorizontalOverflow(page)).toBe(true)
    const expiredState = await fetch(`${gatewayUrl}/link/${expired}/state`)
    expect(expiredState.status).toBe(410)
    expect(await expiredState.json()).toMatchObject({ error: { code: 'link_expired' } })

    const valid = (await newLink(tenant, sessionId)).url
    const token = valid.slice(valid.lastIndexOf('/') + 1)
    const middle = Math.floor(token.length / 2)
    const tampered = `${token.slice(0, middle)}${token[middle] === 'A' ? 'B' : 'A'}${token.slice(middle + 1)}`
    for (const bad of [tampered, 'wsl_nonsense', 'anything', `${token}x`]) {
      const response = await page.goto(`${gatewayUrl}/link/${bad}`)
      expect(response?.status(), bad).toBe(404)
      expect(response?.headers()['content-type']).toMatch(/^text\/html/)
      expect(await page.getByRole('heading', { name: 'This link is not valid' }).isVisible()).toBe(true)
    }
    // A session deleted since makes its links invalid too.
    await tenant.DELETE('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })
    expect((await page.goto(valid))?.status()).toBe(404)
    // Chromium logs each of these documents' 4xx status; nothing else may fail.
    const documentStatus =
      /^console: Failed to load resource: the server responded with a status of (404|410)/
    expect(errors.filter((error) => !documentStatus.test(error))).toEqual([])
  })

  it('refuses bad link requests with 400 naming the field, and another tenant’s session with 404', async () => {
    const sessionId = await newSession(tenant, 'Validation')
    const bad: [unknown, string][] = [
      [{ returnUrl: 'javascript:alert(1)' }, 'body.returnUrl'],
      [{ returnUrl: 'ftp://shop.example.com/' }, 'body.returnUrl'],
      [{ returnUrl: '/relative' }, 'body.returnUrl'],
      [{ ttlSeconds: 59 }, 'body.ttlSeconds'],
      [{ ttlSeconds: 86401 }, 'body.ttlSeconds'],
      [{ ttlSeconds: 'soon' }, 'body.ttlSeconds'],
      [{ other: true }, 'body'],
    ]
    for (const [body, field] of bad) {
      const { error, response } = await tenant.POST('/v1/sessions/{sessionId}/link', {
        params: { path: { sessionId } },
        body: body as never,
      })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(error?.error.field, JSON.stringify(body)).toBe(field)
    }
    // No body at all is fine: default lifetime, no returnUrl.
    const plain = await newLink(tenant, sessionId)
    expect(Date.parse(plain.expiresAt) - Date.now()).toBeLessThanOrEqual(3600 * 1000)

    const other = (await admin.POST('/v1/tenants', { body: { name: 'Other tenant' } })).data!
    const otherTenant = createClient({ baseUrl: gatewayUrl, apiKey: other.apiKey })
    const { response } = await otherTenant.POST('/v1/sessions/{sessionId}/link', {
      params: { path: { sessionId } },
      body: {},
    })
    expect(response.status).toBe(404)
    expect((await fetch(`${gatewayUrl}/v1/sessions/${sessionId}/link`, { method: 'POST' })).status).toBe(401)
  })

  it('refuses a cross-site or non-JSON POST with 403 and changes nothing', async () => {
    const sessionId = await newSession(tenant, 'CSRF')
    const { url } = await newLink(tenant, sessionId)
    const attempts: { origin?: string; contentType: string; body: string }[] = [
      { origin: 'http://evil.example', contentType: 'application/x-www-form-urlencoded', body: 'phone=1' },
      { origin: gatewayUrl, contentType: 'application/x-www-form-urlencoded', body: 'phone=1' },
      { origin: gatewayUrl, contentType: 'text/plain', body: '{"phone":"6281311110003"}' },
      { origin: 'http://evil.example', contentType: 'application/json', body: '{"phone":"6281311110003"}' },
      { origin: 'null', contentType: 'application/json', body: '{}' },
      { contentType: 'application/json', body: '{}' },
    ]
    for (const path of ['/connect', '/pairing-code']) {
      for (const attempt of attempts) {
        const response = await fetch(`${url}${path}`, {
          method: 'POST',
          headers: {
            'content-type': attempt.contentType,
            ...(attempt.origin ? { origin: attempt.origin } : {}),
          },
          body: attempt.body,
        })
        expect(response.status, `${path} ${JSON.stringify(attempt)}`).toBe(403)
      }
    }
    // Same origin and JSON, but a bad number: 400 naming the field, nothing started.
    const badPhone = await fetch(`${url}/pairing-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: gatewayUrl },
      body: JSON.stringify({ phone: 'abc' }),
    })
    expect(badPhone.status).toBe(400)
    expect(await badPhone.json()).toMatchObject({ error: { field: 'body.phone' } })
    const missingPhone = await fetch(`${url}/pairing-code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: gatewayUrl },
      body: '{}',
    })
    expect(missingPhone.status).toBe(400)
    expect(await missingPhone.json()).toMatchObject({ error: { field: 'body.phone' } })
    expect(await sessionOf(sessionId)).toMatchObject({ state: 'DISCONNECTED', desiredState: 'disconnected' })
  })
  it('does not connect a suspended tenant’s session, and still shows its state', async () => {
    const created = (await admin.POST('/v1/tenants', { body: { name: 'Suspended tenant' } })).data!
    const suspendedTenant = createClient({ baseUrl: gatewayUrl, apiKey: created.apiKey })
    const sessionId = await newSession(suspendedTenant, 'Suspended')
    const { url } = await newLink(suspendedTenant, sessionId)
    await admin.PATCH('/v1/tenants/{tenantId}', {
      params: { path: { tenantId: created.id } },
      body: { status: 'suspended' },
    })
    const connect = await fetch(`${url}/connect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: gatewayUrl },
      body: '{}',
    })
    expect(connect.status).toBe(403)
    expect(await connect.json()).toMatchObject({ error: { code: 'tenant_suspended' } })
    const state = await fetch(`${url}/state`)
    expect(state.status).toBe(200)
    expect(await state.json()).toMatchObject({ state: 'DISCONNECTED', tenantName: 'Suspended tenant' })
    const session = (
      await suspendedTenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })
    ).data!
    expect(session).toMatchObject({ state: 'DISCONNECTED', desiredState: 'disconnected' })
  })
})
