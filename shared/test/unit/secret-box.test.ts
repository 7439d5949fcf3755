import { describe, expect, it } from 'vitest'
import { createSecretBox, generateSecretBoxKey, parseSecretBoxKey } from '../../src/secret-box.js'

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
})
