import { fileURLToPath } from 'node:url'
import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { events } from '@wa-cluster/db'
import { startSimulator } from '@wa-cluster/wa-sim'
import { eq } from 'drizzle-orm'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, recordOffLoopbackRequests, recordPageErrors } from '../../../test-support/browser.js'
import { type Cluster, linkSessionThroughApi, startCluster } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/wait.js'
import { startWebhookReceiver, type WebhookReceiver } from '../../../test-support/webhook-receiver.js'

/** `WRITE_SCREENSHOTS=1` writes the README's pictures of the console; a normal run writes no file. */
const screenshotPath = (name: string) =>
  process.env.WRITE_SCREENSHOTS === '1'
    ? fileURLToPath(new URL(`../../../docs/images/${name}`, import.meta.url))
    : undefined

/**
 * The console in headless Chromium against real processes: a control-plane and two session-nodes
 * on Postgres and Redis, Baileys against wa-sim. The tenant links a phone and chats from the page;
 * the operator sees the node's sessions, drains it and watches them move, then redelivers dead letters
 * from the page. Every page also checks
 * what the pages promise: no request beyond loopback, no script or CSP error, no key in a URL.
 */
// A story: the operator drains the sessions the tenant linked, so the steps run in order.
describe.sequential('console in a real browser', () => {
  const contact = '6281300000081'
  let sim: Awaited<ReturnType<typeof startSimulator>>
  let cluster: Cluster
  let browser: Browser
  let baseUrl: string
  let admin: WaClusterClient
  let tenant: WaClusterClient
  let tenantKey: string
  let linked: { id: string; phone: string }
  /** Sessions the tenant linked from the page (QR, then pairing code). */
  let linkedInPage: string[] = []
  let receiver: WebhookReceiver
  const opened: { page: Page; offLoopback: string[]; errors: string[]; urls: string[] }[] = []

  /** Opens the console at a phone's or a laptop's size and signs in with `key`. */
  async function openConsole(key: string, viewport = { width: 1280, height: 900 }) {
    const page = await browser.newPage({ viewport })
    const offLoopback = await recordOffLoopbackRequests(page)
    const errors = recordPageErrors(page)
    const urls: string[] = []
    page.on('request', (request) => urls.push(request.url()))
    page.on('dialog', (dialog) => {
      errors.push(`dialog: ${dialog.message()}`)
      void dialog.dismiss()
    })
    opened.push({ page, offLoopback, errors, urls })
    await page.goto(`${baseUrl}/console`)
    await page.getByLabel(/API key/).fill(key)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    return page
  }

  // Browser-side checks are strings: this package's TypeScript has no DOM types.
  /** The page body is no wider than the screen: wide tables scroll inside their own box. */
  const bodyOverflow = (page: Page) =>
    page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')

  /** Controls that a screen reader could not name: inputs without a label, buttons without a name. */
  const unlabelledControls = (page: Page) =>
    page.evaluate<string[]>(`[...document.querySelectorAll('input, select, textarea, button')]
      .filter((element) => !element.getAttribute('aria-label') &&
        (element.tagName === 'BUTTON' ? !element.textContent.trim() : element.labels.length === 0))
      .map((element) => element.outerHTML)`)

  beforeAll(async () => {
    sim = await startSimulator({ port: 0 })
    await sim.addContact({ pn: contact, name: 'Customer' })
    cluster = await startCluster({
      controlPlanes: 1,
      sessionNodes: 1,
      simUrl: sim.url,
      simRootKey: sim.rootPublicKey,
      env: {
        BAILEYS_LOG_LEVEL: process.env.TEST_BAILEYS_LOG_LEVEL ?? 'warn',
        LEASE_TTL_MS: '6000',
        HEARTBEAT_INTERVAL_MS: '500',
        NODE_TTL_MS: '3000',
        RECONCILE_INTERVAL_MS: '1000',
      },
    })
    baseUrl = cluster.controlPlanes[0]!.url
    admin = createClient({ baseUrl, apiKey: cluster.adminKey })
    tenantKey = (await admin.POST('/v1/tenants', { body: { name: 'Klinik Sehat' } })).data!.apiKey
    tenant = createClient({ baseUrl, apiKey: tenantKey })
    receiver = await startWebhookReceiver()
    await tenant.PUT('/v1/webhook', { body: { url: receiver.url } })
    linked = await linkSessionThroughApi(tenant, sim, '6285710000081')
    browser = await launchBrowser()
  })

  afterAll(async () => {
    await browser?.close()
    await cluster?.stop()
    await receiver?.close()
    await sim?.stop()
  })

  it('serves the console shell with the strict page headers and no secret in it', async () => {
    const response = await fetch(`${baseUrl}/console`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(response.headers.get('content-security-policy')).not.toContain('unsafe-inline')
    const body = await response.text()
    expect(body).toContain('/assets/app/console/main.js')
    expect(body).not.toMatch(/https?:\/\/|<script>/)
  })

  it('tenant: links phones by QR and by pairing code in the page, sees an inbound text live and sends a reply', async () => {
    const page = await openConsole(tenantKey)
    await page.locator(`tr[data-session-id="${linked.id}"] [data-state="CONNECTED"]`).waitFor()

    // A new session, linked from the page: the QR shows, the phone scans it, the page says connected.
    await page.getByLabel('New session name').fill('front desk')
    await page.getByRole('button', { name: 'Create session' }).click()
    await page.getByRole('button', { name: 'Show QR code' }).click()
    await page.locator('.qr img[src^="data:image/png"]').waitFor()
    const frontDesk = (await tenant.GET('/v1/sessions')).data!.data.find((s) => s.name === 'front desk')!.id
    const { data: qr } = await tenant.GET('/v1/sessions/{sessionId}/qr', {
      params: { path: { sessionId: frontDesk } },
    })
    await sim.scan({ qr: (qr as { qr: string }).qr, phone: '6285710000082', pushName: 'Front desk' })
    await page.locator('.connected-note').waitFor({ timeout: 60_000 })
    await page.locator(`tr[data-session-id="${frontDesk}"] [data-state="CONNECTED"]`).waitFor()
    await page.getByRole('button', { name: 'Close' }).click()

    // And one with a pairing code typed on the phone instead of a QR.
    await page.getByLabel('New session name').fill('reception')
    await page.getByRole('button', { name: 'Create session' }).click()
    await page.getByLabel(/phone number/).fill('0857-1000-0083')
    await page.getByRole('button', { name: 'Get pairing code' }).click()
    const code = await page.locator('.pairing-code').textContent()
    await sim.enterPairingCode({ phone: '6285710000083', code: code! })
    await page.locator('.connected-note').waitFor({ timeout: 60_000 })
    await page.getByRole('button', { name: 'Close' }).click()
    linkedInPage = (await tenant.GET('/v1/sessions'))
      .data!.data.filter((s) => s.name === 'front desk' || s.name === 'reception')
      .map((s) => s.id)
    expect(linkedInPage).toHaveLength(2)

    // The message log: an inbound text appears without a reload (the marker survives), a reply goes out.
    await page.evaluate("window.consoleMarker = 'same page'")
    await page.locator('[data-stream="live"]').waitFor()
    await page.getByRole('tab', { name: 'Messages' }).click()
    await page.getByLabel('Session', { exact: true }).selectOption(linked.id)
    await page.getByText('Loading…').waitFor({ state: 'detached' })
    const inbound = `Selamat pagi, apakah hasil lab saya sudah siap? ${Date.now()}`
    expect((await sim.send({ from: contact, to: linked.phone, text: inbound })).devices).toBe(1)
    // Stored first (the API is the oracle), then shown by the page from the stream.
    await eventually('the inbound text in the outbox', async () => {
      const { data } = await tenant.GET('/v1/events', {
        params: { query: { sessionId: linked.id, type: 'messages.upsert', limit: 200 } },
      })
      return data?.data.some((event) => JSON.stringify(event.data).includes(inbound))
    })
    await page.locator('tr.message.in', { hasText: inbound }).waitFor()
    expect(await page.evaluate<string>('window.consoleMarker')).toBe('same page')

    const reply = `Sudah, silakan diambil hari ini. ${Date.now()}`
    await page.getByLabel('To (phone number)').fill(`+${contact}`)
    await page.getByLabel('Text', { exact: true }).fill(reply)
    await page.getByRole('button', { name: 'Send', exact: true }).click()
    await page.locator('tr.message.out', { hasText: reply }).waitFor()
    await eventually('the reply in the contact inbox', async () =>
      (await sim.inbox(contact)).some((message) => message.text === reply),
    )
    // Its status follows the receipts WhatsApp sends back, through the stream.
    await page
      .locator('tr.message.out', { hasText: reply })
      .locator('.badge', { hasText: /^(sent|delivered|read)$/ })
      .waitFor()
    // Filters: received only hides the reply; a chat that matches nothing hides everything.
    await page.getByLabel('Direction').selectOption('in')
    await page.locator('tr.message.out').first().waitFor({ state: 'detached' })
    expect(await page.locator('tr.message.in', { hasText: inbound }).count()).toBe(1)
    await page.getByLabel('Chat', { exact: true }).fill('999')
    await page.getByText('No messages.').waitFor()
    await page.getByLabel('Chat', { exact: true }).fill(contact)
    await page.getByLabel('Direction').selectOption('all')
    await page.locator('tr.message.out', { hasText: reply }).waitFor()
    expect(await unlabelledControls(page)).toEqual([])
    const screenshot = screenshotPath('console-tenant.png')
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true })
    // Webhooks: the default webhook's deliveries are listed, and one is delivered again on request.
    await page.getByRole('tab', { name: 'Webhooks' }).click()
    await expect.poll(() => page.getByLabel('URL', { exact: true }).inputValue()).toBe(receiver.url)
    const delivered = page.locator('tr', { has: page.locator('.delivery-delivered') }).first()
    await delivered.waitFor()
    const deliveriesBefore = receiver.deliveries
    await delivered.getByRole('button', { name: /^Redeliver evt_/ }).click()
    await page.getByText('1 queued again.').waitFor()
    await eventually('the redelivery at the receiver', () => receiver.deliveries > deliveriesBefore)
    for (const tab of ['Webhooks', 'API keys', 'Sessions']) {
      await page.getByRole('tab', { name: tab }).click()
      await page.locator(`[role="tab"][aria-selected="true"]`, { hasText: tab }).waitFor()
      expect(await unlabelledControls(page)).toEqual([])
    }
  })

  it('tenant: a session named like markup is shown as text, on a phone-sized screen', async () => {
    const name = '<img src=x onerror=alert(1)>'
    const { data: session } = await tenant.POST('/v1/sessions', { body: { name } })
    const page = await openConsole(tenantKey, { width: 390, height: 844 })
    const row = page.locator(`tr[data-session-id="${session!.id}"]`)
    await row.locator('.session-name').waitFor()
    expect(await row.locator('.session-name').textContent()).toBe(name)
    expect(await page.locator('img[src="x"]').count()).toBe(0)
    await page.getByRole('button', { name: `Connect ${name}` }).click()
    expect(await page.locator('.connect .session-name').textContent()).toBe(name)
    expect(await page.locator('img[src="x"]').count()).toBe(0)
    expect(await bodyOverflow(page)).toBeLessThanOrEqual(0)
    for (const tab of ['Messages', 'Webhooks', 'API keys']) {
      await page.getByRole('tab', { name: tab }).click()
      await page.locator(`[role="tab"][aria-selected="true"]`, { hasText: tab }).waitFor()
      expect(await bodyOverflow(page)).toBeLessThanOrEqual(0)
    }
    // Signing out forgets the key: a reload asks for it again.
    await page.getByRole('button', { name: 'Sign out' }).click()
    expect(await page.evaluate<number>('sessionStorage.length')).toBe(0)
    await page.reload()
    await page.getByLabel(/API key/).waitFor()
  })

  it("operator: sees a node's sessions, drains it from the page and watches them move, redelivers dead letters", async () => {
    await cluster.startNode('node-2')
    const page = await openConsole(cluster.adminKey, { width: 390, height: 844 })
    const sessionsOn = (nodeId: string) => page.locator(`tr[data-node-id="${nodeId}"] .node-sessions`)
    await expect.poll(() => sessionsOn('node-1').textContent(), { timeout: 30_000 }).toBe('3')
    await expect.poll(() => sessionsOn('node-2').textContent(), { timeout: 30_000 }).toBe('0')
    expect(await bodyOverflow(page)).toBeLessThanOrEqual(0)
    expect(await unlabelledControls(page)).toEqual([])

    // The node's sessions, of every tenant, under it; the list stays open and follows the node.
    await page.getByRole('button', { name: 'Sessions on node-1' }).click()
    const listedOn = (nodeId: string) =>
      page.locator(`tr[data-sessions-of="${nodeId}"] tr[data-node-session-id]`)
    await expect.poll(() => listedOn('node-1').count(), { timeout: 30_000 }).toBe(3)
    const linkedRow = page.locator(`tr[data-sessions-of="node-1"] tr[data-node-session-id="${linked.id}"]`)
    const { data: linkedSession } = await tenant.GET('/v1/sessions/{sessionId}', {
      params: { path: { sessionId: linked.id } },
    })
    expect(await linkedRow.locator('.tenant-name').textContent()).toBe('Klinik Sehat')
    expect(await linkedRow.locator('[data-state]').getAttribute('data-state')).toBe('CONNECTED')
    expect(await linkedRow.locator('td').nth(3).textContent()).toBe(linkedSession!.phone)
    expect(await unlabelledControls(page)).toEqual([])

    // The plan first: moving one session evens the load; nothing moves until it is applied.
    await page.getByRole('button', { name: 'Plan rebalance' }).click()
    await page.locator('.rebalance-moves tbody tr').first().waitFor()
    expect(await page.locator('.rebalance-moves tbody tr').count()).toBe(1)
    expect(await sessionsOn('node-1').textContent()).toBe('3')

    await page.getByRole('button', { name: 'Drain node-1' }).click()
    await page.getByRole('alertdialog').waitFor()
    await page.getByRole('button', { name: 'Yes, drain node-1' }).click()
    await page.locator('tr[data-node-id="node-1"] .badge', { hasText: 'draining' }).waitFor()
    await expect.poll(() => sessionsOn('node-1').textContent(), { timeout: 90_000 }).toBe('0')
    await expect.poll(() => sessionsOn('node-2').textContent(), { timeout: 30_000 }).toBe('3')
    await page.locator('tr[data-sessions-of="node-1"]', { hasText: 'No sessions on node-1.' }).waitFor()
    await eventually('every session CONNECTED on node-2', async () => {
      const sessions = await Promise.all(
        [linked.id, ...linkedInPage].map(
          async (sessionId) =>
            (await tenant.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })).data,
        ),
      )
      return sessions.every((session) => session?.state === 'CONNECTED' && session.nodeId === 'node-2')
    })
    await page.setViewportSize({ width: 1280, height: 900 })
    const screenshot = screenshotPath('console-operator.png')
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true })

    await page.getByRole('button', { name: 'Activate node-1' }).click()
    await page.locator('tr[data-node-id="node-1"] .badge', { hasText: 'active' }).waitFor()
    await page.getByRole('tab', { name: 'Tenants' }).click()
    await page.locator('tr', { hasText: 'Klinik Sehat' }).locator('td', { hasText: '4 /' }).waitFor()
    await page.getByRole('button', { name: 'API keys of Klinik Sehat' }).click()
    await page.locator('code', { hasText: tenantKey.slice(0, 12) }).waitFor()
    expect(await unlabelledControls(page)).toEqual([])

    // Two dead letters, as the dispatcher leaves events whose receiver kept failing: one redelivered
    // from its row, then the tenant's rest with "Redeliver all"; the receiver gets them again.
    const { data: oldest } = await tenant.GET('/v1/events', { params: { query: { limit: 2 } } })
    const deadIds = oldest!.data.map((event) => event.id)
    const deliveriesBefore = receiver.deliveries
    for (const eventId of deadIds)
      await cluster.database.handle.db
        .update(events)
        .set({ delivery: 'dead', attempts: 12, lastError: 'HTTP 500' })
        .where(eq(events.id, eventId))
    await page.getByRole('tab', { name: 'Dead letters' }).click()
    const deadRow = (eventId: string) =>
      page.locator(`tr[data-event-id="${eventId}"][data-endpoint="default"]`)
    await deadRow(deadIds[1]!).waitFor()
    expect(await page.getByRole('region', { name: 'Dead letters of Klinik Sehat' }).count()).toBe(1)
    expect(await deadRow(deadIds[0]!).locator('td').nth(4).textContent()).toBe('HTTP 500')
    await page.getByRole('button', { name: `Redeliver ${deadIds[1]} to default` }).click()
    await page.getByRole('status').filter({ hasText: '1 delivery queued again' }).waitFor()
    await deadRow(deadIds[1]!).waitFor({ state: 'detached' })
    expect(await deadRow(deadIds[0]!).count()).toBe(1)
    await page.getByRole('button', { name: 'Redeliver all dead letters of Klinik Sehat' }).click()
    await page.getByText('No dead letters.').waitFor()
    await eventually('both dead letters delivered again', async () => {
      const rows = await Promise.all(
        deadIds.map(
          async (eventId) =>
            (await cluster.database.handle.db.select().from(events).where(eq(events.id, eventId)))[0],
        ),
      )
      return rows.every((row) => row?.delivery === 'delivered')
    })
    expect(receiver.deliveries).toBeGreaterThanOrEqual(deliveriesBefore + 2)
    expect(await bodyOverflow(page)).toBeLessThanOrEqual(0)
    expect(await unlabelledControls(page)).toEqual([])
  })

  it('asked nothing beyond loopback, had no script or CSP error and never put a key in a URL', () => {
    expect(opened.length).toBeGreaterThanOrEqual(3)
    for (const { offLoopback, errors, urls } of opened) {
      expect(offLoopback).toEqual([])
      expect(errors).toEqual([])
      expect(urls.length).toBeGreaterThan(0)
      expect(urls.filter((url) => url.includes(tenantKey) || url.includes(cluster.adminKey))).toEqual([])
    }
  })
})
