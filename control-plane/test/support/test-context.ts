import { createHash, randomBytes } from 'node:crypto'
import { type ServerType, serve } from '@hono/node-server'
import { createClient, type WaClusterClient } from '@wa-cluster/client'
import { type Coordinator, createMemoryCoordinator, createOutboundPolicy } from '@wa-cluster/core'
import { authCreds, sessions } from '@wa-cluster/db'
import { type Config, createSecretBox, parseConfig } from '@wa-cluster/shared'
import { eq, sql } from 'drizzle-orm'
import pino from 'pino'
import { Registry } from 'prom-client'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { freePort } from '../../../test-support/processes.js'
import { TEST_ALLOW_PRIVATE_NETWORKS } from '../../../test-support/seed.js'
import { createApp } from '../../src/app.js'
import { createSessionWatcher } from '../../src/cluster/session-watcher.js'
import type { ControlPlaneContext } from '../../src/context.js'
import { createEventStreams } from '../../src/streams/event-feeds.js'

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef'

export type TestApi = {
  ctx: ControlPlaneContext
  database: TestDatabase
  app: ReturnType<typeof createApp>
  /** The typed client (@wa-cluster/client) for `key`, calling the app in-process. */
  client(key?: string): WaClusterClient
  /**
   * Calls the app in-process with whatever method, path and body it is given: for requests the typed
   * client cannot express (malformed bodies, paths built from the OpenAPI document).
   */
  call(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers; text: string }>
  /** Serves the app on a loopback port (for a browser); closed with the rest by `close()`. */
  listen(): Promise<string>
  close(): Promise<void>
}

/**
 * A control-plane on a fresh Postgres database with no session-node; coordination is in-process unless
 * the test passes a coordinator (which `close()` then closes).
 */
export async function createTestApi(
  label: string,
  overrides: Partial<Config> = {},
  options: { coordinator?: Coordinator } = {},
): Promise<TestApi> {
  const database = await createTestDatabase(label)
  const coordinator = options.coordinator ?? createMemoryCoordinator()
  const sessionWatcher = createSessionWatcher(coordinator)
  await sessionWatcher.start()
  // Test receivers listen on loopback: allowed here, as an operator would allow an on-premise backend.
  const config = {
    ...parseConfig(
      { DATABASE_URL: database.url, ALLOW_PRIVATE_NETWORKS: TEST_ALLOW_PRIVATE_NETWORKS },
      'all-in-one',
    ),
    ...overrides,
  }
  const logger = pino({ level: 'silent' })
  const metrics = new Registry()
  const eventStreams = createEventStreams({ config, database: database.handle, logger, metrics })
  await eventStreams.start()
  const ctx: ControlPlaneContext = {
    config,
    database: database.handle,
    secretBox: createSecretBox(randomBytes(32)),
    outboundPolicy: createOutboundPolicy(config.ALLOW_PRIVATE_NETWORKS),
    coordinator,
    sessionWatcher,
    eventStreams,
    adminKeyHash: createHash('sha256').update(TEST_ADMIN_KEY).digest('hex'),
    logger,
    metrics,
  }
  const app = createApp(ctx)
  const servers: ServerType[] = []
  return {
    ctx,
    database,
    app,
    client(key) {
      return createClient({
        baseUrl: 'http://control-plane.test',
        ...(key ? { apiKey: key } : {}),
        fetch: async (request) => app.fetch(request),
      })
    },
    async call(method, path, options = {}) {
      const headers: Record<string, string> = {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
      }
      let body: string | undefined
      if (options.rawBody !== undefined) body = options.rawBody
      else if (options.body !== undefined && method !== 'GET' && method !== 'HEAD') {
        body = JSON.stringify(options.body)
        headers['content-type'] = 'application/json'
      }
      const response = await app.request(path, { method, headers: { ...headers, ...options.headers }, body })
      const text = await response.text()
      const isJson = response.headers.get('content-type')?.includes('json') && text.length > 0
      return {
        status: response.status,
        body: isJson ? JSON.parse(text) : undefined,
        headers: response.headers,
        text,
      }
    },
    async listen() {
      const port = await freePort()
      await new Promise<void>((resolve) => {
        servers.push(serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve()))
      })
      return `http://127.0.0.1:${port}`
    },
    async close() {
      for (const server of servers) server.close()
      await eventStreams.stop()
      await sessionWatcher.stop()
      await coordinator.close()
      await database.drop()
    },
  }
}

/** Creates a tenant through the API and returns its id and key. */
export async function createTenantThroughApi(
  api: TestApi,
  name: string,
): Promise<{ tenantId: string; apiKey: string }> {
  const { data, error, response } = await api.client(TEST_ADMIN_KEY).POST('/v1/tenants', { body: { name } })
  if (!data) throw new Error(`tenant creation failed: ${response.status} ${JSON.stringify(error)}`)
  return { tenantId: data.id, apiKey: data.apiKey }
}

/**
 * A fingerprint of every row of every table (a table added later is covered the day it is added).
 * Equal before and after a rejected request means the request changed nothing.
 */
export async function snapshotDatabase(api: TestApi): Promise<Record<string, string>> {
  const snapshot: Record<string, string> = {}
  const tables = (
    await api.database.handle.rows<{ name: string }>(sql`
      SELECT quote_ident(table_name) AS name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
  ).map((row) => row.name)
  for (const table of tables) {
    const [row] = await api.database.handle.rows<{ count: number; digest: string }>(
      sql.raw(
        `SELECT count(*)::int AS count, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM ${table} t`,
      ),
    )
    snapshot[table] = `${row?.count}:${row?.digest}`
  }
  return snapshot
}

/**
 * Creates a session through the API and makes it one that accepts sends with no session-node running:
 * wanted connected and linked (a creds row, as a QR scan leaves). Its sends stay queued.
 */
export async function createSendableSession(api: TestApi, key: string, body: object = {}): Promise<string> {
  const sessionId = (await api.call('POST', '/v1/sessions', { key, body })).body.id as string
  await api.ctx.database.db
    .update(sessions)
    .set({ desiredState: 'connected' })
    .where(eq(sessions.id, sessionId))
  await api.ctx.database.db.insert(authCreds).values({ sessionId, value: Buffer.from('sealed creds') })
  return sessionId
}
