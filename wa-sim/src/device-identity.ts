import { randomBytes } from 'node:crypto'
import {
  aesDecryptCTR,
  aesDecryptGCM,
  aesEncryptCTR,
  Curve,
  derivePairingCodeKey,
  hkdf,
  hmacSign,
  type KeyPair,
  proto,
} from '@whiskeysockets/baileys'
import { BadInput } from './errors.js'
import { isValidSignature } from './signature.js'

/** Prefixes WhatsApp puts in front of ADV signatures (account, then device). */
const ADV_ACCOUNT_SIGNATURE_PREFIX = Buffer.from([6, 0])
const ADV_DEVICE_SIGNATURE_PREFIX = Buffer.from([6, 1])

/** The fields of the QR a companion shows (rc14 format, see wa-protocol.md §1). */
export interface PairingQr {
  ref: string
  noisePublicKey: Buffer
  identityKey: Buffer
  advSecret: Buffer
}

/** Parses `https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform` (prefix optional). */
export function parsePairingQr(qr: unknown): PairingQr {
  if (typeof qr !== 'string' || qr === '') throw new BadInput('qr', 'must be the QR string the session shows')
  const fields = qr.slice(qr.indexOf('#') + 1).split(',')
  const [ref, noise, identity, adv] = fields
  if (!ref || !noise || !identity || !adv)
    throw new BadInput('qr', 'expected ref,noiseKey,identityKey,advSecret')
  const decoded = {
    ref,
    noisePublicKey: Buffer.from(noise, 'base64'),
    identityKey: Buffer.from(identity, 'base64'),
    advSecret: Buffer.from(adv, 'base64'),
  }
  if (
    decoded.noisePublicKey.length !== 32 ||
    decoded.identityKey.length !== 32 ||
    decoded.advSecret.length !== 32
  ) {
    throw new BadInput('qr', 'keys in the QR must be 32 bytes each')
  }
  return decoded
}

/**
 * The `<device-identity>` content of pair-success: the phone's account key vouches for the companion's
 * identity key, and the HMAC with the secret shared with the companion (QR or pairing code) binds it.
 */
export function signCompanionIdentity(args: {
  accountKey: KeyPair
  companionIdentityKey: Buffer
  keyIndex: number
  advSecret: Buffer
}): Buffer {
  const details = Buffer.from(
    proto.ADVDeviceIdentity.encode({
      rawId: randomBytes(4).readUInt32BE(0),
      timestamp: Math.floor(Date.now() / 1000),
      // Baileys calls keyIndex.toString(); it must be present.
      keyIndex: args.keyIndex,
    }).finish(),
  )
  const accountSignature = Curve.sign(
    args.accountKey.private,
    Buffer.concat([ADV_ACCOUNT_SIGNATURE_PREFIX, details, args.companionIdentityKey]),
  )
  const signed = Buffer.from(
    proto.ADVSignedDeviceIdentity.encode({
      details,
      accountSignatureKey: args.accountKey.public,
      accountSignature,
    }).finish(),
  )
  return Buffer.from(
    proto.ADVSignedDeviceIdentityHMAC.encode({
      details: signed,
      hmac: hmacSign(signed, args.advSecret),
    }).finish(),
  )
}

/** Checks the companion's `pair-device-sign` reply: its identity key must countersign the details. */
export function isValidDeviceSignature(args: {
  signedIdentity: Uint8Array
  accountPublicKey: Buffer
  companionIdentityKey: Buffer
}): boolean {
  const identity = proto.ADVSignedDeviceIdentity.decode(args.signedIdentity)
  if (!identity.details || !identity.deviceSignature) return false
  const message = Buffer.concat([
    ADV_DEVICE_SIGNATURE_PREFIX,
    identity.details,
    args.companionIdentityKey,
    args.accountPublicKey,
  ])
  return isValidSignature(args.companionIdentityKey, message, identity.deviceSignature)
}

/** Wraps an ephemeral public key with a pairing code: salt(32) ‖ iv(16) ‖ AES-CTR(key = PBKDF2(code, salt)). */
export async function wrapWithPairingCode(code: string, publicKey: Uint8Array): Promise<Buffer> {
  const salt = randomBytes(32)
  const iv = randomBytes(16)
  const key = await derivePairingCodeKey(code, salt)
  return Buffer.concat([salt, iv, aesEncryptCTR(publicKey, key, iv)])
}

export async function unwrapWithPairingCode(code: string, wrapped: Uint8Array): Promise<Buffer> {
  const buffer = Buffer.from(wrapped)
  if (buffer.length < 80) throw new Error('wrapped pairing key too short')
  const key = await derivePairingCodeKey(code, buffer.subarray(0, 32))
  return Buffer.from(aesDecryptCTR(buffer.subarray(48, 80), key, buffer.subarray(32, 48)))
}

/**
 * The phone's half of companion_finish: opens the key bundle the companion sealed with the shared
 * ephemeral secret and derives the same ADV secret Baileys stores. Throws when the code was wrong
 * (the shared secret then differs and GCM fails).
 */
export function openCompanionKeyBundle(args: {
  wrappedKeyBundle: Uint8Array
  primaryEphemeralKey: KeyPair
  companionEphemeralPublicKey: Buffer
  accountKey: KeyPair
}): { companionIdentityKey: Buffer; advSecret: Buffer } {
  const bundle = Buffer.from(args.wrappedKeyBundle)
  const companionShared = Curve.sharedKey(args.primaryEphemeralKey.private, args.companionEphemeralPublicKey)
  const key = Buffer.from(
    hkdf(companionShared, 32, {
      salt: bundle.subarray(0, 32),
      info: 'link_code_pairing_key_bundle_encryption_key',
    }),
  )
  const payload = aesDecryptGCM(bundle.subarray(44), key, bundle.subarray(32, 44), Buffer.alloc(0))
  const companionIdentityKey = Buffer.from(payload.subarray(0, 32))
  const primaryIdentityKey = payload.subarray(32, 64)
  const random = payload.subarray(64, 96)
  if (!primaryIdentityKey.equals(Buffer.from(args.accountKey.public))) {
    throw new Error('key bundle names another primary identity')
  }
  const identityShared = Curve.sharedKey(args.accountKey.private, companionIdentityKey)
  const advSecret = Buffer.from(
    hkdf(Buffer.concat([companionShared, identityShared, random]), 32, { info: 'adv_secret' }),
  )
  return { companionIdentityKey, advSecret }
}
