import { randomBytes } from 'node:crypto'
import {
  type Coordinator,
  coordinationKeys,
  createRedisCoordinator,
  findSession,
  registerNode,
} from '@wa-cluster/core'
import { sessions } from '@wa-cluster/db'
import { eq } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateRedis } from '../../../test-support/cluster.js'
import { eventually } from '../../../test-support/processes.js'
import { createTenantThroughApi, createTestApi, type TestApi } from '../support/test-context.js'

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * Contention on one session is a 409 with Retry-After, never a 500. The test holds the session's
 * placement lock through the API's own coordinator, as another control-plane placing the same session
 * would, with both coordinators (Redis for the cluster, in-process for the embedded mode).
 */
const coordinators: Record<string, () => Coordinator | undefined> = {
  memory: () => undefined,
  redis: () =>
    createRedisCoordinator({
      url: REDIS_URL,
      logger: pino({ level: 'silent' }),
      namespace: `wa-test-${randomBytes(3).toString('hex')}`,
    }),
}

for (const [kind, makeCoordinator] of Object.entries(coordinators)) {
  describe(`placement contention (${kind} coordinator)`, () => {
    let api: TestApi
    let key: string
    beforeAll(async () => {
      const coordinator = makeCoordinator()
      api = await createTestApi(`cp_contention_${kind}`, {}, coordinator ? { coordinator } : {})
      key = (await createTenantThroughApi(api, 'Contention')).apiKey
    })
    afterAll(async () => {
      await api?.close()
    })

    /** A live, empty node the session can be placed on (heartbeat in the coordinator, row in Postgres). */
    async function liveNode(): Promise<string> {
      const nodeId = `node-${randomBytes(3).toString('hex')}`
      await registerNode(api.ctx.database, nodeId, 10)
      await api.ctx.coordinator.heartbeat(
        { nodeId, capacity: 10, sessions: 0, status: 'active', startedAt: new Date().toISOString() },
        60_000,
      )
      return nodeId
    }

    /** Holds the session's placement lock until the returned function is called. */
    async function holdPlacementLock(sessionId: string): Promise<() => Promise<void>> {
      let release!: () => void
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      let taken!: () => void
      const lockTaken = new Promise<void>((resolve) => {
        taken = resolve
      })
      const holding = api.ctx.coordinator.withLock(
        coordinationKeys.placementLock(sessionId),
        { ttlMs: 30_000, waitMs: 0 },
        async () => {
          taken()
          await released
        },
      )
      await Promise.race([lockTaken, holding])
      return async () => {
        release()
        await holding
      }
    }

    it('answers connect with 409 placement_in_progress and Retry-After; the retry places the session', async () => {
      const nodeId = await liveNode()
      const created = await api.call('POST', '/v1/sessions', { key, body: {} })
      expect(created.status).toBe(201)
      const sessionId: string = created.body.id
      const connect = () => api.call('POST', `/v1/sessions/${sessionId}/connect`, { key, body: {} })

      const release = await holdPlacementLock(sessionId)
      let contended: Awaited<ReturnType<typeof connect>>
      try {
        contended = await connect()
      } finally {
        await release()
      }
      expect(contended.status).toBe(409)
      expect(contended.body.error).toEqual({
        code: 'placement_in_progress',
        message: 'another request is placing this session on a node right now; retry shortly',
        requestId: expect.any(String),
      })
      // The lock lives 5 s and connect waited 3 s of it: the holder is gone 2 s later at most.
      expect(contended.headers.get('retry-after')).toBe('2')
      expect((await findSession(api.ctx.database, sessionId))?.nodeId).toBeNull()

      // The retry gets the lock and places the session; the node (played here) then shows a QR.
      const retried = connect()
      await eventually('the session placed on the live node', async () => {
        return (await findSession(api.ctx.database, sessionId))?.nodeId === nodeId
      })
      await api.ctx.database.db
        .update(sessions)
        .set({ state: 'QR_READY', qr: '2@contended,retry', qrExpiresAt: new Date(Date.now() + 60_000) })
        .where(eq(sessions.id, sessionId))
      const answer = await retried
      expect(answer.status).toBe(200)
      expect(answer.body).toMatchObject({ state: 'QR_READY', qr: '2@contended,retry' })
    })
  })
}

describe('placement with Redis unreachable', () => {
  let api: TestApi
  let key: string
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>
  beforeAll(async () => {
    redis = await startPrivateRedis()
    const coordinator = createRedisCoordinator({
      url: redis.url,
      logger: pino({ level: 'silent' }),
      namespace: `wa-test-${randomBytes(3).toString('hex')}`,
    })
    api = await createTestApi('cp_redis_down', {}, { coordinator })
    key = (await createTenantThroughApi(api, 'Redis down')).apiKey
  })
  afterAll(async () => {
    await redis?.stop()
    await api?.close()
  })

  it('answers connect with 503 unavailable and Retry-After, not a contention 409', async () => {
    const created = await api.call('POST', '/v1/sessions', { key, body: {} })
    expect(created.status).toBe(201)
    await redis.stop()
    const answer = await api.call('POST', `/v1/sessions/${created.body.id}/connect`, { key, body: {} })
    expect(answer.status).toBe(503)
    expect(answer.body.error.code).toBe('unavailable')
    expect(answer.headers.get('retry-after')).toBe('5')
  })
})

describe('the API with Postgres unreachable', () => {
  let api: TestApi
  let key: string
  beforeAll(async () => {
    api = await createTestApi('cp_postgres_down')
    key = (await createTenantThroughApi(api, 'Postgres down')).apiKey
  })
  afterAll(async () => {
    await api?.close()
  })

  it('answers 503 unavailable with Retry-After while the database is away, and serves again after', async () => {
    const allowAgain = await api.database.refuseConnections()
    try {
      const answer = await api.call('GET', '/v1/sessions', { key })
      expect(answer.status).toBe(503)
      expect(answer.body.error).toMatchObject({ code: 'unavailable' })
      expect(answer.headers.get('retry-after')).toBe('5')
    } finally {
      await allowAgain()
    }
    await eventually(
      'the API serves again',
      async () => (await api.call('GET', '/v1/sessions', { key })).status === 200,
    )
  })
})
