import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

/**
 * AES-256-GCM for secrets at rest (WhatsApp credentials and Signal keys, webhook secrets), over a
 * keyring so AUTH_STATE_KEY can be rotated online: values are sealed with the primary key and opened
 * with whichever key of the ring sealed them.
 *
 * Layout (version 2): 0x02 ‖ key id(8) ‖ iv(12) ‖ tag(16) ‖ ciphertext. The key id is derived from the
 * key (not secret: the first 8 bytes of a SHA-256 over a label and the key), so a value names the key
 * that opens it. Version 1 values (0x01 ‖ iv ‖ tag ‖ ciphertext, written before keyrings) carry no id
 * and are tried against every key of the ring. The optional `context` is bound as AAD so a value
 * copied to another row (another session, another key id) fails to open.
 */
export type SecretBox = {
  seal(plaintext: Uint8Array, context?: string): Buffer
  open(sealed: Uint8Array, context?: string): Buffer
  /** The id of the key new values are sealed with. */
  readonly primaryKeyId: string
  /** True when `sealed` was sealed with the primary key in the current layout (nothing to re-seal). */
  isCurrent(sealed: Uint8Array): boolean
}

const LEGACY_VERSION = 1
const VERSION = 2
const KEY_ID_BYTES = 8
const IV_BYTES = 12
const TAG_BYTES = 16
const HEADER_BYTES = 1 + KEY_ID_BYTES + IV_BYTES + TAG_BYTES
const LEGACY_HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES

export function parseSecretBoxKey(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64')
  if (key.length !== 32) throw new Error(`must be 32 bytes of base64 (got ${key.length} bytes)`)
  return key
}

export function generateSecretBoxKey(): string {
  return randomBytes(32).toString('base64')
}

/** The public id of a key, as stored in every value it seals and printed by the re-seal command. */
export function secretBoxKeyId(key: Buffer): string {
  return keyIdBytes(key).toString('hex')
}

function keyIdBytes(key: Buffer): Buffer {
  return createHash('sha256')
    .update('wa-cluster secret box key id\0')
    .update(key)
    .digest()
    .subarray(0, KEY_ID_BYTES)
}

function openWith(key: Buffer, iv: Buffer, tag: Buffer, body: Buffer, context: string | undefined): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, iv)
  decipher.setAuthTag(tag)
  if (context) decipher.setAAD(Buffer.from(context))
  return Buffer.concat([decipher.update(body), decipher.final()])
}

/**
 * A secret box over `primary` (seals and opens) and `previous` keys (open only, until a re-seal has
 * moved every value to the primary key).
 */
export function createSecretBox(primary: Buffer, previous: Buffer[] = []): SecretBox {
  for (const key of [primary, ...previous]) {
    if (key.length !== 32) throw new Error('secret box key must be 32 bytes')
  }
  const primaryId = keyIdBytes(primary)
  const ring = new Map<string, Buffer>()
  for (const key of [primary, ...previous]) ring.set(keyIdBytes(key).toString('hex'), key)
  return {
    primaryKeyId: primaryId.toString('hex'),
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', primary, iv)
      if (context) cipher.setAAD(Buffer.from(context))
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
      return Buffer.concat([Buffer.of(VERSION), primaryId, iv, cipher.getAuthTag(), body])
    },
    open(sealed, context) {
      const buffer = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
      if (buffer[0] === VERSION && buffer.length >= HEADER_BYTES) {
        const id = buffer.subarray(1, 1 + KEY_ID_BYTES).toString('hex')
        const key = ring.get(id)
        if (!key) throw new Error(`sealed with key ${id}, which is not in the keyring`)
        const iv = buffer.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + IV_BYTES)
        return openWith(
          key,
          iv,
          buffer.subarray(1 + KEY_ID_BYTES + IV_BYTES, HEADER_BYTES),
          buffer.subarray(HEADER_BYTES),
          context,
        )
      }
      if (buffer[0] === LEGACY_VERSION && buffer.length >= LEGACY_HEADER_BYTES) {
        const iv = buffer.subarray(1, 1 + IV_BYTES)
        const tag = buffer.subarray(1 + IV_BYTES, LEGACY_HEADER_BYTES)
        const body = buffer.subarray(LEGACY_HEADER_BYTES)
        let failure: unknown
        for (const key of ring.values()) {
          try {
            return openWith(key, iv, tag, body, context)
          } catch (error) {
            failure = error
          }
        }
        throw failure
      }
      throw new Error('sealed value has an unknown format')
    },
    isCurrent(sealed) {
      return (
        sealed[0] === VERSION &&
        sealed.length >= HEADER_BYTES &&
        Buffer.from(sealed.buffer, sealed.byteOffset + 1, KEY_ID_BYTES).equals(primaryId)
      )
    },
  }
}
