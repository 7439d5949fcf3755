import { randomBytes } from 'node:crypto'
import {
  type AuthenticationState,
  Curve,
  proto,
  type SignalDataSet,
  type SignalDataTypeMap,
} from '@whiskeysockets/baileys'
import { afterAll, describe, expect, it } from 'vitest'

/** What the contract needs from a store: Baileys' own shape (`useMultiFileAuthState` returns it too). */
export type OpenedAuthState = { state: AuthenticationState; saveCreds(): Promise<void> }

/** A place auth state lives (a folder, a session row); `open()` is a new store instance on it each call. */
export type AuthBacking = { open(): Promise<OpenedAuthState> }

export type AuthStoreUnderTest = {
  name: string
  /** A fresh, empty backing; each test gets its own. */
  createBacking(): Promise<AuthBacking>
  close?(): Promise<void>
}

const bytes = (length: number) => new Uint8Array(randomBytes(length))

/** One realistic value per category Baileys defines, shaped as Baileys writes them. */
export function sampleKeyValues(): { [T in keyof SignalDataTypeMap]: SignalDataTypeMap[T] } {
  return {
    'pre-key': Curve.generateKeyPair(),
    session: bytes(600),
    'sender-key': bytes(300),
    'sender-key-memory': { '628123456789@s.whatsapp.net': true, '628987654321:3@s.whatsapp.net': true },
    'app-state-sync-key': proto.Message.AppStateSyncKeyData.fromObject({
      keyData: bytes(32),
      fingerprint: { rawId: 7, currentIndex: 2, deviceIndexes: [0, 1] },
      timestamp: 1_700_000_000,
    }),
    'app-state-sync-version': {
      version: 12,
      hash: Buffer.from(bytes(128)),
      indexValueMap: { [Buffer.from(bytes(32)).toString('base64')]: { valueMac: Buffer.from(bytes(32)) } },
    },
    'lid-mapping': '123456789012345@lid',
    'device-list': ['0', '3', '12'],
    tctoken: { token: Buffer.from(bytes(24)), timestamp: '1700000000' },
    'identity-key': bytes(33),
  }
}

/** Compares as bytes whatever the byte container (Uint8Array in, Buffer out is what Baileys expects). */
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value).toString('hex') }
  if (Array.isArray(value)) return value.map(normalise)
  if (value && typeof value === 'object') {
    const plain =
      typeof (value as { toJSON?: unknown }).toJSON === 'function' && !(value instanceof Uint8Array)
    const source = plain ? (value as { toJSON(): object }).toJSON() : value
    return Object.fromEntries(Object.entries(source).map(([key, inner]) => [key, normalise(inner)]))
  }
  return value
}

function expectSameValue(actual: unknown, expected: unknown) {
  expect(normalise(actual)).toEqual(normalise(expected))
}

/** Registers the same behaviour checks for any Baileys auth store. */
export function authStateContract(store: AuthStoreUnderTest) {
  describe(`auth state contract: ${store.name}`, () => {
    afterAll(async () => {
      await store.close?.()
    })

    it('round-trips creds, Buffers included', async () => {
      const backing = await store.createBacking()
      const first = await backing.open()
      first.state.creds.me = { id: '628123456789:4@s.whatsapp.net', name: 'Contract' }
      first.state.creds.registered = true
      await first.saveCreds()

      const { state } = await backing.open()
      expect(state.creds.me).toEqual({ id: '628123456789:4@s.whatsapp.net', name: 'Contract' })
      expect(state.creds.registered).toBe(true)
      expect(state.creds.registrationId).toBe(first.state.creds.registrationId)
      expect(Buffer.isBuffer(state.creds.noiseKey.private)).toBe(true)
      expect(
        Buffer.from(state.creds.noiseKey.private).equals(Buffer.from(first.state.creds.noiseKey.private)),
      ).toBe(true)
      expect(
        Buffer.from(state.creds.signedPreKey.signature).equals(
          Buffer.from(first.state.creds.signedPreKey.signature),
        ),
      ).toBe(true)
      expectSameValue(state.creds, first.state.creds)
    })

    it('round-trips a value of every category, app-state-sync-key as its proto class', async () => {
      const backing = await store.createBacking()
      const samples = sampleKeyValues()
      const { state } = await backing.open()
      for (const [category, value] of Object.entries(samples)) {
        await state.keys.set({ [category]: { 'id-1': value } } as SignalDataSet)
      }
      for (const reader of [state, (await backing.open()).state]) {
        for (const [category, value] of Object.entries(samples)) {
          const result = await reader.keys.get(category as keyof SignalDataTypeMap, ['id-1'])
          expectSameValue(result['id-1'], value)
        }
        const { 'id-1': syncKey } = await reader.keys.get('app-state-sync-key', ['id-1'])
        expect(syncKey).toBeInstanceOf(proto.Message.AppStateSyncKeyData)
        expect(
          Buffer.from(syncKey!.keyData!).equals(Buffer.from(samples['app-state-sync-key'].keyData!)),
        ).toBe(true)
        const { 'id-1': session } = await reader.keys.get('session', ['id-1'])
        expect(Buffer.isBuffer(session)).toBe(true)
      }
    })

    it('stores a category it does not know generically', async () => {
      const backing = await store.createBacking()
      const { state } = await backing.open()
      const future = { blob: Buffer.from(bytes(16)), label: 'from a newer Baileys' }
      await state.keys.set({ 'future-category': { 'x:1': future } } as unknown as SignalDataSet)
      const reopened = (await backing.open()).state
      const result = await reopened.keys.get('future-category' as keyof SignalDataTypeMap, ['x:1'])
      expectSameValue(result['x:1'], future)
    })

    it('deletes a key when set to null', async () => {
      const backing = await store.createBacking()
      const { state } = await backing.open()
      await state.keys.set({ session: { 'a.0': bytes(40), 'b.0': bytes(40) } })
      await state.keys.set({ session: { 'a.0': null } })
      for (const reader of [state, (await backing.open()).state]) {
        const result = await reader.keys.get('session', ['a.0', 'b.0'])
        expect(result['a.0'] ?? undefined).toBeUndefined()
        expect(result['b.0']).toBeDefined()
      }
    })

    it('answers a batched get with the ids that exist and no value for the missing ones', async () => {
      const backing = await store.createBacking()
      const { state } = await backing.open()
      const preKeys = {
        '1': Curve.generateKeyPair(),
        '2': Curve.generateKeyPair(),
        '3': Curve.generateKeyPair(),
      }
      await state.keys.set({ 'pre-key': preKeys })
      for (const reader of [state, (await backing.open()).state]) {
        const result = await reader.keys.get('pre-key', ['1', '3', '404', '2', 'nope'])
        expectSameValue(result['1'], preKeys['1'])
        expectSameValue(result['2'], preKeys['2'])
        expectSameValue(result['3'], preKeys['3'])
        expect(result['404'] ?? undefined).toBeUndefined()
        expect(result.nope ?? undefined).toBeUndefined()
      }
    })

    it('applies a batch mixing categories, writes and deletes', async () => {
      const backing = await store.createBacking()
      const { state } = await backing.open()
      await state.keys.set({ 'pre-key': { '10': Curve.generateKeyPair() }, session: { 'old.0': bytes(20) } })
      const identity = bytes(33)
      const session = bytes(500)
      await state.keys.set({
        'pre-key': { '10': null },
        session: { 'old.0': null, 'new.0': session },
        'identity-key': { 'new.0': identity },
        'lid-mapping': { '628123456789': '111@lid', '111_reverse': '628123456789' },
        'device-list': { '628123456789': ['0', '1'] },
      })
      for (const reader of [state, (await backing.open()).state]) {
        expect((await reader.keys.get('pre-key', ['10']))['10'] ?? undefined).toBeUndefined()
        const sessions = await reader.keys.get('session', ['old.0', 'new.0'])
        expect(sessions['old.0'] ?? undefined).toBeUndefined()
        expectSameValue(sessions['new.0'], session)
        expectSameValue((await reader.keys.get('identity-key', ['new.0']))['new.0'], identity)
        expect(await reader.keys.get('lid-mapping', ['628123456789', '111_reverse'])).toEqual({
          '628123456789': '111@lid',
          '111_reverse': '628123456789',
        })
        expect((await reader.keys.get('device-list', ['628123456789']))['628123456789']).toEqual(['0', '1'])
      }
    })

    it('gives a reopened store everything the previous instance wrote, last write winning', async () => {
      const backing = await store.createBacking()
      const first = await backing.open()
      const ids = Array.from({ length: 50 }, (_, index) => `${index}`)
      await first.state.keys.set({
        'pre-key': Object.fromEntries(ids.map((id) => [id, Curve.generateKeyPair()])),
      })
      const latest = bytes(64)
      await first.state.keys.set({ session: { 'peer.0': bytes(64) } })
      await first.state.keys.set({ session: { 'peer.0': latest } })
      first.state.creds.nextPreKeyId = 51
      first.state.creds.firstUnuploadedPreKeyId = 51
      await first.saveCreds()

      const second = await backing.open()
      expect(second.state.creds.nextPreKeyId).toBe(51)
      expect(Object.keys(await second.state.keys.get('pre-key', ids)).sort()).toEqual([...ids].sort())
      expectSameValue((await second.state.keys.get('session', ['peer.0']))['peer.0'], latest)
    })
  })
}
