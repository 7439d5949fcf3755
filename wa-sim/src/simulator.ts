import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { deflate } from 'node:zlib'
import {
  type BinaryNode,
  Curve,
  encodeWAMessage,
  generateMessageID,
  getBinaryNodeChild,
  getBinaryNodeChildBuffer,
  getBinaryNodeChildren,
  type KeyPair,
  proto,
  unpadRandomMax16,
} from '@whiskeysockets/baileys'
import {
  type Account,
  AccountRegistry,
  assertPn,
  type CompanionDevice,
  lidJid,
  optionalName,
  parseJid,
  pnJid,
} from './account-registry.js'
import { ClientConnection, type ConnectionHandler, type RegistrationData } from './client-connection.js'
import { Counters, type SimStats } from './counters.js'
import {
  isValidDeviceSignature,
  openCompanionKeyBundle,
  parsePairingQr,
  signCompanionIdentity,
  unwrapWithPairingCode,
  wrapWithPairingCode,
} from './device-identity.js'
import { BadInput, Conflict, NotFound } from './errors.js'
import { type FaultSettings, Faults } from './faults.js'
import { LiveSockets } from './live-sockets.js'
import type { SimLogger } from './logger.js'
import { type LoginContext, logIn } from './login.js'
import { messageTag, SERVER, unixNow } from './node-attrs.js'
import type { ClientHello } from './noise-session.js'
import { NoiseSession } from './noise-session.js'
import { answerIq, type QueryContext } from './queries.js'
import { encodeCertChain, type ServerIdentity } from './server-identity.js'
import { isValidSignature } from './signature.js'
import type { PersistedState } from './state-file.js'
import {
  conflictReplaced,
  deviceRemoved,
  loginFailure,
  restartRequired,
  systemShutdown,
} from './stream-errors.js'

const QR_REFS_PER_REGISTRATION = 6
const PAIRING_CODE_TIMEOUT_MS = 15_000
const PAIRING_HELLO_WAIT_MS = 5_000
const deflateAsync = promisify(deflate)

/** A text a simulated phone decrypted (GET /inbox). */
export interface InboxMessage {
  id: string
  /** Sender PN (the session's account). */
  from: string
  /** Sender device jid, e.g. `628…:1@s.whatsapp.net`. */
  fromDevice: string
  /** Recipient PN (the contact or other account whose phone decrypted it). */
  to: string
  text: string
  timestamp: number
}

/** A receipt a session sent for a message the simulator delivered (GET /receipts). */
export interface ReceivedReceipt {
  id: string
  /** PN of the session's account that sent the receipt. */
  from: string
  fromDevice: string
  /** Who the receipt is for (the original sender), as the client addressed it. */
  to: string
  type: string
  timestamp: number
}

/** A text the simulator delivered to sessions (POST /send). */
interface SentMessage {
  id: string
  from: string
  to: string
  text: string
}

interface PendingPairSuccess {
  account: Account
  device: CompanionDevice
}

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

/** The companion a scan or pairing code linked. */
export interface LinkedDevice {
  jid: string
  lid: string
}

export interface SimulatorOptions {
  identity: ServerIdentity
  accounts: Account[]
  /** Send app-state keys and an inline history sync after a companion's first login (default true). */
  phoneBootstrap: boolean
  logger: SimLogger
  /** Called whenever persisted state changed. */
  onStateChange: () => void
}

/**
 * The simulated WhatsApp server: accounts, connections and the protocol between them. The HTTP
 * control API and the library API both call its public methods.
 */
export class Simulator implements ConnectionHandler, QueryContext {
  readonly registry: AccountRegistry
  readonly counters = new Counters()
  readonly faults = new Faults()
  readonly inbox: InboxMessage[] = []
  readonly receipts: ReceivedReceipt[] = []
  phoneBootstrap: boolean
  private readonly identity: ServerIdentity
  private readonly certChain: Buffer
  private readonly logger: SimLogger
  private readonly onStateChange: () => void
  private nextConnectionId = 1
  private readonly sockets = new LiveSockets(this.counters)
  private readonly login: LoginContext
  private readonly connectionsByRef = new Map<string, ClientConnection>()
  private readonly pendingPairSuccess = new Map<string, PendingPairSuccess>()
  private readonly pendingPairingCodes = new Map<string, PendingPairingCode>()
  private readonly sentMessages = new Map<string, SentMessage>()
  private readonly silenceTimers = new Set<NodeJS.Timeout>()

  constructor(options: SimulatorOptions) {
    this.identity = options.identity
    this.certChain = encodeCertChain(options.identity)
    this.phoneBootstrap = options.phoneBootstrap
    this.logger = options.logger
    this.onStateChange = options.onStateChange
    // Baileys' Signal repository warns on every PN→LID cache miss; the simulated phones never map.
    const signalLogger = options.logger.child({ module: 'signal' })
    if (options.logger.level !== 'silent') signalLogger.level = 'error'
    this.registry = new AccountRegistry(signalLogger, options.onStateChange)
    this.registry.load(options.accounts)
    const { registry, counters, faults, sockets, logger } = this
    this.login = { registry, counters, faults, sockets, logger }
  }

  get rootPublicKey(): string {
    return Buffer.from(this.identity.rootKey.public).toString('base64')
  }

  /** What the state file holds. */
  persistedState(): PersistedState {
    return { version: 1, identity: this.identity, accounts: this.registry.all() }
  }

  markDirty(): void {
    this.onStateChange()
  }

  // ---- connections ----------------------------------------------------------------------------

  /** Takes over a freshly upgraded websocket. */
  accept(ws: import('ws').WebSocket): ClientConnection {
    const id = this.nextConnectionId++
    const connection = new ClientConnection(
      id,
      ws,
      new NoiseSession(this.identity.staticKey, this.certChain),
      this,
      () => this.faults.frameDelayMs,
      (err) => this.logger.warn({ connection: id, err }, 'connection error'),
    )
    this.sockets.add(connection)
    this.counters.totals.connections++
    return connection
  }

  onHandshake(connection: ClientConnection, { clientStaticKey, payload }: ClientHello): void {
    this.counters.totals.handshakes++
    if (payload.username !== null && payload.username !== undefined && payload.passive) {
      logIn(this.login, connection, String(payload.username), payload.device ?? 0, clientStaticKey)
    } else if (payload.devicePairingData) {
      this.register(connection, clientStaticKey, payload.devicePairingData)
    } else {
      this.logger.warn({ connection: connection.id }, 'client payload is neither login nor registration')
      connection.end(loginFailure('400'))
    }
  }

  onNode(connection: ClientConnection, node: BinaryNode): void {
    switch (node.tag) {
      case 'iq':
        answerIq(this, connection, node)
        return
      case 'message':
        void this.onClientMessage(connection, node).catch((err) =>
          this.logger.error({ err, id: node.attrs.id }, 'failed to route a client message'),
        )
        return
      case 'receipt':
        this.onClientReceipt(connection, node)
        return
      default:
        // ack, presence, chatstate, ib, call: nothing to answer.
        return
    }
  }

  onClose(connection: ClientConnection): void {
    this.sockets.remove(connection)
    for (const [ref, owner] of this.connectionsByRef)
      if (owner === connection) this.connectionsByRef.delete(ref)
    for (const [phone, pending] of this.pendingPairingCodes) {
      if (pending.connection === connection) {
        pending.settle?.reject(new Conflict('the session closed before linking finished'))
        this.pendingPairingCodes.delete(phone)
      }
    }
  }

  /** The companion a logged-in connection belongs to. */
  deviceOf(connection: ClientConnection): CompanionDevice | undefined {
    const role = connection.role
    if (role.kind !== 'device') return undefined
    const account = this.registry.get(role.pn)
    return account && this.registry.companion(account, role.deviceId)
  }

  private register(
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
      this.logger.warn({ connection: connection.id }, 'registration with a bad signed prekey signature')
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
    this.counters.totals.qrsIssued += refs.length
    connection.send({
      tag: 'iq',
      attrs: { from: SERVER, type: 'set', xmlns: 'md', id: messageTag() },
      content: [{ tag: 'pair-device', attrs: {}, content: refs }],
    })
  }

  // ---- pairing --------------------------------------------------------------------------------

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
    const account = this.registry.getOrCreate(phone, pushName)
    return this.completePairing(connection, account, qr.advSecret)
  }

  /** The phone `phone` enters the pairing code a session obtained with requestPairingCode(). */
  async enterPairingCode(input: {
    phone: unknown
    code: unknown
    pushName?: unknown
  }): Promise<LinkedDevice> {
    const phone = assertPn('phone', input.phone)
    const pushName = optionalName('pushName', input.pushName)
    if (typeof input.code !== 'string' || !/^[0-9A-Z]{8}$/i.test(input.code.replace('-', ''))) {
      throw new BadInput('code', 'must be the 8-character pairing code')
    }
    const code = input.code.replace('-', '').toUpperCase()
    // requestPairingCode() does not wait for the server, so the companion_hello may still be in flight.
    let pending = this.pendingPairingCodes.get(phone)
    for (
      let waited = 0;
      (!pending || pending.connection.closed) && waited < PAIRING_HELLO_WAIT_MS;
      waited += 50
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      pending = this.pendingPairingCodes.get(phone)
    }
    if (!pending || pending.connection.closed)
      throw new NotFound(`no session is waiting for a pairing code for ${phone}`)
    if (pending.settle) throw new Conflict('a code is already being entered for this phone')
    const account = this.registry.getOrCreate(phone, pushName)
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
      this.pendingPairingCodes.set(phone, {
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
      const pending = this.pendingPairingCodes.get(phone)
      const bundle = getBinaryNodeChildBuffer(stage, 'link_code_pairing_wrapped_key_bundle')
      if (!pending?.settle || !pending.primaryEphemeral || !pending.companionEphemeralPublicKey || !bundle)
        return
      const account = this.registry.getOrCreate(phone)
      try {
        const { companionIdentityKey, advSecret } = openCompanionKeyBundle({
          wrappedKeyBundle: bundle,
          primaryEphemeralKey: pending.primaryEphemeral,
          companionEphemeralPublicKey: pending.companionEphemeralPublicKey,
          accountKey: account.accountKey,
        })
        if (!companionIdentityKey.equals(role.registration.identityKey)) throw new Error('identity mismatch')
        this.pendingPairingCodes.delete(phone)
        const linked = this.completePairing(connection, account, advSecret)
        this.counters.totals.pairingCodeLinks++
        pending.settle.resolve(linked)
      } catch (err) {
        this.logger.info({ phone, err }, 'pairing code did not match')
        // The companion keeps waiting; a new code can be requested.
        pending.primaryEphemeral = undefined
        pending.settle.reject(new BadInput('code', 'does not match the code the session shows'))
      }
    }
  }

  private completePairing(connection: ClientConnection, account: Account, advSecret: Buffer): LinkedDevice {
    const role = connection.role
    if (role.kind !== 'registration') throw new Conflict('connection is not registering')
    const device = this.registry.addCompanion(account, {
      noisePublicKey: role.clientStaticKey,
      identityKey: role.registration.identityKey,
      registrationId: role.registration.registrationId,
      signedPreKey: role.registration.signedPreKey,
      platform: role.registration.platform,
    })
    for (const [ref, owner] of this.connectionsByRef)
      if (owner === connection) this.connectionsByRef.delete(ref)
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
    this.counters.totals.pairings++
    this.logger.info({ jid: pnJid(account.pn, device.id) }, 'companion linked')
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
      this.logger.warn(
        { jid: pnJid(pending.account.pn, pending.device.id) },
        'bad pair-device-sign; unlinking',
      )
      pending.device.removed = true
      this.markDirty()
      connection.end(loginFailure('401'))
      return
    }
    connection.end(restartRequired())
  }

  onUnknownIq(connection: ClientConnection, node: BinaryNode): void {
    this.counters.totals.unknownIqs++
    this.logger.warn(
      {
        connection: connection.id,
        xmlns: node.attrs.xmlns,
        type: node.attrs.type,
        child: firstChildTag(node),
      },
      'unknown iq answered with an empty result',
    )
  }

  /** sock.logout(): the companion unlinks itself. */
  onClientLogout(connection: ClientConnection, jid: string | undefined): void {
    const found = jid ? this.registry.resolve(jid) : undefined
    const device = found ? this.registry.companion(found.account, found.device) : this.deviceOf(connection)
    if (device) {
      device.removed = true
      this.markDirty()
    }
  }

  // ---- phone bootstrap ------------------------------------------------------------------------

  onDigestAnswered(connection: ClientConnection): void {
    const device = this.deviceOf(connection)
    const role = connection.role
    if (!this.phoneBootstrap || !device || device.bootstrapped || role.kind !== 'device') return
    device.bootstrapped = true
    this.markDirty()
    void this.sendBootstrap(connection, role.pn, device).catch((err) =>
      this.logger.error({ err, deviceJid: role.deviceJid }, 'phone bootstrap failed'),
    )
  }

  private async sendBootstrap(
    connection: ClientConnection,
    pn: string,
    device: CompanionDevice,
  ): Promise<void> {
    const account = this.registry.get(pn)!
    const keyShare: proto.IMessage = {
      protocolMessage: {
        type: proto.Message.ProtocolMessage.Type.APP_STATE_SYNC_KEY_SHARE,
        appStateSyncKeyShare: {
          keys: [
            {
              keyId: { keyId: randomBytes(6) },
              keyData: {
                keyData: randomBytes(32),
                fingerprint: {
                  rawId: randomBytes(4).readUInt32BE(0),
                  currentIndex: 0,
                  deviceIndexes: [0, device.keyIndex],
                },
                timestamp: Date.now(),
              },
            },
          ],
        },
      },
    }
    const contacts = this.registry
      .all()
      .filter((other) => other.pn !== pn)
      .slice(0, 50)
    const history = proto.HistorySync.encode({
      syncType: proto.HistorySync.HistorySyncType.INITIAL_BOOTSTRAP,
      conversations: [],
      pushnames: contacts.map((contact) => ({ id: pnJid(contact.pn), pushname: contact.name })),
      phoneNumberToLidMappings: contacts.map((contact) => ({
        pnJid: pnJid(contact.pn),
        lidJid: lidJid(contact.lid),
      })),
    }).finish()
    const historyNotification: proto.IMessage = {
      protocolMessage: {
        type: proto.Message.ProtocolMessage.Type.HISTORY_SYNC_NOTIFICATION,
        historySyncNotification: {
          syncType: proto.Message.HistorySyncType.INITIAL_BOOTSTRAP,
          progress: 100,
          chunkOrder: 0,
          initialHistBootstrapInlinePayload: await deflateAsync(history),
        },
      },
    }
    for (const message of [keyShare, historyNotification]) {
      const enc = await this.registry
        .phoneOf(account)
        .encrypt(pnJid(pn, device.id), encodeWAMessage(message), () => this.registry.companionBundle(device))
      connection.send({
        tag: 'message',
        attrs: {
          from: pnJid(pn),
          id: generateMessageID(),
          t: unixNow(),
          type: 'text',
          category: 'peer',
          push_priority: 'high_force',
        },
        content: [{ tag: 'enc', attrs: { v: '2', type: enc.type }, content: enc.ciphertext }],
      })
      this.counters.totals.messagesOut++
    }
  }

  // ---- messaging ------------------------------------------------------------------------------

  /** A contact (or any account's phone) sends a text to every linked device of `to`. */
  async send(input: {
    from: unknown
    to: unknown
    text: unknown
    addressing?: unknown
    id?: unknown
  }): Promise<{
    id: string
    devices: number
  }> {
    const fromPn = assertPn('from', input.from)
    const target = this.registry.resolve(
      typeof input.to === 'string' ? (input.to.includes('@') ? input.to : pnJid(input.to)) : '',
    )
    if (typeof input.to !== 'string') throw new BadInput('to', 'must be a PN or jid')
    if (typeof input.text !== 'string' || input.text === '')
      throw new BadInput('text', 'must be a non-empty string')
    const addressing = input.addressing ?? 'pn'
    if (addressing !== 'pn' && addressing !== 'lid') throw new BadInput('addressing', "must be 'pn' or 'lid'")
    if (input.id !== undefined && (typeof input.id !== 'string' || input.id === ''))
      throw new BadInput('id', 'must be a string')
    const sender = this.registry.get(fromPn)
    if (!sender) throw new NotFound(`no account or contact ${fromPn}; add it with POST /contacts`)
    if (!target) throw new NotFound(`no account for ${input.to}`)
    const id = (input.id as string | undefined) ?? generateMessageID()
    const devices =
      target.device === 0
        ? this.registry.activeCompanions(target.account)
        : [this.registry.companion(target.account, target.device)].filter(
            (d): d is CompanionDevice => !!d && !d.removed,
          )
    const plaintext = encodeWAMessage({ conversation: input.text })
    const attrs: Record<string, string> =
      addressing === 'lid'
        ? { from: lidJid(sender.lid), sender_pn: pnJid(sender.pn), addressing_mode: 'lid' }
        : { from: pnJid(sender.pn), sender_lid: lidJid(sender.lid) }
    let delivered = 0
    for (const device of devices) {
      const live = this.sockets.of(pnJid(target.account.pn, device.id))
      if (live.size === 0) continue
      const enc = await this.registry
        .phoneOf(sender)
        .encrypt(pnJid(target.account.pn, device.id), plaintext, () => this.registry.companionBundle(device))
      for (const connection of live) {
        connection.send({
          tag: 'message',
          attrs: { ...attrs, id, t: unixNow(), type: 'text', notify: sender.name },
          content: [{ tag: 'enc', attrs: { v: '2', type: enc.type }, content: enc.ciphertext }],
        })
        this.counters.totals.messagesOut++
        delivered++
      }
    }
    this.sentMessages.set(id, { id, from: sender.pn, to: target.account.pn, text: input.text })
    return { id, devices: delivered }
  }

  /** A contact sends a delivery (or read) receipt for a message a session sent it. */
  receipt(input: { from: unknown; to: unknown; id: unknown; type?: unknown }): { delivered: number } {
    const fromPn = assertPn('from', input.from)
    if (typeof input.to !== 'string' || input.to === '')
      throw new BadInput('to', 'must be the session PN or jid')
    if (typeof input.id !== 'string' || input.id === '') throw new BadInput('id', 'must be a message id')
    const type = input.type ?? 'delivery'
    if (type !== 'delivery' && type !== 'read') throw new BadInput('type', "must be 'delivery' or 'read'")
    const target = this.registry.require(input.to.includes('@') ? input.to : pnJid(input.to))
    const message = this.inbox.find(
      (m) => m.id === input.id && m.to === fromPn && m.from === target.account.pn,
    )
    if (!message) throw new NotFound(`no message ${input.id} from ${target.account.pn} to ${fromPn}`)
    const attrs: Record<string, string> = { from: pnJid(fromPn), id: input.id, t: unixNow() }
    if (type === 'read') attrs.type = 'read'
    return { delivered: this.deliverToAccount(target.account, { tag: 'receipt', attrs }) }
  }

  private deliverToAccount(account: Account, node: BinaryNode, exceptDeviceJid?: string): number {
    let delivered = 0
    for (const device of this.registry.activeCompanions(account)) {
      const deviceJid = pnJid(account.pn, device.id)
      if (deviceJid === exceptDeviceJid) continue
      for (const connection of this.sockets.of(deviceJid)) {
        connection.send(node)
        delivered++
        if (node.tag === 'receipt') this.counters.totals.receiptsOut++
      }
    }
    return delivered
  }

  private async onClientMessage(connection: ClientConnection, node: BinaryNode): Promise<void> {
    const role = connection.role
    if (role.kind !== 'device') return
    const sender = this.registry.get(role.pn)!
    const chatJid = node.attrs.to ?? ''
    const id = node.attrs.id ?? ''
    this.counters.totals.messagesIn++
    const participants = getBinaryNodeChildren(getBinaryNodeChild(node, 'participants'), 'to')
    const targets: { jid: string; enc: BinaryNode }[] = participants.flatMap((to) => {
      const enc = getBinaryNodeChild(to, 'enc')
      return enc && to.attrs.jid ? [{ jid: to.attrs.jid, enc }] : []
    })
    const directEnc = getBinaryNodeChild(node, 'enc')
    if (directEnc) targets.push({ jid: chatJid, enc: directEnc })
    const deviceIdentity = getBinaryNodeChild(node, 'device-identity')
    const chat = this.registry.resolve(chatJid)
    this.logger.debug(
      { id, chatJid, targets: targets.map((t) => `${t.jid}/${t.enc.attrs.type}`) },
      'client message',
    )
    for (const { jid, enc } of targets) {
      const found = this.registry.resolve(jid)
      if (!found) continue
      const type = enc.attrs.type
      if (!(enc.content instanceof Uint8Array) || (type !== 'pkmsg' && type !== 'msg')) continue
      if (found.device === 0) {
        await this.decryptOnPhone(
          found.account,
          role.deviceJid,
          sender.pn,
          type,
          enc.content,
          id,
          chat?.account,
        )
      } else {
        // Another Baileys companion: relay the ciphertext as WhatsApp's server does.
        const isOwnDevice = found.account.pn === sender.pn
        const attrs: Record<string, string> = {
          from: role.deviceJid,
          id,
          t: unixNow(),
          type: node.attrs.type ?? 'text',
          notify: sender.name,
          sender_lid: lidJid(sender.lid),
        }
        if (isOwnDevice) attrs.recipient = chat ? pnJid(chat.account.pn) : chatJid
        if (node.attrs.category) attrs.category = node.attrs.category
        const relay: BinaryNode = {
          tag: 'message',
          attrs,
          content: [enc, ...(deviceIdentity ? [deviceIdentity] : [])],
        }
        for (const target of this.sockets.of(pnJid(found.account.pn, found.device))) {
          if (target === connection) continue
          target.send(relay)
          this.counters.totals.messagesOut++
        }
      }
    }
    connection.send({ tag: 'ack', attrs: { class: 'message', id, from: chatJid, t: unixNow() } })
  }

  private async decryptOnPhone(
    phoneAccount: Account,
    senderDeviceJid: string,
    senderPn: string,
    type: 'pkmsg' | 'msg',
    ciphertext: Uint8Array,
    id: string,
    chatAccount: Account | undefined,
  ): Promise<void> {
    let message: proto.Message
    try {
      const plaintext = await this.registry.phoneOf(phoneAccount).decrypt(senderDeviceJid, type, ciphertext)
      message = proto.Message.decode(unpadRandomMax16(plaintext))
    } catch (err) {
      this.counters.totals.decryptFailures++
      this.logger.warn(
        { err, id, senderDeviceJid, phone: phoneAccount.pn },
        'simulated phone could not decrypt',
      )
      return
    }
    this.logger.debug(
      { id, phone: phoneAccount.pn, message: proto.Message.toObject(message) },
      'phone decrypted',
    )
    // The sender's own phone gets a DeviceSentMessage copy; only the recipient's phone goes in the inbox.
    if (message.deviceSentMessage || phoneAccount.pn === senderPn) return
    const text = message.conversation || message.extendedTextMessage?.text
    if (!text || chatAccount?.pn !== phoneAccount.pn) return
    this.inbox.push({
      id,
      from: senderPn,
      fromDevice: senderDeviceJid,
      to: phoneAccount.pn,
      text,
      timestamp: Date.now(),
    })
  }

  private onClientReceipt(connection: ClientConnection, node: BinaryNode): void {
    const role = connection.role
    if (role.kind !== 'device') return
    const id = node.attrs.id ?? ''
    const to = node.attrs.to ?? ''
    const type = node.attrs.type ?? 'delivery'
    this.counters.totals.receiptsIn++
    const ack: BinaryNode = { tag: 'ack', attrs: { class: 'receipt', id, from: to } }
    if (node.attrs.type) ack.attrs.type = node.attrs.type
    connection.send(ack)
    const ids = [
      id,
      ...getBinaryNodeChildren(getBinaryNodeChild(node, 'list'), 'item').map((item) => item.attrs.id ?? ''),
    ]
    for (const messageId of ids) {
      this.receipts.push({
        id: messageId,
        from: role.pn,
        fromDevice: role.deviceJid,
        to,
        type,
        timestamp: Date.now(),
      })
    }
    // Session-to-session: pass delivery/read receipts on to the original sender's devices.
    const target = this.registry.resolve(to)
    // 'inactive' is a delivery receipt from a client that is not marked online.
    if (
      target &&
      target.account.pn !== role.pn &&
      (type === 'delivery' || type === 'inactive' || type === 'read')
    ) {
      for (const messageId of ids) {
        const attrs: Record<string, string> = { from: pnJid(role.pn), id: messageId, t: unixNow() }
        if (type === 'read') attrs.type = 'read'
        this.deliverToAccount(target.account, { tag: 'receipt', attrs })
      }
    }
  }

  // ---- contacts, faults, kicks ----------------------------------------------------------------

  /** Adds (or renames) a contact: an account whose only device is its simulated phone. */
  addContact(input: { pn: unknown; name?: unknown }): { pn: string; lid: string } {
    const pn = assertPn('pn', input.pn)
    const account = this.registry.getOrCreate(pn, optionalName('name', input.name))
    return { pn: account.pn, lid: lidJid(account.lid) }
  }

  /** The phone unlinks a companion: its live socket gets 401 device_removed, later logins fail 401. */
  removeDevice(input: { jid: unknown }): { removed: string } {
    if (typeof input.jid !== 'string')
      throw new BadInput('jid', 'must be a companion jid like 628…:1@s.whatsapp.net')
    const found = this.registry.require(input.jid)
    if (found.device === 0)
      throw new BadInput('jid', 'must name a companion device (…:N@s.whatsapp.net), not the phone')
    const device = this.registry.companion(found.account, found.device)
    if (!device) throw new NotFound(`no device ${input.jid}`)
    device.removed = true
    this.markDirty()
    const deviceJid = pnJid(found.account.pn, device.id)
    for (const connection of this.sockets.of(deviceJid)) {
      connection.end(deviceRemoved())
    }
    return { removed: deviceJid }
  }

  /** Closes the live sockets of a device (jid) or of every device of an account (pn). */
  kick(input: { pn?: unknown; jid?: unknown; mode?: unknown }): { kicked: number } {
    const mode = input.mode ?? 'replaced'
    if (mode !== 'replaced' && mode !== 'close' && mode !== 'system-shutdown') {
      throw new BadInput('mode', "must be 'replaced', 'close' or 'system-shutdown'")
    }
    const connections = this.liveConnectionsFor(input)
    for (const connection of connections) {
      if (mode === 'close') connection.end()
      else if (mode === 'replaced') connection.end(conflictReplaced())
      else connection.end(systemShutdown())
    }
    return { kicked: connections.length }
  }

  setFaults(settings: FaultSettings): ReturnType<Faults['describe']> & { silenced: number } {
    if (settings.clear) {
      this.faults.clear()
      for (const timer of this.silenceTimers) clearTimeout(timer)
      this.silenceTimers.clear()
      for (const connection of this.sockets.all()) connection.silenced = false
    }
    if (settings.refuseLogins)
      this.faults.refuseLogins(settings.refuseLogins.code, settings.refuseLogins.forMs)
    if (settings.frameDelayMs !== undefined) this.faults.frameDelayMs = settings.frameDelayMs
    let silenced = 0
    if (settings.silence) {
      const targets = this.liveConnectionsFor({ jid: settings.silence.jid })
      for (const connection of targets) connection.silenced = true
      silenced = targets.length
      if (settings.silence.forMs !== undefined) {
        const timer = setTimeout(() => {
          this.silenceTimers.delete(timer)
          for (const connection of targets) connection.silenced = false
        }, settings.silence.forMs)
        this.silenceTimers.add(timer)
      }
    }
    return { ...this.faults.describe(), silenced }
  }

  private liveConnectionsFor(input: { pn?: unknown; jid?: unknown }): ClientConnection[] {
    let deviceJids: string[]
    if (typeof input.jid === 'string') {
      const found = this.registry.require(input.jid)
      deviceJids =
        parseJid(input.jid)?.device === 0 && !input.jid.includes(':')
          ? found.account.companions.map((device) => pnJid(found.account.pn, device.id))
          : [pnJid(found.account.pn, found.device)]
    } else if (input.pn !== undefined) {
      const pn = assertPn('pn', input.pn)
      const account = this.registry.get(pn)
      if (!account) throw new NotFound(`no account ${pn}`)
      deviceJids = account.companions.map((device) => pnJid(pn, device.id))
    } else {
      throw new BadInput('jid', 'give a device jid or a pn')
    }
    return deviceJids.flatMap((deviceJid) => [...this.sockets.of(deviceJid)])
  }

  // ---- read models ----------------------------------------------------------------------------

  stats(includePerDevice = true): SimStats {
    return this.counters.snapshot(includePerDevice)
  }

  accounts(): AccountSummary[] {
    return this.registry.all().map((account) => ({
      pn: account.pn,
      lid: lidJid(account.lid),
      name: account.name,
      devices: account.companions.map((device) => {
        const jid = pnJid(account.pn, device.id)
        return {
          jid,
          lid: lidJid(account.lid, device.id),
          keyIndex: device.keyIndex,
          platform: device.platform,
          removed: device.removed,
          live: this.sockets.of(jid).size,
        }
      }),
    }))
  }

  inboxFor(pn: string | undefined): InboxMessage[] {
    return pn ? this.inbox.filter((message) => message.to === pn) : [...this.inbox]
  }

  receiptsFor(id: string | undefined): ReceivedReceipt[] {
    return id ? this.receipts.filter((receipt) => receipt.id === id) : [...this.receipts]
  }

  /** Closes every socket (used by stop()). */
  closeAll(): void {
    for (const timer of this.silenceTimers) clearTimeout(timer)
    this.sockets.terminateAll()
  }
}

/** One account as GET /accounts shows it. */
export interface AccountSummary {
  pn: string
  lid: string
  name: string
  devices: { jid: string; lid: string; keyIndex: number; platform: string; removed: boolean; live: number }[]
}

function firstChildTag(node: BinaryNode): string | undefined {
  return Array.isArray(node.content) ? node.content[0]?.tag : undefined
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
