import type { BinaryNode } from '@whiskeysockets/baileys'
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
import { type InboxMessage, MessageRelay } from './message-relay.js'
import type { ClientHello } from './noise-session.js'
import { NoiseSession } from './noise-session.js'
import { type LinkedDevice, Pairing } from './pairing.js'
import { PairingCodes } from './pairing-code.js'
import { sendPhoneBootstrap } from './phone-bootstrap.js'
import { answerIq, type QueryContext } from './queries.js'
import { ReceiptRelay, type ReceivedReceipt } from './receipt-relay.js'
import { encodeCertChain, type ServerIdentity } from './server-identity.js'
import type { PersistedState } from './state-file.js'
import { conflictReplaced, deviceRemoved, loginFailure, systemShutdown } from './stream-errors.js'

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
  readonly inbox: InboxMessage[]
  readonly receipts: ReceivedReceipt[]
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
  private readonly messages: MessageRelay
  private readonly receiptRelay: ReceiptRelay
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
    this.messages = new MessageRelay({ registry, counters, sockets, logger })
    this.inbox = this.messages.inbox
    this.receiptRelay = new ReceiptRelay({ registry, counters, sockets, inbox: this.inbox })
    this.receipts = this.receiptRelay.receipts
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
        void this.messages
          .onClientMessage(connection, node)
          .catch((err) => this.logger.error({ err, id: node.attrs.id }, 'failed to route a client message'))
        return
      case 'receipt':
        this.receiptRelay.onClientReceipt(connection, node)
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

  /** The phone bootstraps a companion once, after its first login's digest query. */
  onDigestAnswered(connection: ClientConnection): void {
    const device = this.deviceOf(connection)
    const role = connection.role
    if (!this.phoneBootstrap || !device || device.bootstrapped || role.kind !== 'device') return
    device.bootstrapped = true
    this.markDirty()
    void sendPhoneBootstrap(this, connection, role.pn, device).catch((err) =>
      this.logger.error({ err, deviceJid: role.deviceJid }, 'phone bootstrap failed'),
    )
  }

  // ---- messaging ------------------------------------------------------------------------------

  /** A contact (or any account's phone) sends a text to every linked device of `to`. */
  send(input: { from: unknown; to: unknown; text: unknown; addressing?: unknown; id?: unknown }): Promise<{
    id: string
    devices: number
  }> {
    return this.messages.send(input)
  }

  /** A contact sends a delivery (or read) receipt for a message a session sent it. */
  receipt(input: { from: unknown; to: unknown; id: unknown; type?: unknown }): { delivered: number } {
    return this.receiptRelay.fromContact(input)
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
