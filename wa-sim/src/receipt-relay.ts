import { type BinaryNode, getBinaryNodeChild, getBinaryNodeChildren } from '@whiskeysockets/baileys'
import { type Account, type AccountRegistry, assertPn, pnJid } from './account-registry.js'
import type { ClientConnection } from './client-connection.js'
import type { Counters } from './counters.js'
import { BadInput, NotFound } from './errors.js'
import type { LiveSockets } from './live-sockets.js'
import type { InboxMessage } from './message-relay.js'
import { unixNow } from './node-attrs.js'

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

/** What relaying receipts consults and changes. */
export interface ReceiptRelayContext {
  registry: AccountRegistry
  counters: Counters
  sockets: LiveSockets
  /** The texts the phones decrypted: a contact can only acknowledge one of those. */
  inbox: readonly InboxMessage[]
}

/**
 * Delivery and read receipts: those sessions send (logged, and passed on to a sending session's
 * devices) and those a contact sends for a text a session sent it.
 */
export class ReceiptRelay {
  /** Receipts the sessions sent; grows without bound (meant for tests). */
  readonly receipts: ReceivedReceipt[] = []

  constructor(private readonly context: ReceiptRelayContext) {}

  /** A contact sends a delivery (or read) receipt for a message a session sent it. */
  fromContact(input: { from: unknown; to: unknown; id: unknown; type?: unknown }): { delivered: number } {
    const fromPn = assertPn('from', input.from)
    if (typeof input.to !== 'string' || input.to === '')
      throw new BadInput('to', 'must be the session PN or jid')
    if (typeof input.id !== 'string' || input.id === '') throw new BadInput('id', 'must be a message id')
    const type = input.type ?? 'delivery'
    if (type !== 'delivery' && type !== 'read') throw new BadInput('type', "must be 'delivery' or 'read'")
    const target = this.context.registry.require(input.to.includes('@') ? input.to : pnJid(input.to))
    const message = this.context.inbox.find(
      (m) => m.id === input.id && m.to === fromPn && m.from === target.account.pn,
    )
    if (!message) throw new NotFound(`no message ${input.id} from ${target.account.pn} to ${fromPn}`)
    const attrs: Record<string, string> = { from: pnJid(fromPn), id: input.id, t: unixNow() }
    if (type === 'read') attrs.type = 'read'
    return { delivered: this.deliverToAccount(target.account, { tag: 'receipt', attrs }) }
  }

  /** A session sends a receipt: acked, logged, and passed on when it is for another session. */
  onClientReceipt(connection: ClientConnection, node: BinaryNode): void {
    const role = connection.role
    if (role.kind !== 'device') return
    const id = node.attrs.id ?? ''
    const to = node.attrs.to ?? ''
    const type = node.attrs.type ?? 'delivery'
    this.context.counters.totals.receiptsIn++
    const ack: BinaryNode = { tag: 'ack', attrs: { class: 'receipt', id, from: to } }
    if (node.attrs.type) ack.attrs.type = node.attrs.type
    connection.send(ack)
    const ids = receiptMessageIds(node)
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
    const target = this.context.registry.resolve(to)
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

  private deliverToAccount(account: Account, node: BinaryNode, exceptDeviceJid?: string): number {
    let delivered = 0
    for (const device of this.context.registry.activeCompanions(account)) {
      const deviceJid = pnJid(account.pn, device.id)
      if (deviceJid === exceptDeviceJid) continue
      for (const connection of this.context.sockets.of(deviceJid)) {
        connection.send(node)
        delivered++
        if (node.tag === 'receipt') this.context.counters.totals.receiptsOut++
      }
    }
    return delivered
  }
}

/** The message ids a receipt covers: its own `id` and those of its `<list><item>`s. */
export function receiptMessageIds(node: BinaryNode): string[] {
  return [
    node.attrs.id ?? '',
    ...getBinaryNodeChildren(getBinaryNodeChild(node, 'list'), 'item').map((item) => item.attrs.id ?? ''),
  ].filter(Boolean)
}
