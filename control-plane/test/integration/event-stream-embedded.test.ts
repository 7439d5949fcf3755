import { randomBytes } from 'node:crypto'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { appendEvent, createMemoryCoordinator } from '@wa-cluster/core'
import { openDatabase } from '@wa-cluster/db'
import { createSecretBox, parseConfig } from '@wa-cluster/shared'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { seedSession } from '../../../test-support/seed.js'
import { type ControlPlane, createControlPlane } from '../../src/control-plane.js'
import { openSse } from '../support/sse-client.js'

// The embedded default: PGlite in memory and the in-process coordinator, as `npm start` runs without
// DATABASE_URL / REDIS_URL. The announcement comes from PGlite's own NOTIFY.

const ADMIN_KEY = 'embedded-admin-key-0123456789'
let controlPlane: ControlPlane
let server: Server
let baseUrl: string
const database = openDatabase({})

beforeAll(async () => {
  await database.migrate()
  const config = { ...parseConfig({}, 'all-in-one'), STREAM_HEARTBEAT_MS: 100 }
  controlPlane = createControlPlane(
    {
      config,
      logger: pino({ level: 'silent' }),
      database,
      coordinator: createMemoryCoordinator(),
      secretBox: createSecretBox(randomBytes(32)),
      metrics: new Registry(),
    },
    { adminApiKey: ADMIN_KEY },
  )
  await controlPlane.start()
  server = serve({ fetch: controlPlane.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', resolve)))
  controlPlane.acceptWebSockets(server)
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
  await controlPlane?.stop()
  await controlPlane?.ctx.coordinator.close()
  await database.close()
})

it('streams live and resumes on PGlite with the in-process coordinator', async () => {
  const created = await controlPlane.app.request('/v1/tenants', {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Embedded' }),
  })
  const tenant = (await created.json()) as { id: string; apiKey: string }
  const sessionId = await seedSession(database, tenant.id)
  const append = (state: 'CONNECTING' | 'CONNECTED' | 'DISCONNECTED') =>
    appendEvent(database.db, {
      sessionId,
      type: 'connection.update',
      data: { state, previousState: 'DISCONNECTED' },
    })
  const first = await append('CONNECTING')
  const stream = await openSse(`${baseUrl}/v1/events/stream`, { key: tenant.apiKey })
  expect(stream.status).toBe(200)
  await stream.ready()
  const live = await append('CONNECTED')
  await stream.waitForEvents(1)
  expect(stream.events.map((event) => event.id)).toEqual([live.id])
  stream.close()
  const later = await append('DISCONNECTED')
  const resumed = await openSse(`${baseUrl}/v1/events/stream?after=${first.id}`, { key: tenant.apiKey })
  await resumed.waitForEvents(2)
  expect(resumed.events.map((event) => event.data.seq)).toEqual([live.seq, later.seq])
  resumed.close()
})
