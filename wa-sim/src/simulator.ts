import type { BinaryNode } from '@whiskeysockets/baileys'
import { type Account, AccountRegistry, type CompanionDevice } from './account-registry.js'
import { type AccountSummary, summarizeAccounts } from './account-summary.js'
import { ChatStates, type ReceivedChatState } from './chat-states.js'
import { ClientConnection, type ConnectionHandler } from './client-connection.js'
import { Counters, type SimStats } from './counters.js'
import { FaultInjector } from './fault-injector.js'
import { type FaultSettings, Faults } from './faults.js'
import { Groups } from './groups.js'
import { LiveSockets } from './live-sockets.js'
import type { SimLogger } from './logger.js'
import { type LoginContext, logIn } from './login.js'
import { MediaStore } from './media-server.js'
import { type InboxMessage, MessageRelay } from './message-relay.js'
import type { ClientHello } from './noise-session.js'
import { NoiseSession } from './noise-session.js'
import { type LinkedDevice, Pairing } from './pairing.js'
import { PairingCodes } from './pairing-code.js'
import { sendPhoneBootstrap } from './phone-bootstrap.js'
import { addContact, type PhoneContext, removeDevice } from './phones.js'
import { answerIq, type QueryContext } from './queries.js'
import { ReceiptRelay, type ReceivedReceipt, receiptMessageIds } from './receipt-relay.js'
import { encodeCertChain, type ServerIdentity } from './server-identity.js'
import type { PersistedState } from './state-file.js'
import { loginFailure } from './stream-errors.js'

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
 * control API and the library API both call its public methods. It wires the parts (login,
 * pairing, message and receipt relay, faults) and hands each connection event to the right one.
 */
export class Simulator implements ConnectionHandler, QueryContext {
  readonly registry: AccountRegistry
  readonly counters = new Counters()
  readonly faults = new Faults()
  readonly inbox: InboxMessage[]
  readonly receipts: ReceivedReceipt[]
  phoneBootstrap: boolean
  /** The encrypted files of the media server. */
  readonly media = new MediaStore()
  /** `host:port` of the HTTPS media server; set once it listens. */
  mediaHost = '127.0.0.1'
  private readonly identity: ServerIdentity
  private readonly certChain: Buffer
  private readonly logger: SimLogger
  private readonly onStateChange: () => void
  private nextConnectionId = 1
  private readonly sockets = new LiveSockets(this.counters)
  private readonly login: LoginContext
  private readonly phones: PhoneContext
  private readonly pairing: Pairing
  private readonly pairingCodes: PairingCodes
  private readonly messages: MessageRelay
  private readonly receiptRelay: ReceiptRelay
  private readonly faultInjector: FaultInjector
  readonly groups: Groups
  private readonly chatStates = new ChatStates()

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
    const markDirty = () => this.markDirty()
    this.login = { registry, counters, faults, sockets, logger }
    this.phones = { registry, sockets, markDirty }
    this.pairing = new Pairing({ registry, counters, logger, markDirty })
    this.pairingCodes = new PairingCodes({ registry, counters, logger, pairing: this.pairing })
    this.messages = new MessageRelay({ registry, counters, sockets, logger, media: this.media })
    this.inbox = this.messages.inbox
    this.receiptRelay = new ReceiptRelay({ registry, counters, sockets, inbox: this.inbox })
    this.receipts = this.receiptRelay.receipts
    this.faultInjector = new FaultInjector({ registry, sockets, faults })
    this.groups = new Groups({ registry, counters, sockets, logger, inbox: this.inbox })
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
      if (connection.role.kind === 'device') {
        const { deviceJid } = connection.role
        void this.messages
          .redeliver(deviceJid)
          .catch((err) => this.logger.error({ err, deviceJid }, 'failed to deliver the offline queue'))
      }
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
      case 'message': {
        const group = this.groups.get(node.attrs.to ?? '')
        void (
          group
            ? this.groups.onClientGroupMessage(connection, node, group)
            : this.messages.onClientMessage(connection, node)
        ).catch((err) => this.logger.error({ err, id: node.attrs.id }, 'failed to route a client message'))
        return
      }
      case 'chatstate':
        this.chatStates.onClientChatState(connection, node)
        return
      case 'receipt':
        this.receiptRelay.onClientReceipt(connection, node)
        if (connection.role.kind === 'device') {
          const { deviceJid } = connection.role
          // A retry receipt says the device could not decrypt: the phone encrypts it again (in a
          // fresh session when asked twice). Any other receipt acknowledges the messages it names.
          if (node.attrs.type === 'retry')
            void this.messages
              .answerRetry(deviceJid, node)
              .catch((err) => this.logger.error({ err, deviceJid }, 'failed to answer a retry receipt'))
          else this.messages.acknowledged(deviceJid, receiptMessageIds(node))
        }
        return
      default:
        // ack, presence, ib, call: nothing to answer.
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

  // ---- iqs that change server state (QueryContext) -------------------------------------------

  /** Replies to iqs the simulator sent; the pair-device-sign reply ends pairing with 515. */
  onIqReply(connection: ClientConnection, node: BinaryNode): void {
    this.pairing.onIqReply(connection, node)
  }

  /** companion_hello (code requested) and companion_finish (key bundle after the phone entered it). */
  onLinkCodeStage(connection: ClientConnection, iq: BinaryNode, stage: BinaryNode): void {
    this.pairingCodes.onLinkCodeStage(connection, iq, stage)
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

  // ---- control operations ---------------------------------------------------------------------

  /** The phone `phone` scans the QR a session shows; links it and returns the companion's jid. */
  scan(input: { qr: unknown; phone: unknown; pushName?: unknown }): LinkedDevice {
    return this.pairing.scan(input)
  }

  /** The phone `phone` enters the pairing code a session obtained with requestPairingCode(). */
  enterPairingCode(input: { phone: unknown; code: unknown; pushName?: unknown }): Promise<LinkedDevice> {
    return this.pairingCodes.enter(input)
  }

  /** A contact (or any account's phone) sends a text or a media file to every linked device of `to`. */
  send(input: {
    from: unknown
    to: unknown
    text?: unknown
    media?: unknown
    addressing?: unknown
    id?: unknown
  }): Promise<{
    id: string
    devices: number
  }> {
    return this.messages.send(input)
  }

  /** A group of known accounts (contacts, sessions' accounts) → its jid. */
  createGroup(input: { subject: unknown; participants: unknown }): { jid: string } {
    return this.groups.create(input)
  }

  /** A member's phone sends a text to a group. */
  sendToGroup(input: { from: unknown; group: unknown; text: unknown; id?: unknown }): Promise<{
    id: string
    devices: number
  }> {
    return this.groups.sendFromPhone(input)
  }

  /** A contact creates a poll in its chat with `to`. */
  sendPoll(input: {
    from: unknown
    to: unknown
    question: unknown
    options: unknown
    selectableCount?: unknown
    id?: unknown
  }): Promise<{ id: string; devices: number }> {
    return this.messages.sendPoll(input)
  }

  /** A contact votes on a poll a session sent it. */
  vote(input: { from: unknown; to: unknown; pollId: unknown; options: unknown }): Promise<{
    id: string
    devices: number
  }> {
    return this.messages.vote(input)
  }

  /** A contact edits a text it sent. */
  edit(input: {
    from: unknown
    to: unknown
    id: unknown
    text: unknown
  }): Promise<{ id: string; devices: number }> {
    return this.messages.edit(input)
  }

  /** A contact deletes a message it sent for everyone. */
  revoke(input: { from: unknown; to: unknown; id: unknown }): Promise<{ id: string; devices: number }> {
    return this.messages.revoke(input)
  }

  /** A contact reacts to a message a session sent it. */
  react(input: {
    from: unknown
    to: unknown
    id: unknown
    emoji: unknown
  }): Promise<{ id: string; devices: number }> {
    return this.messages.react(input)
  }

  /** A contact's phone loses its session with the sender of message `id` and asks for it again. */
  requestRetry(input: { from: unknown; id: unknown }): Promise<{ requested: number }> {
    return this.messages.requestRetry(input)
  }

  /** A contact sends a delivery (or read) receipt for a message a session sent it. */
  receipt(input: { from: unknown; to: unknown; id: unknown; type?: unknown }): { delivered: number } {
    return this.receiptRelay.fromContact(input)
  }

  /** Adds (or renames) a contact: an account whose only device is its simulated phone. */
  addContact(input: { pn: unknown; name?: unknown }): { pn: string; lid: string } {
    return addContact(this.registry, input)
  }

  /** The phone unlinks a companion: its live socket gets 401 device_removed, later logins fail 401. */
  removeDevice(input: { jid: unknown }): { removed: string } {
    return removeDevice(this.phones, input)
  }

  /** Closes the live sockets of a device (jid) or of every device of an account (pn). */
  kick(input: { pn?: unknown; jid?: unknown; mode?: unknown }): { kicked: number } {
    return this.faultInjector.kick(input)
  }

  setFaults(settings: FaultSettings): ReturnType<Faults['describe']> & { silenced: number } {
    return this.faultInjector.setFaults(settings)
  }

  // ---- read models ----------------------------------------------------------------------------

  stats(includePerDevice = true): SimStats {
    return { ...this.counters.snapshot(includePerDevice), unacknowledged: this.messages.pendingCount() }
  }

  accounts(): AccountSummary[] {
    return summarizeAccounts(this.registry, this.sockets)
  }

  inboxFor(pn: string | undefined): InboxMessage[] {
    return pn ? this.inbox.filter((message) => message.to === pn) : [...this.inbox]
  }

  presencesFor(to: string | undefined): ReceivedChatState[] {
    return this.chatStates.sentTo(to)
  }

  receiptsFor(id: string | undefined): ReceivedReceipt[] {
    return id ? this.receipts.filter((receipt) => receipt.id === id) : [...this.receipts]
  }

  /** Closes every socket (used by stop()). */
  closeAll(): void {
    this.faultInjector.stop()
    this.sockets.terminateAll()
  }
}

function firstChildTag(node: BinaryNode): string | undefined {
  return Array.isArray(node.content) ? node.content[0]?.tag : undefined
}
