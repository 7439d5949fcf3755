import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { AccountRegistry } from '../../src/account-registry.js'
import { SimLogger } from '../../src/logger.js'
import { createServerIdentity } from '../../src/server-identity.js'
import { readStateFile, StateFileWriter } from '../../src/state-file.js'

describe('state file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wa-sim-unit-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('round-trips identity and accounts with their keys, atomically', async () => {
    const registry = new AccountRegistry(new SimLogger('silent'), () => {})
    const account = registry.getOrCreate('6281234567890', 'Tenant')
    const device = registry.addCompanion(account, {
      noisePublicKey: Buffer.alloc(32, 1),
      identityKey: Buffer.alloc(32, 2),
      registrationId: 7,
      signedPreKey: { keyId: 1, publicKey: Buffer.alloc(32, 3), signature: Buffer.alloc(64, 4) },
      platform: 'CHROME',
    })
    registry.storePreKeys(device, [{ keyId: 9, publicKey: Buffer.alloc(32, 5) }])
    const identity = createServerIdentity()
    const path = join(dir, 'state.json')
    const writer = new StateFileWriter(path, () => ({ version: 1, identity, accounts: registry.all() }))
    writer.schedule()
    writer.schedule()
    await writer.flush()
    expect(readdirSync(dir)).toEqual(['state.json'])
    const state = readStateFile(path)!
    expect(Buffer.from(state.identity.rootKey.public)).toEqual(Buffer.from(identity.rootKey.public))
    const restored = new AccountRegistry(new SimLogger('silent'), () => {})
    restored.load(state.accounts)
    const again = restored.get('6281234567890')!
    expect(again.lid).toBe(account.lid)
    const bundle = restored.bundleFor(again, 1)!
    expect(bundle.preKey).toEqual({ keyId: 9, publicKey: Buffer.alloc(32, 5) })
    expect(restored.bundleFor(again, 0)?.identityKey).toEqual(Buffer.from(account.phone.identityKey.public))
    expect(readStateFile(join(dir, 'missing.json'))).toBeUndefined()
  })
})
