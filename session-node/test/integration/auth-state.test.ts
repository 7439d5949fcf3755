import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { type DatabaseHandle, openDatabase } from '@wa-cluster/db'
import { createSecretBox, type SecretBox, StaleEpoch } from '@wa-cluster/shared'
import {
  type AuthenticationState,
  addTransactionCapability,
  Curve,
  DEFAULT_CONNECTION_CONFIG,
  generateSignalPubKey,
  type SignalDataSet,
  useMultiFileAuthState,
} from '@whiskeysockets/baileys'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../../../test-support/postgres.js'
import { eventually, sleep } from '../../../test-support/wait.js'
import { hasAuthCreds, openPostgresAuthState, wipeAuthState } from '../../src/auth-state/index.js'
import { type AuthStoreUnderTest, authStateContract, sampleKeyValues } from './auth-state-contract.js'

const logger = pino({ level: 'silent' })
const secretBox = createSecretBox(randomBytes(32))

/** A tenant and a session row at `epoch`, which the fenced writes check against. */
async function createSessionRow(database: DatabaseHandle, epoch = 1): Promise<string> {
  const suffix = randomBytes(6).toString('hex')
  const tenantId = `tenant_${suffix}`
  const sessionId = `session_${suffix}`
  await database.rows(sql`INSERT INTO tenants (id, name) VALUES (${tenantId}, 'auth-state test')`)
  await database.rows(
    sql`INSERT INTO sessions (id, tenant_id, name, epoch) VALUES (${sessionId}, ${tenantId}, 'auth', ${epoch})`,
  )
  return sessionId
}

async function bumpEpoch(database: DatabaseHandle, sessionId: string) {
  await database.rows(sql`UPDATE sessions SET epoch = epoch + 1 WHERE id = ${sessionId}`)
}

async function authRows(database: DatabaseHandle, sessionId: string) {
  const keys = await database.rows<{ category: string; key_id: string; value: Uint8Array }>(
    sql`SELECT category, key_id, value FROM auth_keys WHERE session_id = ${sessionId} ORDER BY category, key_id`,
  )
  const creds = await database.rows<{ value: Uint8Array }>(
    sql`SELECT value FROM auth_creds WHERE session_id = ${sessionId}`,
  )
  const hex = (value: Uint8Array) => Buffer.from(value).toString('hex')
  return {
    keys: keys.map((row) => `${row.category}/${row.key_id}=${hex(row.value)}`),
    creds: creds.map((row) => hex(row.value)),
  }
}

function postgresStore(
  name: string,
  connect: () => Promise<{ database: DatabaseHandle; close(): Promise<void> }>,
) {
  let connection: Awaited<ReturnType<typeof connect>> | undefined
  const database = async () => {
    connection ??= await connect()
    return connection.database
  }
  return {
    name,
    database,
    store: {
      name,
      async createBacking() {
        const handle = await database()
        const sessionId = await createSessionRow(handle)
        return {
          open: () => openPostgresAuthState({ database: handle, secretBox, sessionId, epoch: 1, logger }),
        }
      },
    } satisfies AuthStoreUnderTest,
    async close() {
      await connection?.close()
    },
  }
}

const folders: string[] = []

const multiFile: AuthStoreUnderTest = {
  name: "Baileys' useMultiFileAuthState",
  async createBacking() {
    const folder = await mkdtemp(join(tmpdir(), 'wa-auth-contract-'))
    folders.push(folder)
    return { open: () => useMultiFileAuthState(folder) }
  },
}

const pglite = postgresStore('Postgres store on PGlite', async () => {
  const database = openDatabase({})
  await database.migrate()
  return { database, close: () => database.close() }
})

let testDatabase: TestDatabase | undefined
const realPostgres = postgresStore('Postgres store on PostgreSQL', async () => {
  testDatabase = await createTestDatabase('auth_state')
  return { database: testDatabase.handle, close: () => testDatabase!.drop() }
})

// Registered first, so it runs after every suite of this file (vitest runs afterAll hooks in reverse).
afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })))
  await pglite.close()
  await realPostgres.close()
})

authStateContract(multiFile)
authStateContract(pglite.store)
authStateContract(realPostgres.store)

for (const backend of [pglite, realPostgres]) {
  describe(`${backend.name} specifics`, () => {
    let database: DatabaseHandle
    beforeAll(async () => {
      database = await backend.database()
    })

    it('omits missing ids from a batched get entirely', async () => {
      const sessionId = await createSessionRow(database)
      const { state } = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
      await state.keys.set({ session: { 'here.0': new Uint8Array([1, 2, 3]) } })
      const result = await state.keys.get('session', ['here.0', 'gone.0'])
      expect(Object.keys(result)).toEqual(['here.0'])
    })

    it('keeps no private key in the database, only sealed bytes', async () => {
      const sessionId = await createSessionRow(database)
      const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
      const { creds } = opened.state
      // A pairing-like workload: the pre-key upload, creds, and a live Signal session.
      const preKeys = Object.fromEntries(
        Array.from({ length: 812 }, (_, index) => [`${index + 1}`, Curve.generateKeyPair()]),
      )
      await opened.state.keys.set({ 'pre-key': preKeys })
      creds.me = { id: '628123456789:2@s.whatsapp.net' }
      await opened.saveCreds()
      const samples = sampleKeyValues()
      await opened.state.keys.set(
        Object.fromEntries(Object.entries(samples).map(([c, v]) => [c, { x: v }])) as SignalDataSet,
      )

      const secrets = [
        creds.noiseKey.private,
        creds.signedIdentityKey.private,
        creds.signedPreKey.keyPair.private,
        creds.pairingEphemeralKeyPair.private,
        Buffer.from(creds.advSecretKey, 'base64'),
        samples['pre-key'].private,
        samples['app-state-sync-key'].keyData!,
        samples.session,
        ...Object.values(preKeys).map((pair) => pair.private),
      ].map((secret) => Buffer.from(secret))

      const rows = await database.rows<{ value: Uint8Array }>(
        sql`SELECT value FROM auth_keys WHERE session_id = ${sessionId}
            UNION ALL SELECT value FROM auth_creds WHERE session_id = ${sessionId}`,
      )
      expect(rows.length).toBe(812 + Object.keys(samples).length + 1)
      // Collected, then asserted once: ~700k separate expect() calls would take most of a minute.
      const leaks: string[] = []
      for (const [rowIndex, row] of rows.entries()) {
        const stored = Buffer.from(row.value)
        for (const [secretIndex, secret] of secrets.entries()) {
          if (stored.includes(secret)) leaks.push(`row ${rowIndex} holds secret ${secretIndex}`)
          // Plaintext BufferJSON would carry it as base64.
          if (stored.includes(secret.toString('base64')))
            leaks.push(`row ${rowIndex} holds secret ${secretIndex} as base64`)
        }
        if (stored.includes(Buffer.from('"private"'))) leaks.push(`row ${rowIndex} holds plaintext JSON`)
      }
      // What a dump shows: the bytea column as text (hex) and as base64.
      const [dump] = await database.rows<{ text: string }>(sql`
        SELECT string_agg(value::text || ' ' || encode(value, 'base64'), ' ') AS text FROM (
          SELECT value FROM auth_keys WHERE session_id = ${sessionId}
          UNION ALL SELECT value FROM auth_creds WHERE session_id = ${sessionId}) AS everything`)
      const dumpText = dump!.text.replace(/\n/g, '')
      for (const [secretIndex, secret] of secrets.entries()) {
        if (dumpText.includes(secret.toString('hex'))) leaks.push(`dump shows secret ${secretIndex} as hex`)
        if (dumpText.includes(secret.toString('base64')))
          leaks.push(`dump shows secret ${secretIndex} as base64`)
      }
      expect(leaks).toEqual([])
      expect(dumpText.length).toBeGreaterThan(812 * 100)
    })

    it('refuses to open with the wrong key and rejects a sealed value moved to another key id', async () => {
      const sessionId = await createSessionRow(database)
      const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
      await opened.saveCreds()
      await opened.state.keys.set({ 'identity-key': { 'a.0': new Uint8Array(33).fill(5) } })
      const wrongBox: SecretBox = createSecretBox(randomBytes(32))
      await expect(
        openPostgresAuthState({ database, secretBox: wrongBox, sessionId, epoch: 1 }),
      ).rejects.toThrow()

      await database.rows(sql`
        INSERT INTO auth_keys (session_id, category, key_id, value)
        SELECT session_id, category, 'b.0', value FROM auth_keys WHERE session_id = ${sessionId} AND key_id = 'a.0'`)
      const reopened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
      expect(Object.keys(await reopened.state.keys.get('identity-key', ['a.0']))).toEqual(['a.0'])
      await expect(reopened.state.keys.get('identity-key', ['b.0'])).rejects.toThrow()
    })

    it('refuses every write once the epoch moved on, and changes nothing', async () => {
      const sessionId = await createSessionRow(database, 7)
      const staleErrors: StaleEpoch[] = []
      const opened = await openPostgresAuthState({
        database,
        secretBox,
        sessionId,
        epoch: 7,
        logger,
        onStaleEpoch: (error) => staleErrors.push(error),
      })
      await opened.state.keys.set({
        session: { 'peer.0': new Uint8Array([1]) },
        'pre-key': { '1': Curve.generateKeyPair() },
      })
      await opened.saveCreds()
      const before = await authRows(database, sessionId)

      await bumpEpoch(database, sessionId)
      await expect(
        opened.state.keys.set({ session: { 'peer.0': new Uint8Array([2]), 'other.0': new Uint8Array([3]) } }),
      ).rejects.toBeInstanceOf(StaleEpoch)
      await expect(opened.state.keys.set({ 'pre-key': { '1': null } })).rejects.toBeInstanceOf(StaleEpoch)
      opened.state.creds.registered = true
      await expect(opened.saveCreds()).rejects.toBeInstanceOf(StaleEpoch)
      await expect(wipeAuthState(database, sessionId, 7)).rejects.toBeInstanceOf(StaleEpoch)
      await opened.flush()

      expect(await authRows(database, sessionId)).toEqual(before)
      expect(staleErrors).toHaveLength(1)
      expect(staleErrors[0]).toMatchObject({ sessionId, epoch: 7 })
      // The refused write is not served from memory either.
      expect(Buffer.from((await opened.state.keys.get('session', ['peer.0']))['peer.0']!)).toEqual(
        Buffer.of(1),
      )

      // A fresh owner at the new epoch writes fine.
      const successor = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 8 })
      await successor.state.keys.set({ session: { 'peer.0': new Uint8Array([9]) } })
      expect(Buffer.from((await successor.state.keys.get('session', ['peer.0']))['peer.0']!)).toEqual(
        Buffer.of(9),
      )
    })

    it('wipes creds and keys, fenced by the epoch when given', async () => {
      const sessionId = await createSessionRow(database, 3)
      const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 3 })
      await opened.saveCreds()
      await opened.state.keys.set({
        'pre-key': { '1': Curve.generateKeyPair() },
        session: { 'p.0': new Uint8Array(4) },
      })
      expect(await hasAuthCreds(database, sessionId)).toBe(true)

      await wipeAuthState(database, sessionId, 3)
      expect(await hasAuthCreds(database, sessionId)).toBe(false)
      expect(await authRows(database, sessionId)).toEqual({ keys: [], creds: [] })
      const reopened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 3 })
      expect(reopened.hasCreds).toBe(false)
      expect(reopened.state.creds.registered).toBe(false)

      await reopened.saveCreds()
      await wipeAuthState(database, sessionId)
      expect(await hasAuthCreds(database, sessionId)).toBe(false)
    })

    it('serves hot keys from its cache but never caches the uploaded pre-keys', async () => {
      const sessionId = await createSessionRow(database)
      const { state } = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
      await state.keys.set({
        session: { 'hot.0': new Uint8Array([7]) },
        'pre-key': { '5': Curve.generateKeyPair() },
      })
      // Rows removed behind the store's back: the session comes from memory, the pre-key from the table.
      await database.rows(sql`DELETE FROM auth_keys WHERE session_id = ${sessionId}`)
      expect(Object.keys(await state.keys.get('session', ['hot.0']))).toEqual(['hot.0'])
      expect(await state.keys.get('pre-key', ['5'])).toEqual({})
    })

    it('encrypts and decrypts Signal messages with Baileys, across store reopenings', async () => {
      const alice = { jid: '628111111111@s.whatsapp.net', sessionId: await createSessionRow(database) }
      const bob = { jid: '628222222222@s.whatsapp.net', sessionId: await createSessionRow(database) }
      const repositoryOf = async (sessionId: string) => {
        const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1, logger })
        await opened.saveCreds()
        // What makeWASocket does with `auth.keys` before handing it to the repository.
        const keys = addTransactionCapability(opened.state.keys, logger as never, {
          maxCommitRetries: 1,
          delayBetweenTriesMs: 0,
        })
        const repository = DEFAULT_CONNECTION_CONFIG.makeSignalRepository(
          { creds: opened.state.creds, keys },
          logger as never,
        )
        return { opened, repository }
      }

      const bobSide = await repositoryOf(bob.sessionId)
      const bobPreKey = Curve.generateKeyPair()
      await bobSide.opened.state.keys.set({ 'pre-key': { '42': bobPreKey } })
      const bobCreds = bobSide.opened.state.creds
      const aliceSide = await repositoryOf(alice.sessionId)
      await aliceSide.repository.injectE2ESession({
        jid: bob.jid,
        session: {
          registrationId: bobCreds.registrationId,
          identityKey: generateSignalPubKey(bobCreds.signedIdentityKey.public),
          signedPreKey: {
            keyId: bobCreds.signedPreKey.keyId,
            publicKey: generateSignalPubKey(bobCreds.signedPreKey.keyPair.public),
            signature: bobCreds.signedPreKey.signature,
          },
          preKey: { keyId: 42, publicKey: generateSignalPubKey(bobPreKey.public) },
        },
      })

      const send = async (
        from: Awaited<ReturnType<typeof repositoryOf>>,
        to: Awaited<ReturnType<typeof repositoryOf>>,
        fromJid: string,
        toJid: string,
        text: string,
      ) => {
        const { type, ciphertext } = await from.repository.encryptMessage({
          jid: toJid,
          data: Buffer.from(text),
        })
        const plaintext = await to.repository.decryptMessage({ jid: fromJid, type, ciphertext })
        expect(Buffer.from(plaintext).toString()).toBe(text)
        return type
      }

      expect(await send(aliceSide, bobSide, alice.jid, bob.jid, 'hello bob')).toBe('pkmsg')
      expect(await bobSide.opened.state.keys.get('pre-key', ['42'])).toEqual({})
      expect(await send(bobSide, aliceSide, bob.jid, alice.jid, 'hello alice')).toBe('msg')
      await aliceSide.opened.flush()
      await bobSide.opened.flush()

      // New store instances (as after a hand-over to another node): the ratchets continue from Postgres.
      const aliceAgain = await repositoryOf(alice.sessionId)
      const bobAgain = await repositoryOf(bob.sessionId)
      for (let round = 0; round < 5; round++) {
        expect(await send(aliceAgain, bobAgain, alice.jid, bob.jid, `ping ${round}`)).toBe('msg')
        expect(await send(bobAgain, aliceAgain, bob.jid, alice.jid, `pong ${round}`)).toBe('msg')
      }
    })
  })
}

describe('fencing against a concurrent epoch bump on PostgreSQL', () => {
  it('blocks a batch behind an uncommitted bump, then refuses all of it', async () => {
    const database = await realPostgres.database()
    const sessionId = await createSessionRow(database, 1)
    const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
    await opened.state.keys.set({ session: { 'keep.0': new Uint8Array([1]) } })
    const before = await authRows(database, sessionId)
    const preKeys = Object.fromEntries(
      Array.from({ length: 500 }, (_, index) => [`${index}`, Curve.generateKeyPair()]),
    )

    const other = postgres(testDatabase!.url, { max: 1, onnotice: () => {} })
    let settled: 'pending' | 'resolved' | 'rejected' = 'pending'
    let write: Promise<void> | undefined
    try {
      await other.begin(async (transaction) => {
        await transaction`UPDATE sessions SET epoch = epoch + 1 WHERE id = ${sessionId}`
        write = opened.state.keys.set({ 'pre-key': preKeys, session: { 'keep.0': null } })
        write.then(
          () => {
            settled = 'resolved'
          },
          () => {
            settled = 'rejected'
          },
        )
        // The fence waits on the bump's row lock instead of writing under the old epoch: seen as a
        // backend of this database waiting on a lock, while the write has not settled.
        await eventually('the fenced write to wait on the row lock', async () => {
          const waiting = await transaction`
            SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
          return waiting.length > 0
        })
        expect(settled).toBe('pending')
      })
      await expect(write).rejects.toBeInstanceOf(StaleEpoch)
    } finally {
      await other.end()
    }
    expect(await authRows(database, sessionId)).toEqual(before)
  })

  it('applies a batch that won the race in full', async () => {
    const database = await realPostgres.database()
    const sessionId = await createSessionRow(database, 1)
    const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
    const preKeys = Object.fromEntries(
      Array.from({ length: 812 }, (_, index) => [`${index}`, Curve.generateKeyPair()]),
    )
    const write = opened.state.keys.set({ 'pre-key': preKeys }).then(
      () => 'applied',
      (error) => (error instanceof StaleEpoch ? 'refused' : Promise.reject(error)),
    )
    await sleep(1)
    await bumpEpoch(database, sessionId)
    const outcome = await write
    const [{ count } = { count: -1 }] = await database.rows<{ count: number }>(
      sql`SELECT count(*)::int AS count FROM auth_keys WHERE session_id = ${sessionId}`,
    )
    expect(count).toBe(outcome === 'applied' ? 812 : 0)
  })
})

describe('pg_dump of a paired session', () => {
  it('shows no key material', async () => {
    const database = await realPostgres.database()
    const sessionId = await createSessionRow(database)
    const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
    const preKey = Curve.generateKeyPair()
    await opened.state.keys.set({ 'pre-key': { '1': preKey } })
    await opened.saveCreds()
    const { stdout } = await promisify(execFile)('pg_dump', [
      '--data-only',
      '--table=auth_keys',
      '--table=auth_creds',
      testDatabase!.url,
    ])
    expect(stdout).toContain(sessionId)
    // COPY shows bytea as \\x<hex>; look inside the decoded bytes too, where plaintext JSON would
    // carry a key as base64.
    const decoded = Buffer.concat(
      [...stdout.matchAll(/\\\\x([0-9a-f]+)/g)].map((match) => Buffer.from(match[1]!, 'hex')),
    )
    expect(decoded.length).toBeGreaterThan(100)
    const secrets = [
      preKey.private,
      opened.state.creds.noiseKey.private,
      opened.state.creds.signedIdentityKey.private,
    ]
    for (const secret of secrets.map((value) => Buffer.from(value))) {
      for (const haystack of [Buffer.from(stdout), decoded]) {
        expect(haystack.includes(secret)).toBe(false)
        expect(haystack.includes(secret.toString('hex'))).toBe(false)
        expect(haystack.includes(secret.toString('base64'))).toBe(false)
      }
    }
    expect(decoded.includes('"private"')).toBe(false)
  })
})

export type { AuthenticationState }

describe('a key write that fails while Postgres is away', () => {
  it('keeps serving what the socket wrote, never the older row, until the retried write commits', async () => {
    const test = await createTestDatabase('auth_outage')
    const admin = postgres(test.url.replace(/\/[^/]+$/, '/postgres'), { max: 1, onnotice: () => {} })
    try {
      const database = test.handle
      const sessionId = await createSessionRow(database, 1)
      const opened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
      await opened.state.keys.set({ session: { peer: new Uint8Array([1]) } })
      const read = async () => Buffer.from((await opened.state.keys.get('session', ['peer'])).peer!)

      await admin.unsafe(`ALTER DATABASE ${test.name} ALLOW_CONNECTIONS false`)
      await admin.unsafe(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${test.name}' AND pid <> pg_backend_pid()`,
      )
      // The socket moved the Signal session on (value 2); storing it fails.
      await expect(opened.state.keys.set({ session: { peer: new Uint8Array([2]) } })).rejects.toThrow()
      await admin.unsafe(`ALTER DATABASE ${test.name} ALLOW_CONNECTIONS true`)

      // Postgres is back but still holds 1. Until the retry commits, reads must say 2: encrypting with the
      // spent state would send what the recipient cannot decrypt.
      expect(await read()).toEqual(Buffer.from([2]))
      await opened.state.keys.set({ session: { peer: new Uint8Array([2]) } })
      const reopened = await openPostgresAuthState({ database, secretBox, sessionId, epoch: 1 })
      expect(Buffer.from((await reopened.state.keys.get('session', ['peer'])).peer!)).toEqual(
        Buffer.from([2]),
      )
    } finally {
      await admin.end()
      await test.drop()
    }
  })
})
