import { randomBytes } from 'node:crypto'
import { type BinaryNode, getBinaryNodeChild, getBinaryNodeChildBuffer, proto } from '@whiskeysockets/baileys'
import {
  type Account,
  type AccountRegistry,
  assertPn,
  type CompanionDevice,
  lidJid,
  optionalName,
  pnJid,
} from './account-registry.js'
import type { ClientConnection, RegistrationData } from './client-connection.js'
import type { Counters } from './counters.js'
import { isValidDeviceSignature, parsePairingQr, signCompanionIdentity } from './device-identity.js'
import { BadInput, Conflict, NotFound } from './errors.js'
import type { SimLogger } from './logger.js'
import { messageTag, SERVER, unixNow } from './node-attrs.js'
import { isValidSignature } from './signature.js'
import { loginFailure, restartRequired } from './stream-errors.js'

const QR_REFS_PER_REGISTRATION = 6

/** The companion a scan or pairing code linked. */
export interface LinkedDevice {
  jid: string
  lid: string
}

interface PendingPairSuccess {
  account: Account
  device: CompanionDevice
}

/** What pairing consults and changes. */
export interface PairingContext {
  registry: AccountRegistry
  counters: Counters
  logger: SimLogger
  /** Persisted state changed. */
  markDirty: () => void
}

/**
 * Linking a new companion: the QR refs a registering connection shows, the phone's scan, and the
 * pair-success / pair-device-sign exchange that ends with 515. Pairing codes link through
 * `complete()` too (pairing-code.ts).
 */
export class Pairing {
  private readonly connectionsByRef = new Map<string, ClientConnection>()
  private readonly pendingPairSuccess = new Map<string, PendingPairSuccess>()

  constructor(private readonly context: PairingContext) {}

  /** A new companion registers (a ClientPayload with devicePairingData): it gets QR refs to show. */
  register(
    connection: ClientConnection,
    clientStaticKey: Buffer,
    pairing: proto.ClientPayload.IDevicePairingRegistrationData,
  ): void {
    const { eRegid, eIdent, eSkeyId, eSkeyVal, eSkeySig, deviceProps } = pairing
    if (!eRegid || !eIdent || !eSkeyId || !eSkeyVal || !eSkeySig) {
      connection.end(loginFailure('400'))
      return
    }
    const registration: RegistrationData = {
      registrationId: Buffer.from(eRegid).readUInt32BE(0),
      identityKey: Buffer.from(eIdent),
      signedPreKey: {
        keyId: Buffer.from(eSkeyId).readUIntBE(0, eSkeyId.length),
        publicKey: Buffer.from(eSkeyVal),
        signature: Buffer.from(eSkeySig),
      },
      platform: platformName(deviceProps),
    }
    const signedMessage = Buffer.concat([Buffer.from([5]), registration.signedPreKey.publicKey])
    if (!isValidSignature(registration.identityKey, signedMessage, registration.signedPreKey.signature)) {
      this.context.logger.warn(
        { connection: connection.id },
        'registration with a bad signed prekey signature',
      )
      connection.end(loginFailure('400'))
      return
    }
    connection.role = { kind: 'registration', clientStaticKey, registration }
    const refs: BinaryNode[] = []
    for (let i = 0; i < QR_REFS_PER_REGISTRATION; i++) {
      const ref = `2@${randomBytes(30).toString('base64')}`
      this.connectionsByRef.set(ref, connection)
      refs.push({ tag: 'ref', attrs: {}, content: Buffer.from(ref) })
    }
    this.context.counters.totals.qrsIssued += refs.length
    connection.send({
      tag: 'iq',
      attrs: { from: SERVER, type: 'set', xmlns: 'md', id: messageTag() },
      content: [{ tag: 'pair-device', attrs: {}, content: refs }],
    })
  }

  /** The phone `phone` scans the QR a session shows; links it and returns the companion's jid. */
  scan(input: { qr: unknown; phone: unknown; pushName?: unknown }): LinkedDevice {
    const phone = assertPn('phone', input.phone)
    const pushName = optionalName('pushName', input.pushName)
    const qr = parsePairingQr(input.qr)
    const connection = this.connectionsByRef.get(qr.ref)
    if (!connection || connection.closed)
      throw new NotFound('no session is showing this QR (expired or closed)')
    const role = connection.role
    if (role.kind !== 'registration')
      throw new NotFound('the session showing this QR is no longer registering')
    if (
      !role.clientStaticKey.equals(qr.noisePublicKey) ||
      !role.registration.identityKey.equals(qr.identityKey)
    ) {
      throw new BadInput('qr', 'keys do not match the session that received this ref')
    }
    const account = this.context.registry.getOrCreate(phone, pushName)
    return this.complete(connection, account, qr.advSecret)
  }

  /** Adds the registering companion to `account` and sends it pair-success. */
  complete(connection: ClientConnection, account: Account, advSecret: Buffer): LinkedDevice {
    const role = connection.role
    if (role.kind !== 'registration') throw new Conflict('connection is not registering')
    const device = this.context.registry.addCompanion(account, {
      noisePublicKey: role.clientStaticKey,
      identityKey: role.registration.identityKey,
      registrationId: role.registration.registrationId,
      signedPreKey: role.registration.signedPreKey,
      platform: role.registration.platform,
    })
    this.forget(connection)
    const id = messageTag()
    this.pendingPairSuccess.set(id, { account, device })
    connection.send({
      tag: 'iq',
      attrs: { from: SERVER, type: 'set', xmlns: 'md', id, t: unixNow() },
      content: [
        {
          tag: 'pair-success',
          attrs: {},
          content: [
            {
              tag: 'device-identity',
              attrs: {},
              content: signCompanionIdentity({
                accountKey: account.accountKey,
                companionIdentityKey: device.identityKey,
                keyIndex: device.keyIndex,
                advSecret,
              }),
            },
            { tag: 'platform', attrs: { name: 'smba' } },
            {
              tag: 'device',
              attrs: { jid: pnJid(account.pn, device.id), lid: lidJid(account.lid, device.id) },
            },
            { tag: 'biz', attrs: { name: account.name } },
          ],
        },
      ],
    })
    this.context.counters.totals.pairings++
    this.context.logger.info({ jid: pnJid(account.pn, device.id) }, 'companion linked')
    return { jid: pnJid(account.pn, device.id), lid: lidJid(account.lid, device.id) }
  }

  /** Replies to iqs the simulator sent; the pair-device-sign reply ends pairing with 515. */
  onIqReply(connection: ClientConnection, node: BinaryNode): void {
    const pending = this.pendingPairSuccess.get(node.attrs.id ?? '')
    if (!pending) return
    this.pendingPairSuccess.delete(node.attrs.id ?? '')
    const signedIdentity = getBinaryNodeChildBuffer(
      getBinaryNodeChild(node, 'pair-device-sign'),
      'device-identity',
    )
    const valid =
      signedIdentity &&
      isValidDeviceSignature({
        signedIdentity,
        accountPublicKey: Buffer.from(pending.account.accountKey.public),
        companionIdentityKey: pending.device.identityKey,
      })
    if (!valid) {
      this.context.logger.warn(
        { jid: pnJid(pending.account.pn, pending.device.id) },
        'bad pair-device-sign; unlinking',
      )
      pending.device.removed = true
      this.context.markDirty()
      connection.end(loginFailure('401'))
      return
    }
    connection.end(restartRequired())
  }

  /** The connection's QR refs stop working (it linked or closed). */
  forget(connection: ClientConnection): void {
    for (const [ref, owner] of this.connectionsByRef)
      if (owner === connection) this.connectionsByRef.delete(ref)
  }
}

function platformName(deviceProps: Uint8Array | null | undefined): string {
  if (!deviceProps) return 'unknown'
  try {
    const props = proto.DeviceProps.decode(deviceProps)
    return proto.DeviceProps.PlatformType[props.platformType ?? 0] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}
