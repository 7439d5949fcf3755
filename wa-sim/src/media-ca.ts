import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

/** The simulator's own certificate authority and the media server's certificate it signed (PEM). */
export interface MediaTls {
  /** The CA certificate a gateway trusts (WA_MEDIA_CA). */
  caPem: string
  /** The media server's certificate (127.0.0.1, ::1 and localhost) and its private key. */
  certPem: string
  keyPem: string
}

const EC_KEY = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const
const DAY_MS = 24 * 3600_000

/**
 * A fresh CA and server certificate, made at every start: the media server speaks HTTPS as WhatsApp's
 * does, and a gateway trusts it only through configuration, never by turning certificate checks off.
 */
export async function createMediaTls(): Promise<MediaTls> {
  x509.cryptoProvider.set(webcrypto as never)
  const notBefore = new Date(Date.now() - DAY_MS)
  const notAfter = new Date(Date.now() + 365 * DAY_MS)
  const caKeys = (await webcrypto.subtle.generateKey(EC_KEY, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=wa-sim media CA',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  })
  const serverKeys = (await webcrypto.subtle.generateKey(EC_KEY, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair
  const server = await x509.X509CertificateGenerator.create({
    subject: 'CN=wa-sim media',
    issuer: ca.subject,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  })
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', serverKeys.privateKey)
  return {
    caPem: ca.toString('pem'),
    certPem: server.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  }
}
