import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { seedSession, seedTenant } from '../../../test-support/seed.js'
import { msUntilNextDue } from '../../src/messages/outbound-queue.js'

let test: TestDatabase
beforeAll(async () => {
  test = await createTestDatabase('outbound_queue')
})
afterAll(async () => {
  await test?.drop()
})

async function queue(tenantId: string, sessionId: string, id: string, sendAfter: string | null) {
  await test.handle.rows(sql`
    INSERT INTO messages (id, tenant_id, session_id, direction, chat_id, text, status, send_after)
    VALUES (${id}, ${tenantId}, ${sessionId}, 'out', '6281111111111@s.whatsapp.net', 'hi', 'queued',
      ${sendAfter === null ? null : sql`now() + ${sendAfter}::interval`})`)
}

describe('the send loop wake-up (msUntilNextDue)', () => {
  it('is undefined when nothing waits, so an idle session sets no timer', async () => {
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    expect(await msUntilNextDue(test.handle, sessionId)).toBeUndefined()
    // A queued message due now is the claim's business, not a wait: still nothing scheduled.
    await queue(tenantId, sessionId, 'msg_due_now', null)
    expect(await msUntilNextDue(test.handle, sessionId)).toBeUndefined()
  })

  it('is the time until the earliest scheduled message, and 0 once it is past', async () => {
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    await queue(tenantId, sessionId, 'msg_later', '1 hour')
    await queue(tenantId, sessionId, 'msg_sooner', '1 minute')
    const wait = await msUntilNextDue(test.handle, sessionId)
    expect(wait).toBeGreaterThan(50_000)
    expect(wait).toBeLessThanOrEqual(60_000)
    await test.handle.rows(
      sql`UPDATE messages SET send_after = now() - interval '1 second' WHERE id = 'msg_sooner'`,
    )
    expect(await msUntilNextDue(test.handle, sessionId)).toBe(0)
  })
})
