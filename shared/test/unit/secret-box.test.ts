import { createCipheriv, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  createSecretBox,
  generateSecretBoxKey,
  parseSecretBoxKey,
  secretBoxKeyId,
} from '../../src/secret-box.js'

/** A value in the layout written before keyrings: 0x01 ‖ iv ‖ tag ‖ ciphertext, no key id. */
function sealLegacy(key: Buffer, plaintext: Buffer, context: string): Buffer {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(context))
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return Buffer.concat([Buffer.of(1), iv, cipher.getAuthTag(), body])
}

describe('secret box', () => {
  const box = createSecretBox(parseSecretBoxKey(generateSecretBoxKey()))
  const secret = Buffer.from('private key material 0123456789abcdef')

  it('round-trips and never stores the plaintext', () => {
    const sealed = box.seal(secret, 'ses_1/pre-key/1')
    expect(sealed.includes(secret)).toBe(false)
    expect(box.open(sealed, 'ses_1/pre-key/1').equals(secret)).toBe(true)
  })

  it('binds the context: a value moved to another row does not open', () => {
    const sealed = box.seal(secret, 'ses_1/pre-key/1')
    expect(() => box.open(sealed, 'ses_2/pre-key/1')).toThrow()
  })

  it('refuses tampering and the wrong key', () => {
    const sealed = box.seal(secret)
    sealed[sealed.length - 1]! ^= 1
    expect(() => box.open(sealed)).toThrow()
    const other = createSecretBox(parseSecretBoxKey(generateSecretBoxKey()))
    expect(() => other.open(box.seal(secret))).toThrow()
  })

  it('rejects keys that are not 32 bytes', () => {
    expect(() => parseSecretBoxKey(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/)
  })

  describe('keyring (AUTH_STATE_KEY rotation)', () => {
    const oldKey = parseSecretBoxKey(generateSecretBoxKey())
    const newKey = parseSecretBoxKey(generateSecretBoxKey())
    const before = createSecretBox(oldKey)
    const during = createSecretBox(newKey, [oldKey])
    const after = createSecretBox(newKey)

    it('names the sealing key in every value and seals with the primary only', () => {
      const sealed = during.seal(secret, 'ctx')
      expect(sealed[0]).toBe(2)
      expect(sealed.subarray(1, 9).toString('hex')).toBe(secretBoxKeyId(newKey))
      expect(during.primaryKeyId).toBe(secretBoxKeyId(newKey))
      expect(secretBoxKeyId(newKey)).not.toBe(secretBoxKeyId(oldKey))
      expect(after.open(sealed, 'ctx').equals(secret)).toBe(true)
    })

    it('opens values of the previous key while rotating, and says which key is missing after', () => {
      const old = before.seal(secret, 'ctx')
      expect(during.open(old, 'ctx').equals(secret)).toBe(true)
      expect(during.isCurrent(old)).toBe(false)
      expect(during.isCurrent(during.seal(secret, 'ctx'))).toBe(true)
      expect(() => after.open(old, 'ctx')).toThrow(
        `sealed with key ${secretBoxKeyId(oldKey)}, which is not in the keyring`,
      )
    })

    it('opens values written before keyrings with any key of the ring, still bound to their context', () => {
      const legacy = sealLegacy(oldKey, secret, 'ctx')
      expect(before.open(legacy, 'ctx').equals(secret)).toBe(true)
      expect(during.open(legacy, 'ctx').equals(secret)).toBe(true)
      expect(during.isCurrent(legacy)).toBe(false)
      expect(() => during.open(legacy, 'other')).toThrow()
      expect(() => after.open(legacy, 'ctx')).toThrow()
    })
  })
})
