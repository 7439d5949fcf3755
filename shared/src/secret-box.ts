import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * AES-256-GCM for secrets at rest (WhatsApp credentials and Signal keys, webhook secrets).
 * Layout: version(1) ‖ iv(12) ‖ tag(16) ‖ ciphertext. The optional `context` is bound as AAD so a
 * value copied to another row (another session, another key id) fails to decrypt.
 */
export type SecretBox = {
  seal(plaintext: Uint8Array, context?: string): Buffer
  open(sealed: Uint8Array, context?: string): Buffer
}

const VERSION = 1

export function parseSecretBoxKey(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64')
  if (key.length !== 32) throw new Error(`must be 32 bytes of base64 (got ${key.length} bytes)`)
  return key
}

export function generateSecretBoxKey(): string {
  return randomBytes(32).toString('base64')
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('secret box key must be 32 bytes')
  return {
    seal(plaintext, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      if (context) cipher.setAAD(Buffer.from(context))
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
      return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), body])
    },
    open(sealed, context) {
      const buffer = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)
      if (buffer.length < 29 || buffer[0] !== VERSION) throw new Error('sealed value has an unknown format')
      const decipher = createDecipheriv('aes-256-gcm', key, buffer.subarray(1, 13))
      decipher.setAuthTag(buffer.subarray(13, 29))
      if (context) decipher.setAAD(Buffer.from(context))
      return Buffer.concat([decipher.update(buffer.subarray(29)), decipher.final()])
    },
  }
}
