import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type BinaryNode, Curve, getBinaryNodeChildBuffer, type KeyPair } from '@whiskeysockets/baileys'
import { type AccountRegistry, assertPn, optionalName, parseJid } from './account-registry.js'
import type { ClientConnection } from './client-connection.js'
import type { Counters } from './counters.js'
import { openCompanionKeyBundle, unwrapWithPairingCode, wrapWithPairingCode } from './device-identity.js'
import { BadInput, Conflict, NotFound } from './errors.js'
import type { SimLogger } from './logger.js'
import { messageTag, SERVER, unixNow } from './node-attrs.js'
import type { LinkedDevice, Pairing } from './pairing.js'

const PAIRING_CODE_TIMEOUT_MS = 15_000
const PAIRING_HELLO_WAIT_MS = 5_000

interface PendingPairingCode {
  connection: ClientConnection
  phone: string
  ref: Buffer
  wrappedCompanionEphemeral: Buffer
  primaryEphemeral?: KeyPair
  companionEphemeralPublicKey?: Buffer
  pushName?: string
  settle?: { resolve: (linked: LinkedDevice) => void; reject: (err: Error) => void }
}

/** What linking by pairing code consults and changes. */
export interface PairingCodeContext {
  registry: AccountRegistry
  counters: Counters
  logger: SimLogger
  /** Ends the link the same way a QR scan does. */
  pairing: Pairing
}

/**
 * Linking with a pairing code: the session asks for a code for a phone number (companion_hello),
 * the phone enters it, and the companion sends its key bundle (companion_finish).
 */
export class PairingCodes {
  private readonly pending = new Map<string, PendingPairingCode>()

  constructor(private readonly context: PairingCodeContext) {}

  /** The phone `phone` enters the pairing code a session obtained with requestPairingCode(). */
  async enter(input: { phone: unknown; code: unknown; pushName?: unknown }): Promise<LinkedDevice> {
    const phone = assertPn('phone', input.phone)
    const pushName = optionalName('pushName', input.pushName)
    if (typeof input.code !== 'string' || !/^[0-9A-Z]{8}$/i.test(input.code.replace('-', ''))) {
      throw new BadInput('code', 'must be the 8-character pairing code')
    }
    const code = input.code.replace('-', '').toUpperCase()
    // requestPairingCode() does not wait for the server, so the companion_hello may still be in flight.
    let pending = this.pending.get(phone)
    for (
      let waited = 0;
      (!pending || pending.connection.closed) && waited < PAIRING_HELLO_WAIT_MS;
      waited += 50
    ) {
      await sleep(50)
      pending = this.pending.get(phone)
    }
    if (!pending || pending.connection.closed)
      throw new NotFound(`no session is waiting for a pairing code for ${phone}`)
    if (pending.settle) throw new Conflict('a code is already being entered for this phone')
    const account = this.context.registry.getOrCreate(phone, pushName)
    pending.pushName = pushName
    pending.companionEphemeralPublicKey = await unwrapWithPairingCode(code, pending.wrappedCompanionEphemeral)
    pending.primaryEphemeral = Curve.generateKeyPair()
    const wrappedPrimary = await wrapWithPairingCode(code, pending.primaryEphemeral.public)
    const linked = new Promise<LinkedDevice>((resolve, reject) => {
      pending.settle = { resolve, reject }
    })
    const timeout = setTimeout(
      () => pending.settle?.reject(new Conflict('the session did not finish linking in time')),
      PAIRING_CODE_TIMEOUT_MS,
    )
    pending.connection.send({
      tag: 'notification',
      attrs: { from: SERVER, type: 'link_code_companion_reg', id: messageTag(), t: unixNow() },
      content: [
        {
          tag: 'link_code_companion_reg',
          attrs: {},
          content: [
            { tag: 'link_code_pairing_ref', attrs: {}, content: pending.ref },
            { tag: 'primary_identity_pub', attrs: {}, content: Buffer.from(account.accountKey.public) },
            { tag: 'link_code_pairing_wrapped_primary_ephemeral_pub', attrs: {}, content: wrappedPrimary },
          ],
        },
      ],
    })
    try {
      return await linked
    } finally {
      clearTimeout(timeout)
      pending.settle = undefined
    }
  }

  /** companion_hello (code requested) and companion_finish (key bundle after the phone entered it). */
  onLinkCodeStage(connection: ClientConnection, iq: BinaryNode, stage: BinaryNode): void {
    const reply = (content?: BinaryNode[]) =>
      connection.send({ tag: 'iq', attrs: { from: SERVER, type: 'result', id: iq.attrs.id ?? '' }, content })
    const role = connection.role
    if (role.kind !== 'registration') {
      reply()
      return
    }
    const phone = parseJid(stage.attrs.jid ?? '')?.user
    if (stage.attrs.stage === 'companion_hello' && phone) {
      const wrapped = getBinaryNodeChildBuffer(stage, 'link_code_pairing_wrapped_companion_ephemeral_pub')
      if (!wrapped) {
        reply()
        return
      }
      const ref = Buffer.from(`2@${randomBytes(20).toString('base64')}`)
      this.pending.set(phone, {
        connection,
        phone,
        ref,
        wrappedCompanionEphemeral: Buffer.from(wrapped),
      })
      reply([
        {
          tag: 'link_code_companion_reg',
          attrs: {},
          content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: ref }],
        },
      ])
      return
    }
    if (stage.attrs.stage === 'companion_finish' && phone) {
      reply()
      const pending = this.pending.get(phone)
      const bundle = getBinaryNodeChildBuffer(stage, 'link_code_pairing_wrapped_key_bundle')
      if (!pending?.settle || !pending.primaryEphemeral || !pending.companionEphemeralPublicKey || !bundle)
        return
      const account = this.context.registry.getOrCreate(phone)
      try {
        const { companionIdentityKey, advSecret } = openCompanionKeyBundle({
          wrappedKeyBundle: bundle,
          primaryEphemeralKey: pending.primaryEphemeral,
          companionEphemeralPublicKey: pending.companionEphemeralPublicKey,
          accountKey: account.accountKey,
        })
        if (!companionIdentityKey.equals(role.registration.identityKey)) throw new Error('identity mismatch')
        this.pending.delete(phone)
        const linked = this.context.pairing.complete(connection, account, advSecret)
        this.context.counters.totals.pairingCodeLinks++
        pending.settle.resolve(linked)
      } catch (err) {
        this.context.logger.info({ phone, err }, 'pairing code did not match')
        // The companion keeps waiting; a new code can be requested.
        pending.primaryEphemeral = undefined
        pending.settle.reject(new BadInput('code', 'does not match the code the session shows'))
      }
    }
  }

  /** The connection closed: a code being entered for it fails with 409. */
  forget(connection: ClientConnection): void {
    for (const [phone, pending] of this.pending) {
      if (pending.connection === connection) {
        pending.settle?.reject(new Conflict('the session closed before linking finished'))
        this.pending.delete(phone)
      }
    }
  }
}
