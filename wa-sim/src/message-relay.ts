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
  type AccountRegistry,
  assertPn,
  type CompanionDevice,
  lidJid,
  pnJid,
} from './account-registry.js'
import type { ClientConnection } from './client-connection.js'
import type { Counters } from './counters.js'
import { BadInput, NotFound } from './errors.js'
import type { LiveSockets } from './live-sockets.js'
import type { SimLogger } from './logger.js'
import { unixNow } from './node-attrs.js'

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

/** A text the simulator delivered to sessions (POST /send). */
interface SentMessage {
  id: string
  from: string
  to: string
  text: string
}

/** What relaying messages consults and changes. */
export interface MessageRelayContext {
  registry: AccountRegistry
  counters: Counters
  sockets: LiveSockets
  logger: SimLogger
}

/**
 * Texts between sessions and simulated phones: a contact's text encrypted to every live companion,
 * a session's message decrypted by the recipient's phone (into the inbox) or relayed to other
 * companions as ciphertext.
 */
export class MessageRelay {
  /** Texts the simulated phones decrypted; grows without bound (meant for tests). */
  readonly inbox: InboxMessage[] = []
  private readonly sentMessages = new Map<string, SentMessage>()

  constructor(private readonly context: MessageRelayContext) {}

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
    const { registry, counters, sockets } = this.context
    const fromPn = assertPn('from', input.from)
    const target = registry.resolve(
      typeof input.to === 'string' ? (input.to.includes('@') ? input.to : pnJid(input.to)) : '',
    )
    if (typeof input.to !== 'string') throw new BadInput('to', 'must be a PN or jid')
    if (typeof input.text !== 'string' || input.text === '')
      throw new BadInput('text', 'must be a non-empty string')
    const addressing = input.addressing ?? 'pn'
    if (addressing !== 'pn' && addressing !== 'lid') throw new BadInput('addressing', "must be 'pn' or 'lid'")
    if (input.id !== undefined && (typeof input.id !== 'string' || input.id === ''))
      throw new BadInput('id', 'must be a string')
    const sender = registry.get(fromPn)
    if (!sender) throw new NotFound(`no account or contact ${fromPn}; add it with POST /contacts`)
    if (!target) throw new NotFound(`no account for ${input.to}`)
    const id = (input.id as string | undefined) ?? generateMessageID()
    const devices =
      target.device === 0
        ? registry.activeCompanions(target.account)
        : [registry.companion(target.account, target.device)].filter(
            (d): d is CompanionDevice => !!d && !d.removed,
          )
    const plaintext = encodeWAMessage({ conversation: input.text })
    const attrs: Record<string, string> =
      addressing === 'lid'
        ? { from: lidJid(sender.lid), sender_pn: pnJid(sender.pn), addressing_mode: 'lid' }
        : { from: pnJid(sender.pn), sender_lid: lidJid(sender.lid) }
    let delivered = 0
    for (const device of devices) {
      const live = sockets.of(pnJid(target.account.pn, device.id))
      if (live.size === 0) continue
      const enc = await registry
        .phoneOf(sender)
        .encrypt(pnJid(target.account.pn, device.id), plaintext, () => registry.companionBundle(device))
      for (const connection of live) {
        connection.send({
          tag: 'message',
          attrs: { ...attrs, id, t: unixNow(), type: 'text', notify: sender.name },
          content: [{ tag: 'enc', attrs: { v: '2', type: enc.type }, content: enc.ciphertext }],
        })
        counters.totals.messagesOut++
        delivered++
      }
    }
    this.sentMessages.set(id, { id, from: sender.pn, to: target.account.pn, text: input.text })
    return { id, devices: delivered }
  }

  /** A session sends a message: each `<enc>` goes to a phone (decrypted) or to a companion (relayed). */
  async onClientMessage(connection: ClientConnection, node: BinaryNode): Promise<void> {
    const { registry, counters, sockets, logger } = this.context
    const role = connection.role
    if (role.kind !== 'device') return
    const sender = registry.get(role.pn)!
    const chatJid = node.attrs.to ?? ''
    const id = node.attrs.id ?? ''
    counters.totals.messagesIn++
    const participants = getBinaryNodeChildren(getBinaryNodeChild(node, 'participants'), 'to')
    const targets: { jid: string; enc: BinaryNode }[] = participants.flatMap((to) => {
      const enc = getBinaryNodeChild(to, 'enc')
      return enc && to.attrs.jid ? [{ jid: to.attrs.jid, enc }] : []
    })
    const directEnc = getBinaryNodeChild(node, 'enc')
    if (directEnc) targets.push({ jid: chatJid, enc: directEnc })
    const deviceIdentity = getBinaryNodeChild(node, 'device-identity')
    const chat = registry.resolve(chatJid)
    logger.debug(
      { id, chatJid, targets: targets.map((t) => `${t.jid}/${t.enc.attrs.type}`) },
      'client message',
    )
    for (const { jid, enc } of targets) {
      const found = registry.resolve(jid)
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
        for (const target of sockets.of(pnJid(found.account.pn, found.device))) {
          if (target === connection) continue
          target.send(relay)
          counters.totals.messagesOut++
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
    const { registry, counters, logger } = this.context
    let message: proto.Message
    try {
      const plaintext = await registry.phoneOf(phoneAccount).decrypt(senderDeviceJid, type, ciphertext)
      message = proto.Message.decode(unpadRandomMax16(plaintext))
    } catch (err) {
      counters.totals.decryptFailures++
      logger.warn({ err, id, senderDeviceJid, phone: phoneAccount.pn }, 'simulated phone could not decrypt')
      return
    }
    logger.debug({ id, phone: phoneAccount.pn, message: proto.Message.toObject(message) }, 'phone decrypted')
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
}
