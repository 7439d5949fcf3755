import { randomBytes } from 'node:crypto'
import { type BinaryNode, Curve, configureSuccessfulPairing, initAuthCreds } from '@whiskeysockets/baileys'
import { describe, expect, it } from 'vitest'
import {
  isValidDeviceSignature,
  parsePairingQr,
  signCompanionIdentity,
  unwrapWithPairingCode,
  wrapWithPairingCode,
} from '../../src/device-identity.js'
import { isValidSignature } from '../../src/signature.js'

describe('device identity', () => {
  it('produces a pair-success identity that Baileys accepts and countersigns', () => {
    const creds = initAuthCreds()
    const accountKey = Curve.generateKeyPair()
    const container = signCompanionIdentity({
      accountKey,
      companionIdentityKey: Buffer.from(creds.signedIdentityKey.public),
      keyIndex: 3,
      advSecret: Buffer.from(creds.advSecretKey, 'base64'),
    })
    const stanza: BinaryNode = {
      tag: 'iq',
      attrs: { id: '1' },
      content: [
        {
          tag: 'pair-success',
          attrs: {},
          content: [
            { tag: 'device-identity', attrs: {}, content: container },
            { tag: 'device', attrs: { jid: '6281234567890:1@s.whatsapp.net', lid: '123456789012345:1@lid' } },
          ],
        },
      ],
    }
    const { reply, creds: update } = configureSuccessfulPairing(stanza, creds)
    expect(update.me?.id).toBe('6281234567890:1@s.whatsapp.net')
    const signNode = (
      reply.content as { content: { attrs: Record<string, string>; content: Uint8Array }[] }[]
    )[0]!.content[0]!
    expect(signNode.attrs['key-index']).toBe('3')
    const args = {
      signedIdentity: signNode.content,
      accountPublicKey: Buffer.from(accountKey.public),
      companionIdentityKey: Buffer.from(creds.signedIdentityKey.public),
    }
    expect(isValidDeviceSignature(args)).toBe(true)
    expect(
      isValidDeviceSignature({ ...args, accountPublicKey: Buffer.from(Curve.generateKeyPair().public) }),
    ).toBe(false)
  })

  it('fails Baileys HMAC check with the wrong ADV secret', () => {
    const creds = initAuthCreds()
    const container = signCompanionIdentity({
      accountKey: Curve.generateKeyPair(),
      companionIdentityKey: Buffer.from(creds.signedIdentityKey.public),
      keyIndex: 1,
      advSecret: randomBytes(32),
    })
    const stanza: BinaryNode = {
      tag: 'iq',
      attrs: { id: '1' },
      content: [
        {
          tag: 'pair-success',
          attrs: {},
          content: [
            { tag: 'device-identity', attrs: {}, content: container },
            { tag: 'device', attrs: { jid: '6281234567890:1@s.whatsapp.net' } },
          ],
        },
      ],
    }
    expect(() => configureSuccessfulPairing(stanza, creds)).toThrow(/signature/)
  })

  it('really verifies signatures (unlike Baileys Curve.verify)', () => {
    const key = Curve.generateKeyPair()
    const message = Buffer.from('hello')
    const signature = Curve.sign(key.private, message)
    expect(isValidSignature(key.public, message, signature)).toBe(true)
    expect(isValidSignature(key.public, Buffer.from('other'), signature)).toBe(false)
    expect(isValidSignature(key.public, message, Buffer.alloc(64, 7))).toBe(false)
  })

  it('wraps and unwraps an ephemeral key with a pairing code', async () => {
    const key = Curve.generateKeyPair().public
    const wrapped = await wrapWithPairingCode('ABCD1234', key)
    expect(await unwrapWithPairingCode('ABCD1234', wrapped)).toEqual(Buffer.from(key))
    expect(await unwrapWithPairingCode('WRONG123', wrapped)).not.toEqual(Buffer.from(key))
  })

  it('parses the rc14 QR format and names the field on bad input', () => {
    const key = randomBytes(32).toString('base64')
    const qr = parsePairingQr(`https://wa.me/settings/linked_devices#2@abc,${key},${key},${key},1`)
    expect(qr.ref).toBe('2@abc')
    expect(qr.noisePublicKey.toString('base64')).toBe(key)
    expect(() => parsePairingQr('2@abc,short')).toThrow(/qr/)
    expect(() => parsePairingQr(42)).toThrow(/qr/)
  })
})
