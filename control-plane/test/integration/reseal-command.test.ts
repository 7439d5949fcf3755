import { credsSealContext } from '@wa-cluster/core'
import { createSecretBox, generateSecretBoxKey, parseSecretBoxKey, secretBoxKeyId } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { startProcess } from '../../../test-support/processes.js'
import { seedSession, seedTenant, seedWebhook } from '../../../test-support/seed.js'

/** `npm run secrets:reseal` as an operator runs it, against a real Postgres database. */
describe.sequential('the re-seal command (AUTH_STATE_KEY rotation)', () => {
  let test: TestDatabase
  const oldKey = generateSecretBoxKey()
  const newKey = generateSecretBoxKey()
  const before = createSecretBox(parseSecretBoxKey(oldKey))

  async function run(env: Record<string, string>, args: string[] = []) {
    const command = startProcess(
      'reseal',
      'control-plane/src/commands/reseal-secrets.ts',
      {
        DATABASE_URL: test.url,
        LOG_LEVEL: 'info',
        ...env,
      },
      args,
    )
    const code = await command.exited
    return { code, output: command.lines.join('\n') }
  }

  const sealedKeyIds = async () =>
    (
      await test.handle.rows<{ id: string }>(sql`
        SELECT encode(substring(value FROM 2 FOR 8), 'hex') AS id FROM auth_creds
        UNION ALL SELECT encode(substring(secret_sealed FROM 2 FOR 8), 'hex') FROM webhooks`)
    ).map((row) => row.id)

  beforeAll(async () => {
    test = await createTestDatabase('reseal_command')
    const tenantId = await seedTenant(test.handle)
    const sessionId = await seedSession(test.handle, tenantId)
    const creds = before.seal(Buffer.from('creds'), credsSealContext(sessionId))
    await test.handle.rows(sql`INSERT INTO auth_creds (session_id, value) VALUES (${sessionId}, ${creds})`)
    await seedWebhook(test.handle, before, { tenantId, url: 'https://example.com/hook' })
  })
  afterAll(async () => {
    await test?.drop()
  })

  it('refuses to start without DATABASE_URL, naming the embedded alternative', async () => {
    const command = startProcess('reseal', 'control-plane/src/commands/reseal-secrets.ts', {
      AUTH_STATE_KEY: newKey,
    })
    expect(await command.exited).toBe(1)
    expect(command.lines.join('\n')).toMatch(
      /DATABASE_URL is required; the embedded gateway re-seals by itself/,
    )
  })

  it('exits 2 and changes nothing when the old key is not in the ring', async () => {
    const { code, output } = await run({ AUTH_STATE_KEY: newKey })
    expect(code).toBe(2)
    expect(output).toMatch(/some values open with no key of the ring/)
    expect(output).not.toContain(oldKey)
    expect(output).not.toContain(newKey)
    expect(await sealedKeyIds()).toEqual([
      secretBoxKeyId(parseSecretBoxKey(oldKey)),
      secretBoxKeyId(parseSecretBoxKey(oldKey)),
    ])
  })

  it('--dry-run counts and changes nothing', async () => {
    const { code, output } = await run({ AUTH_STATE_KEY: newKey, AUTH_STATE_PREVIOUS_KEYS: oldKey }, [
      '--dry-run',
    ])
    expect(code).toBe(0)
    expect(output).toMatch(/"remaining":2/)
    expect(new Set(await sealedKeyIds())).toEqual(new Set([secretBoxKeyId(parseSecretBoxKey(oldKey))]))
  })

  it('re-seals everything with the new key, logs progress without secrets, and exits 0', async () => {
    const { code, output } = await run({ AUTH_STATE_KEY: newKey, AUTH_STATE_PREVIOUS_KEYS: oldKey })
    expect(code).toBe(0)
    expect(output).toMatch(/re-seal progress/)
    expect(output).toMatch(/every secret is sealed with the primary key/)
    expect(output).not.toContain(oldKey)
    expect(output).not.toContain(newKey)
    expect(new Set(await sealedKeyIds())).toEqual(new Set([secretBoxKeyId(parseSecretBoxKey(newKey))]))
  })
})
