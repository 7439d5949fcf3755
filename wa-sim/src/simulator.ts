import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { deflate } from 'node:zlib'
import {
  type BinaryNode,
  encodeWAMessage,
  generateMessageID,
  getBinaryNodeChild,
  getBinaryNodeChildren,
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
import { ClientConnection, type ConnectionHandler } from './client-connection.js'
import { Counters, type SimStats } from './counters.js'
import { BadInput, NotFound } from './errors.js'
import { type FaultSettings, Faults } from './faults.js'
import { LiveSockets } from './live-sockets.js'
import type { SimLogger } from './logger.js'
import { type LoginContext, logIn } from './login.js'
import { unixNow } from './node-attrs.js'
import type { ClientHello } from './noise-session.js'
import { NoiseSession } from './noise-session.js'
import { type LinkedDevice, Pairing } from './pairing.js'
import { PairingCodes } from './pairing-code.js'
import { answerIq, type QueryContext } from './queries.js'
import { encodeCertChain, type ServerIdentity } from './server-identity.js'
import type { PersistedState } from './state-file.js'
import { conflictReplaced, deviceRemoved, loginFailure, systemShutdown } from './stream-errors.js'

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
  private readonly pairing: Pairing
  private readonly pairingCodes: PairingCodes
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
    const markDirty = () => this.markDirty()
    this.pairing = new Pairing({ registry, counters, logger, markDirty })
    this.pairingCodes = new PairingCodes({ registry, counters, logger, pairing: this.pairing })
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
      this.pairing.register(connection, clientStaticKey, payload.devicePairingData)
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
    this.pairing.forget(connection)
    this.pairingCodes.forget(connection)
  }

  /** The companion a logged-in connection belongs to. */
  deviceOf(connection: ClientConnection): CompanionDevice | undefined {
    const role = connection.role
    if (role.kind !== 'device') return undefined
    const account = this.registry.get(role.pn)
    return account && this.registry.companion(account, role.deviceId)
  }

  // ---- pairing --------------------------------------------------------------------------------

  /** The phone `phone` scans the QR a session shows; links it and returns the companion's jid. */
  scan(input: { qr: unknown; phone: unknown; pushName?: unknown }): LinkedDevice {
    return this.pairing.scan(input)
  }

  /** The phone `phone` enters the pairing code a session obtained with requestPairingCode(). */
  enterPairingCode(input: { phone: unknown; code: unknown; pushName?: unknown }): Promise<LinkedDevice> {
    return this.pairingCodes.enter(input)
  }

  /** companion_hello (code requested) and companion_finish (key bundle after the phone entered it). */
  onLinkCodeStage(connection: ClientConnection, iq: BinaryNode, stage: BinaryNode): void {
    this.pairingCodes.onLinkCodeStage(connection, iq, stage)
  }

  /** Replies to iqs the simulator sent; the pair-device-sign reply ends pairing with 515. */
  onIqReply(connection: ClientConnection, node: BinaryNode): void {
    this.pairing.onIqReply(connection, node)
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
