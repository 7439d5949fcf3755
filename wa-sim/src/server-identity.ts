import { Curve, type KeyPair, proto } from '@whiskeysockets/baileys'

/** The simulator's own PKI: a root key (what clients trust), an intermediate and the Noise static key. */
export interface ServerIdentity {
  rootKey: KeyPair
  intermediateKey: KeyPair
  staticKey: KeyPair
}

/** Baileys checks `issuerSerial` of the intermediate against WA_CERT_DETAILS.SERIAL, which is 0. */
const ROOT_SERIAL = 0
const INTERMEDIATE_SERIAL = 1
const LEAF_SERIAL = 2
const TEN_YEARS_S = 10 * 365 * 24 * 3600

export function createServerIdentity(): ServerIdentity {
  return {
    rootKey: Curve.generateKeyPair(),
    intermediateKey: Curve.generateKeyPair(),
    staticKey: Curve.generateKeyPair(),
  }
}

/**
 * Encodes the CertChain sent (encrypted) in every serverHello. Built once: it is the same for every
 * connection, and signing per connection would cost CPU at 5,000 sockets.
 */
export function encodeCertChain(identity: ServerIdentity): Buffer {
  const now = Math.floor(Date.now() / 1000)
  const intermediateDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: INTERMEDIATE_SERIAL,
    // protobufjs would leave an unset field null, and Baileys compares `issuerSerial !== 0`.
    issuerSerial: ROOT_SERIAL,
    key: identity.intermediateKey.public,
    notBefore: now - 3600,
    notAfter: now + TEN_YEARS_S,
  }).finish()
  const leafDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: LEAF_SERIAL,
    issuerSerial: INTERMEDIATE_SERIAL,
    key: identity.staticKey.public,
    notBefore: now - 3600,
    notAfter: now + TEN_YEARS_S,
  }).finish()
  return Buffer.from(
    proto.CertChain.encode({
      intermediate: {
        details: intermediateDetails,
        signature: Curve.sign(identity.rootKey.private, intermediateDetails),
      },
      leaf: { details: leafDetails, signature: Curve.sign(identity.intermediateKey.private, leafDetails) },
    }).finish(),
  )
}
