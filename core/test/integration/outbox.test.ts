import { StaleEpoch } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { createTestSecretBox, seedSession, seedTenant, seedWebhook } from '../../../test-support/seed.js'
import { appendEvent, appendEvents, getEvent, listEvents, redeliverEvents } from '../../src/index.js'

const connectionUpdate = (n: number) => ({
  type: 'connection.update' as const,
  data: { state: 'CONNECTED' as const, previousState: 'CONNECTING' as const, reason: `r${n}` },
})

describe('outbox', () => {
  let test: TestDatabase
  const secretBox = createTestSecretBox()
  beforeAll(async () => {
    test = await createTestDatabase('outbox')
  })
  afterAll(async () => {
    await test?.drop()
  })

  it('numbers events 1, 2, 3… per session, also under concurrent appends', async () => {
    const { handle } = test
    const tenantId = await seedTenant(handle)
    const first = await seedSession(handle, tenantId)
    const second = await seedSession(handle, tenantId)
    const appended = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        appendEvent(handle.db, { sessionId: n % 2 ? first : second, ...connectionUpdate(n) }),
      ),
    )
    const seqsOf = (sessionId: string) =>
      appended
        .filter((event) => event.sessionId === sessionId)
        .map((event) => event.seq)
        .sort((a, b) => a - b)
    expect(seqsOf(first)).toEqual(Array.from({ length: 20 }, (_, n) => n + 1))
    expect(seqsOf(second)).toEqual(Array.from({ length: 20 }, (_, n) => n + 1))
    const [session] = await handle.rows<{ last_seq: number | string }>(
      sql`SELECT last_seq FROM sessions WHERE id = ${first}`,
    )
    expect(Number(session?.last_seq)).toBe(20)
    const envelope = appended[0]!
    expect(envelope).toMatchObject({ tenantId, type: 'connection.update', data: { reason: 'r0' } })
    expect(envelope.id).toMatch(/^evt_/)
    expect(Number.isNaN(Date.parse(envelope.occurredAt))).toBe(false)
  })

  it('appends a batch with consecutive seqs after earlier events', async () => {
    const { handle } = test
    const tenantId = await seedTenant(handle)
    const sessionId = await seedSession(handle, tenantId)
    await appendEvent(handle.db, { sessionId, ...connectionUpdate(0) })
    const batch = await appendEvents(handle.db, {
      sessionId,
      events: [connectionUpdate(1), connectionUpdate(2), connectionUpdate(3)],
    })
    expect(batch.map((event) => [event.seq, (event.data as { reason: string }).reason])).toEqual([
      [2, 'r1'],
      [3, 'r2'],
      [4, 'r3'],
    ])
  })

  it('refuses a stale epoch and writes nothing', async () => {
    const { handle } = test
    const tenantId = await seedTenant(handle)
    const sessionId = await seedSession(handle, tenantId, 5)
    await appendEvent(handle.db, { sessionId, epoch: 5, ...connectionUpdate(1) })
    await expect(
      appendEvent(handle.db, { sessionId, epoch: 4, ...connectionUpdate(2) }),
    ).rejects.toBeInstanceOf(StaleEpoch)
    const [row] = await handle.rows<{ last_seq: number | string; events: number | string }>(
      sql`SELECT last_seq, (SELECT count(*) FROM events WHERE session_id = ${sessionId}) AS events FROM sessions WHERE id = ${sessionId}`,
    )
    expect(Number(row?.last_seq)).toBe(1)
    expect(Number(row?.events)).toBe(1)
  })

  it('refuses a session of another tenant when tenantId is given', async () => {
    const { handle } = test
    const sessionId = await seedSession(handle, await seedTenant(handle))
    const otherTenant = await seedTenant(handle)
    await expect(
      appendEvent(handle.db, { sessionId, tenantId: otherTenant, ...connectionUpdate(1) }),
    ).rejects.toThrow(/not found/)
  })

  it('is part of the caller transaction: a rollback leaves neither the event nor the seq', async () => {
    const { handle } = test
    const tenantId = await seedTenant(handle)
    const sessionId = await seedSession(handle, tenantId)
    await expect(
      handle.db.transaction(async (tx) => {
        await appendEvent(tx, { sessionId, ...connectionUpdate(1) })
        throw new Error('caller failed after appending')
      }),
    ).rejects.toThrow('caller failed')
    const page = await listEvents(handle.db, { tenantId, limit: 10 })
    expect(page.data).toHaveLength(0)
    expect((await appendEvent(handle.db, { sessionId, ...connectionUpdate(2) })).seq).toBe(1)
  })

  it('marks events pending only when the webhook wants their type', async () => {
    const { handle } = test
    const noWebhook = await seedTenant(handle)
    const allTypes = await seedTenant(handle)
    const filtered = await seedTenant(handle)
    await seedWebhook(handle, secretBox, { tenantId: allTypes, url: 'http://127.0.0.1:1/' })
    await seedWebhook(handle, secretBox, {
      tenantId: filtered,
      url: 'http://127.0.0.1:1/',
      events: ['messages.upsert'],
    })
    const statuses: Record<string, string[]> = {}
    for (const tenantId of [noWebhook, allTypes, filtered]) {
      const sessionId = await seedSession(handle, tenantId)
      await appendEvent(handle.db, { sessionId, ...connectionUpdate(1) })
      await appendEvent(handle.db, { sessionId, type: 'messages.upsert', data: { messages: [] } })
      const page = await listEvents(handle.db, { tenantId, limit: 10 })
      statuses[tenantId] = page.data.map((event) => `${event.type}:${event.delivery.status}`)
    }
    expect(statuses[noWebhook]).toEqual(['connection.update:none', 'messages.upsert:none'])
    expect(statuses[allTypes]).toEqual(['connection.update:pending', 'messages.upsert:pending'])
    expect(statuses[filtered]).toEqual(['connection.update:none', 'messages.upsert:pending'])
  })

  it('pages through a tenant’s events by id cursor, with filters, and never shows another tenant’s', async () => {
    const { handle } = test
    const tenantId = await seedTenant(handle)
    const otherTenant = await seedTenant(handle)
    const sessionA = await seedSession(handle, tenantId)
    const sessionB = await seedSession(handle, tenantId)
    await appendEvent(handle.db, {
      sessionId: await seedSession(handle, otherTenant),
      ...connectionUpdate(0),
    })
    const written: string[] = []
    for (let n = 0; n < 25; n++) {
      const event =
        n % 5 === 0
          ? await appendEvent(handle.db, {
              sessionId: sessionB,
              type: 'messages.upsert',
              data: { messages: [] },
            })
          : await appendEvent(handle.db, { sessionId: n % 2 ? sessionA : sessionB, ...connectionUpdate(n) })
      written.push(event.id)
    }
    const seen: string[] = []
    const cursors: (string | null)[] = []
    let after: string | undefined
    do {
      const page = await listEvents(handle.db, { tenantId, limit: 10, ...(after ? { after } : {}) })
      seen.push(...page.data.map((event) => event.id))
      cursors.push(page.nextCursor)
      after = page.nextCursor ?? undefined
    } while (after)
    expect(seen).toEqual(written)
    expect(cursors).toHaveLength(3)
    expect(cursors.at(-1)).toBeNull()

    const upserts = await listEvents(handle.db, { tenantId, limit: 100, type: 'messages.upsert' })
    expect(upserts.data.map((event) => event.type)).toEqual(Array(5).fill('messages.upsert'))
    const ofA = await listEvents(handle.db, { tenantId, limit: 100, sessionId: sessionA })
    expect(ofA.data.map((event) => event.seq)).toEqual(Array.from({ length: 10 }, (_, n) => n + 1))
    expect(ofA.nextCursor).toBeNull()

    const one = await getEvent(handle.db, { tenantId, eventId: written[3]! })
    expect(one.id).toBe(written[3])
    expect(one.delivery).toEqual({
      status: 'none',
      attempts: 0,
      nextAttemptAt: null,
      lastError: null,
      deliveredAt: null,
    })
    await expect(getEvent(handle.db, { tenantId: otherTenant, eventId: written[3]! })).rejects.toThrow(
      /not found/,
    )
  })

  it('redelivers dead events or chosen ids of the tenant only, with a fresh attempt budget', async () => {
    const { handle } = test
    const tenantId = await seedTenant(handle)
    const otherTenant = await seedTenant(handle)
    const sessionId = await seedSession(handle, tenantId)
    const otherSession = await seedSession(handle, otherTenant)
    const events = await appendEvents(handle.db, {
      sessionId,
      events: [connectionUpdate(1), connectionUpdate(2), connectionUpdate(3)],
    })
    const other = await appendEvent(handle.db, { sessionId: otherSession, ...connectionUpdate(9) })
    await handle.rows(sql`UPDATE events SET delivery = 'dead', attempts = 12, last_error = 'HTTP 500'`)
    await handle.rows(
      sql`UPDATE events SET delivery = 'delivered', delivered_at = now() WHERE id = ${events[2]!.id}`,
    )

    expect(await redeliverEvents(handle.db, { tenantId, status: 'dead' })).toBe(2)
    const page = await listEvents(handle.db, { tenantId, limit: 10 })
    expect(
      page.data.map((event) => [event.delivery.status, event.delivery.attempts, event.delivery.lastError]),
    ).toEqual([
      ['pending', 0, null],
      ['pending', 0, null],
      ['delivered', 12, 'HTTP 500'],
    ])
    expect((await getEvent(handle.db, { tenantId: otherTenant, eventId: other.id })).delivery.status).toBe(
      'dead',
    )

    // By id: a delivered event can be sent again; another tenant's id is not touched.
    expect(await redeliverEvents(handle.db, { tenantId, eventIds: [events[2]!.id, other.id] })).toBe(1)
    expect((await getEvent(handle.db, { tenantId, eventId: events[2]!.id })).delivery).toMatchObject({
      status: 'pending',
      deliveredAt: null,
    })
    expect(await redeliverEvents(handle.db, { tenantId, eventIds: [] })).toBe(0)
  })
})
