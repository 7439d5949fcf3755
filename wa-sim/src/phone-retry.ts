import type { BinaryNode } from '@whiskeysockets/baileys'
import { pnJid } from './account-registry.js'
import { unixNow } from './node-attrs.js'
import type { PreKeyBundle } from './sim-device.js'

/** A phone asks for a message again at most this many times (WhatsApp gives up after a few). */
export const MAX_PHONE_RETRIES = 2

// Key bundle type in a retry receipt's `<keys><type>`: Curve25519 (DJB), as in every Signal key.
const DJB_KEY_TYPE = Buffer.from([5])

function uint(value: number, bytes: 3 | 4): Buffer {
  const buffer = Buffer.alloc(bytes)
  buffer.writeUIntBE(value, 0, bytes)
  return buffer
}

function child(
  tag: string,
  content: Uint8Array | BinaryNode[],
  attrs: Record<string, string> = {},
): BinaryNode {
  return { tag, attrs, content }
}

/**
 * The retry receipt a phone sends when it cannot decrypt message `id`: `<retry count>` and its
 * registration id, plus its key bundle (identity, a one-time prekey, the signed prekey) so the sender
 * starts a fresh Signal session and encrypts the message again as a `pkmsg`. The sender needs the
 * message itself for that: Baileys asks its `getMessage` when the message is not in its memory.
 */
export function retryReceipt(input: {
  phonePn: string
  id: string
  count: number
  bundle: PreKeyBundle
}): BinaryNode {
  const { bundle } = input
  const t = unixNow()
  const keys: BinaryNode[] = [child('type', DJB_KEY_TYPE), child('identity', bundle.identityKey)]
  if (bundle.preKey)
    keys.push(
      child('key', [child('id', uint(bundle.preKey.keyId, 3)), child('value', bundle.preKey.publicKey)]),
    )
  keys.push(
    child('skey', [
      child('id', uint(bundle.signedPreKey.keyId, 3)),
      child('value', bundle.signedPreKey.publicKey),
      child('signature', bundle.signedPreKey.signature),
    ]),
  )
  return {
    tag: 'receipt',
    attrs: { from: pnJid(input.phonePn), id: input.id, t, type: 'retry' },
    content: [
      { tag: 'retry', attrs: { count: String(input.count), id: input.id, t, v: '1' } },
      child('registration', uint(bundle.registrationId, 4)),
      child('keys', keys),
    ],
  }
}
