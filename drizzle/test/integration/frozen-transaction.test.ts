import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { type DatabaseHandle, openDatabase } from '../../src/client.js'

describe('a process frozen inside a transaction', () => {
  let database: TestDatabase
  let frozen: DatabaseHandle
  beforeAll(async () => {
    database = await createTestDatabase('frozen_tx')
    frozen = openDatabase({ url: database.url, idleInTransactionTimeoutMs: 300 })
    await database.handle.rows(sql`CREATE TABLE rows_locked (id int PRIMARY KEY, owner text)`)
    await database.handle.rows(sql`INSERT INTO rows_locked VALUES (1, 'first')`)
  })
  afterAll(async () => {
    await frozen?.close()
    await database?.drop()
  })

  it('loses its transaction and its row locks, so others are not held up for as long as it stays frozen', async () => {
    let held: Promise<unknown> | undefined
    const locked = new Promise<void>((lockTaken) => {
      held = frozen.db.transaction(async (tx) => {
        await tx.execute(sql`UPDATE rows_locked SET owner = 'frozen' WHERE id = 1`)
        lockTaken()
        // The process stops here (SIGSTOP, a VM pause): nothing more is sent inside the transaction.
        await new Promise((resume) => setTimeout(resume, 2_000))
        await tx.execute(sql`UPDATE rows_locked SET owner = 'resumed' WHERE id = 1`)
      })
    })
    await locked
    // Its connection may be closed (and the transaction rejected) before the leader's update returns:
    // handled from now on, so that early rejection is not an unhandled one; the expect below reads it.
    held!.catch(() => {})
    // Another process (the failover leader) updates the same row: it waits for the lock, then goes on.
    await database.handle.rows(sql`UPDATE rows_locked SET owner = 'leader' WHERE id = 1`)
    await expect(held).rejects.toThrow()
    const [row] = await database.handle.rows<{ owner: string }>(
      sql`SELECT owner FROM rows_locked WHERE id = 1`,
    )
    expect(row?.owner).toBe('leader')
  })
})
