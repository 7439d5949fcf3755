import {
  aesDecryptGCM,
  aesEncryptGCM,
  Curve,
  hkdf,
  type KeyPair,
  proto,
  sha256,
} from '@whiskeysockets/baileys'

const NOISE_MODE = Buffer.from('Noise_XX_25519_AESGCM_SHA256\0\0\0\0')
const EMPTY = Buffer.alloc(0)

/** What the client told us in its encrypted ClientPayload, plus its Noise static key. */
export interface ClientHello {
  clientStaticKey: Buffer
  payload: proto.ClientPayload
}

function ivFor(counter: number): Buffer {
  const iv = Buffer.alloc(12)
  iv.writeUInt32BE(counter, 8)
  return iv
}

/**
 * Server side of Noise_XX_25519_AESGCM_SHA256 as WhatsApp runs it (see wa-protocol.md §0), then the
 * transport cipher. One instance per connection; all state is a few small buffers.
 */
export class NoiseSession {
  private hash: Buffer = NOISE_MODE
  private salt: Buffer = NOISE_MODE
  private key: Buffer = NOISE_MODE
  private counter = 0
  private ephemeral: KeyPair | undefined
  private writeKey: Buffer | undefined
  private readKey: Buffer | undefined
  private writeCounter = 0
  private readCounter = 0

  constructor(
    private readonly staticKey: KeyPair,
    private readonly certChain: Buffer,
  ) {}

  get isTransport(): boolean {
    return this.writeKey !== undefined
  }

  /** Handles clientHello; returns the encoded serverHello HandshakeMessage. */
  respondToHello(introHeader: Buffer, helloFrame: Buffer): Buffer {
    const ephemeral = proto.HandshakeMessage.decode(helloFrame).clientHello?.ephemeral
    if (ephemeral?.length !== 32) throw new Error('clientHello without ephemeral key')
    const clientEphemeral = Buffer.from(ephemeral)
    this.mixHash(introHeader)
    this.mixHash(clientEphemeral)
    this.ephemeral = Curve.generateKeyPair()
    this.mixHash(this.ephemeral.public)
    this.mixKey(Curve.sharedKey(this.ephemeral.private, clientEphemeral))
    const staticEnc = this.encryptHandshake(this.staticKey.public)
    this.mixKey(Curve.sharedKey(this.staticKey.private, clientEphemeral))
    const payloadEnc = this.encryptHandshake(this.certChain)
    return Buffer.from(
      proto.HandshakeMessage.encode({
        serverHello: { ephemeral: this.ephemeral.public, static: staticEnc, payload: payloadEnc },
      }).finish(),
    )
  }

  /** Handles clientFinish; switches to transport keys and returns what the client sent. */
  acceptFinish(finishFrame: Buffer): ClientHello {
    const finish = proto.HandshakeMessage.decode(finishFrame).clientFinish
    if (!finish?.static || !finish.payload || !this.ephemeral) throw new Error('malformed clientFinish')
    const clientStaticKey = this.decryptHandshake(Buffer.from(finish.static))
    this.mixKey(Curve.sharedKey(this.ephemeral.private, clientStaticKey))
    const payload = proto.ClientPayload.decode(this.decryptHandshake(Buffer.from(finish.payload)))
    const okm = Buffer.from(hkdf(EMPTY, 64, { salt: this.salt, info: '' }))
    // The client writes with the first half; the server mirrors it.
    this.readKey = okm.subarray(0, 32)
    this.writeKey = okm.subarray(32, 64)
    this.ephemeral = undefined
    return { clientStaticKey, payload }
  }

  encrypt(plaintext: Uint8Array): Buffer {
    if (!this.writeKey) throw new Error('noise transport not ready')
    return aesEncryptGCM(plaintext, this.writeKey, ivFor(this.writeCounter++), EMPTY)
  }

  decrypt(ciphertext: Uint8Array): Buffer {
    if (!this.readKey) throw new Error('noise transport not ready')
    return aesDecryptGCM(ciphertext, this.readKey, ivFor(this.readCounter++), EMPTY)
  }

  private mixHash(data: Uint8Array): void {
    this.hash = Buffer.from(sha256(Buffer.concat([this.hash, data])))
  }

  private mixKey(sharedKey: Uint8Array): void {
    const okm = Buffer.from(hkdf(Buffer.from(sharedKey), 64, { salt: this.salt, info: '' }))
    this.salt = okm.subarray(0, 32)
    this.key = okm.subarray(32, 64)
    this.counter = 0
  }

  private encryptHandshake(plaintext: Uint8Array): Buffer {
    const ciphertext = aesEncryptGCM(plaintext, this.key, ivFor(this.counter++), this.hash)
    this.mixHash(ciphertext)
    return ciphertext
  }

  private decryptHandshake(ciphertext: Buffer): Buffer {
    const plaintext = aesDecryptGCM(ciphertext, this.key, ivFor(this.counter++), this.hash)
    this.mixHash(ciphertext)
    return plaintext
  }
}
