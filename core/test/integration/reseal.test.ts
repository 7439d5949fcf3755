import { createSecretBox, generateSecretBoxKey, parseSecretBoxKey, type SecretBox } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { seedSession, seedTenant, seedWebhook } from '../../../test-support/seed.js'
import {
  countNotCurrent,
  credsSealContext,
  keySealContext,
  type ResealProgress,
  resealSecrets,
  webhookSecretSealContext,
} from '../../src/index.js'

const KEYS_PER_SESSION = 23

type KeyRow = { session_id: string; category: string; key_id: string; value: Buffer }

describe('re-sealing stored secrets after an AUTH_STATE_KEY rotation (real Postgres)', () => {
  let test: TestDatabase
  const oldKey = parseSecretBoxKey(generateSecretBoxKey())
  const newKey = parseSecretBoxKey(generateSecretBoxKey())
  const before = createSecretBox(oldKey)
  const during = createSecretBox(newKey, [oldKey])
  const after = createSecretBox(newKey)
  let sessions: string[]
  let tenantId: string
  let webhookSecret: string

  async function writeKey(box: SecretBox, sessionId: string, keyId: string, plaintext: string) {
    const value = box.seal(Buffer.from(plaintext), keySealContext(sessionId, 'pre-key', keyId))
    await test.handle.rows(sql`
      INSERT INTO auth_keys (session_id, category, key_id, value) VALUES (${sessionId}, 'pre-key', ${keyId}, ${value})
      ON CONFLICT (session_id, category, key_id) DO UPDATE SET value = EXCLUDED.value`)
  }

  const keyRows = () =>
    test.handle.rows<KeyRow>(sql`SELECT session_id, category, key_id, value FROM auth_keys ORDER BY 1, 2, 3`)

  beforeAll(async () => {
    test = await createTestDatabase('reseal')
    tenantId = await seedTenant(test.handle)
    sessions = [await seedSession(test.handle, tenantId), await seedSession(test.handle, tenantId)]
    for (const sessionId of sessions) {
      const creds = before.seal(Buffer.from(`creds of ${sessionId}`), credsSealContext(sessionId))
      await test.handle.rows(sql`INSERT INTO auth_creds (session_id, value) VALUES (${sessionId}, ${creds})`)
      for (let n = 0; n < KEYS_PER_SESSION; n++)
        await writeKey(before, sessionId, String(n), `key ${n} of ${sessionId}`)
    }
    webhookSecret = await seedWebhook(test.handle, before, { tenantId, url: 'https://example.com/hook' })
  })
  afterAll(async () => {
    await test?.drop()
  })

  it('a dry run counts what is sealed with another key and changes nothing', async () => {
    const rows = await keyRows()
    const total = sessions.length * (KEYS_PER_SESSION + 1) + 1
    expect(await countNotCurrent(test.handle, during)).toBe(total)
    const result = await resealSecrets({ database: test.handle, secretBox: during, dryRun: true })
    expect(result.remaining).toBe(total)
    expect(result.tables.map((table) => [table.table, table.scanned, table.resealed])).toEqual([
      ['auth_creds', 2, 0],
      ['auth_keys', 2 * KEYS_PER_SESSION, 0],
      ['webhooks', 1, 0],
      ['webhooks', 0, 0], // the rotated-out secret: none here
      ['webhook_endpoints', 0, 0],
      ['webhook_endpoints', 0, 0],
    ])
    const unchanged = await keyRows()
    expect(unchanged.map((row) => row.value.toString('hex'))).toEqual(
      rows.map((row) => row.value.toString('hex')),
    )
  })

  it('re-seals every value with the new key batch by batch, never overwriting what an owner wrote meanwhile', async () => {
    const [quiet, busy] = sessions as [string, string]
    const progress: ResealProgress[] = []
    let ownerWrites = 0
    let resealing = true
    // The owner of `busy` keeps rewriting its keys (sealed with the new primary, new plaintext) while
    // the re-seal works through a batch it read before those writes.
    const owner = (async () => {
      while (resealing) {
        const n = ownerWrites++ % KEYS_PER_SESSION
        await writeKey(during, busy, String(n), `rewritten ${n}`)
      }
    })()
    const result = await resealSecrets({
      database: test.handle,
      secretBox: during,
      batchSize: 1000,
      onProgress: (step) => progress.push(step),
    })
    resealing = false
    await owner
    expect(result.remaining).toBe(0)
    expect(result.unreadable).toBe(0)
    expect(progress.filter((step) => step.table === 'auth_keys').at(-1)?.scanned).toBe(2 * KEYS_PER_SESSION)
    const keys = result.tables.find((table) => table.table === 'auth_keys')!
    expect(keys.resealed + keys.current + keys.changed).toBe(2 * KEYS_PER_SESSION)

    // Everything now opens with the new key alone, with the plaintext it had (or the owner's newer one).
    for (const row of await keyRows()) {
      const opened = after
        .open(row.value, keySealContext(row.session_id, row.category, row.key_id))
        .toString()
      if (row.session_id === quiet) expect(opened).toBe(`key ${row.key_id} of ${quiet}`)
      else
        expect(opened).toBe(
          Number(row.key_id) < ownerWrites ? `rewritten ${row.key_id}` : `key ${row.key_id} of ${busy}`,
        )
    }
    const creds = await test.handle.rows<{ session_id: string; value: Buffer }>(
      sql`SELECT session_id, value FROM auth_creds`,
    )
    for (const row of creds)
      expect(after.open(row.value, credsSealContext(row.session_id)).toString()).toBe(
        `creds of ${row.session_id}`,
      )
    const [webhook] = await test.handle.rows<{ secret_sealed: Buffer }>(
      sql`SELECT secret_sealed FROM webhooks WHERE tenant_id = ${tenantId}`,
    )
    expect(after.open(webhook!.secret_sealed, webhookSecretSealContext(tenantId)).toString()).toBe(
      webhookSecret,
    )
    expect(await countNotCurrent(test.handle, after)).toBe(0)
  })

  it('reports a value no key of the ring opens and leaves it as it is', async () => {
    const stranger = createSecretBox(parseSecretBoxKey(generateSecretBoxKey()))
    const [sessionId] = sessions as [string]
    await writeKey(stranger, sessionId, 'lost', 'sealed with a key nobody kept')
    const result = await resealSecrets({ database: test.handle, secretBox: during })
    expect(result.unreadable).toBe(1)
    expect(result.remaining).toBe(1)
    const [row] = await test.handle.rows<{ value: Buffer }>(
      sql`SELECT value FROM auth_keys WHERE session_id = ${sessionId} AND key_id = 'lost'`,
    )
    expect(stranger.open(row!.value, keySealContext(sessionId, 'pre-key', 'lost')).toString()).toBe(
      'sealed with a key nobody kept',
    )
  })
})
