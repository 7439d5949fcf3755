import {
  addTransactionCapability,
  Curve,
  DEFAULT_CONNECTION_CONFIG,
  generateRegistrationId,
  generateSignalPubKey,
  type KeyPair,
  type SignalRepositoryWithLIDStore,
  type SignedKeyPair,
  signedKeyPair,
} from '@whiskeysockets/baileys'
import type { ILogger } from '@whiskeysockets/baileys/lib/Utils/logger.js'
import { type KeyStoreData, makeMemoryKeyStore } from './key-store.js'

/** A device's public key material as served in an `encrypt`/`get`/`key` reply. */
export interface PreKeyBundle {
  registrationId: number
  identityKey: Buffer
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer }
  preKey?: { keyId: number; publicKey: Buffer }
}

/** Persisted form of a simulated phone (device 0): its Signal identity and key store. */
export interface SimDeviceData {
  registrationId: number
  identityKey: KeyPair
  signedPreKey: SignedKeyPair
  /** One-time prekeys not yet handed out in a bundle (they stay in the store until a pkmsg uses them). */
  unofferedPreKeyIds: number[]
  nextPreKeyId: number
  keys: KeyStoreData
}

const PRE_KEY_BATCH = 20

export function createSimDeviceData(): SimDeviceData {
  const identityKey = Curve.generateKeyPair()
  const data: SimDeviceData = {
    registrationId: generateRegistrationId(),
    identityKey,
    signedPreKey: signedKeyPair(identityKey, 1),
    unofferedPreKeyIds: [],
    nextPreKeyId: 1,
    keys: {},
  }
  addPreKeys(data, PRE_KEY_BATCH)
  return data
}

function addPreKeys(data: SimDeviceData, count: number): void {
  data.keys['pre-key'] ??= {}
  const preKeys = data.keys['pre-key']
  for (let i = 0; i < count; i++) {
    const keyId = data.nextPreKeyId++
    preKeys[String(keyId)] = Curve.generateKeyPair()
    data.unofferedPreKeyIds.push(keyId)
  }
}

/**
 * A simulated phone with a real Signal identity, running Baileys' own libsignal repository over an
 * in-memory key store. The repository is built on first use, so 5,000 idle accounts cost only keys.
 */
export class SimDevice {
  private repository: SignalRepositoryWithLIDStore | undefined

  constructor(
    readonly data: SimDeviceData,
    private readonly logger: ILogger,
    private readonly onChange: () => void,
  ) {}

  /** The bundle a peer needs to start a session with this device; hands out one one-time prekey. */
  takeBundle(): PreKeyBundle {
    if (this.data.unofferedPreKeyIds.length === 0) addPreKeys(this.data, PRE_KEY_BATCH)
    const keyId = this.data.unofferedPreKeyIds.shift()!
    const preKey = this.data.keys['pre-key']?.[String(keyId)]
    this.onChange()
    return {
      registrationId: this.data.registrationId,
      identityKey: Buffer.from(this.data.identityKey.public),
      signedPreKey: {
        keyId: this.data.signedPreKey.keyId,
        publicKey: Buffer.from(this.data.signedPreKey.keyPair.public),
        signature: Buffer.from(this.data.signedPreKey.signature),
      },
      preKey: preKey ? { keyId, publicKey: Buffer.from(preKey.public) } : undefined,
    }
  }

  /** Encrypts for `peerJid`; starts a session from `peerBundle()` when there is none yet. */
  async encrypt(
    peerJid: string,
    plaintext: Uint8Array,
    peerBundle: () => PreKeyBundle | undefined,
  ): Promise<{ type: 'pkmsg' | 'msg'; ciphertext: Uint8Array }> {
    const repository = this.signal()
    const { exists } = await repository.validateSession(peerJid)
    if (!exists) {
      const bundle = peerBundle()
      if (!bundle) throw new Error(`no prekey bundle for ${peerJid}`)
      await repository.injectE2ESession({
        jid: peerJid,
        session: {
          registrationId: bundle.registrationId,
          // libsignal wants type-prefixed (33-byte) keys; the wire carries 32 bytes.
          identityKey: generateSignalPubKey(bundle.identityKey),
          signedPreKey: {
            ...bundle.signedPreKey,
            publicKey: generateSignalPubKey(bundle.signedPreKey.publicKey),
          },
          preKey: (bundle.preKey && {
            ...bundle.preKey,
            publicKey: generateSignalPubKey(bundle.preKey.publicKey),
          }) as never,
        },
      })
    }
    return repository.encryptMessage({ jid: peerJid, data: plaintext })
  }

  /** Decrypts a pkmsg/msg sent by `peerJid` (the sender's device jid). */
  decrypt(peerJid: string, type: 'pkmsg' | 'msg', ciphertext: Uint8Array): Promise<Uint8Array> {
    return this.signal().decryptMessage({ jid: peerJid, type, ciphertext })
  }

  /** Loses the Signal session with `peerJid`, as a reinstalled phone does: its next `msg` fails. */
  forgetSession(peerJid: string): Promise<void> {
    return this.signal().deleteSession([peerJid])
  }

  /** The phone's Signal repository (pairwise sessions and group sender keys). */
  signal(): SignalRepositoryWithLIDStore {
    if (!this.repository) {
      const keys = addTransactionCapability(makeMemoryKeyStore(this.data.keys, this.onChange), this.logger, {
        maxCommitRetries: 1,
        delayBetweenTriesMs: 0,
      })
      const creds = {
        signedIdentityKey: this.data.identityKey,
        signedPreKey: this.data.signedPreKey,
        registrationId: this.data.registrationId,
      }
      this.repository = DEFAULT_CONNECTION_CONFIG.makeSignalRepository({ creds, keys }, this.logger)
    }
    return this.repository
  }
}
