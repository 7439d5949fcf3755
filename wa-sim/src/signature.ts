import { generateSignalPubKey } from '@whiskeysockets/baileys'
import * as curve from 'libsignal/src/curve.js'

/**
 * A real XEdDSA signature check. Baileys' own `Curve.verify` returns true for any well-formed
 * signature (it ignores libsignal's boolean), so the simulator calls libsignal directly.
 */
export function isValidSignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return (
      curve.verifySignature(
        Buffer.from(generateSignalPubKey(publicKey)),
        Buffer.from(message),
        Buffer.from(signature),
      ) === true
    )
  } catch {
    return false
  }
}
