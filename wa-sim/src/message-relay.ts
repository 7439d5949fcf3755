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
import type { MediaStore } from './media-server.js'
import {
  editMessage,
  type InboxContent,
  inboxContentOf,
  type KnownPoll,
  knownPollOf,
  pollMessage,
  reactionMessage,
  revokeMessage,
  voteMessage,
} from './message-content.js'
import { unixNow } from './node-attrs.js'
import { decryptPhoneMedia, type InboxMedia, parsePhoneMedia, phoneMediaMessage } from './phone-media.js'
import { MAX_PHONE_RETRIES, retryReceipt } from './phone-retry.js'
import { receiptMessageIds } from './receipt-relay.js'

/**
 * A message a simulated phone decrypted (GET /inbox): a text, or (with `text` `''`) a poll, an edit, a
 * delete for everyone or a reaction (see InboxContent).
 */
export interface InboxMessage extends InboxContent {
  id: string
  /** Sender PN (the session's account). */
  from: string
  /** Sender device jid, e.g. `628…:1@s.whatsapp.net`. */
  fromDevice: string
  /** Recipient PN (the contact or other account whose phone decrypted it). */
  to: string
  /** The group's jid, for a group message. */
  group?: string
  /** The message a group text quotes: its id and the member it names as the sender. */
  quoted?: { id: string; participant: string }
  /** A media message: what the phone downloaded and decrypted (`text` is its caption). */
  media?: InboxMedia
  /** When the server received the stanza (ms since the epoch). */
  timestamp: number
}

/** A message a contact sent to sessions (POST /send, /poll): what its edit or delete may name. */
interface SentMessage {
  id: string
  from: string
  to: string
  /** Only texts can be edited. */
  text?: string
}

/**
 * A contact's text to one companion device that the device has not acknowledged yet (WhatsApp's
 * offline queue): kept until the device sends a receipt for it, delivered again at its next login.
 */
interface PendingDelivery {
  id: string
  senderPn: string
  message: proto.IMessage
  /** The stanza's `type`: `text`, or `poll` / `reaction` as WhatsApp marks those. */
  stanzaType: string
  attrs: Record<string, string>
  notify: string
}

/** What relaying messages consults and changes. */
export interface MessageRelayContext {
  registry: AccountRegistry
  counters: Counters
  sockets: LiveSockets
  logger: SimLogger
  media: MediaStore
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
  /** Retry receipts sent per `phone pn|message id`. */
  private readonly retries = new Map<string, number>()
  /** Per companion device jid, in the order sent: texts it has not acknowledged with a receipt. */
  private readonly pending = new Map<string, Map<string, PendingDelivery>>()
  /** Polls the phones decrypted, by `<phone pn>|<poll id>`: what a vote on them needs. */
  private readonly knownPolls = new Map<string, KnownPoll>()

  constructor(private readonly context: MessageRelayContext) {}

  /** A contact (or any account's phone) sends a text to every linked device of `to`. */
  async send(input: {
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
    if (input.media !== undefined) {
      assertPn('from', input.from)
      const media = parsePhoneMedia(input.media)
      if (input.text !== undefined)
        throw new BadInput('text', 'is not allowed with media (use media.caption)')
      // A phone uploads the file once, then sends every device the same message.
      return this.sendContent(input, await phoneMediaMessage(this.context.media, media), 'media', {})
    }
    if (typeof input.text !== 'string' || input.text === '')
      throw new BadInput('text', 'must be a non-empty string')
    const text = input.text
    return this.sendContent(input, { conversation: text }, 'text', { text })
  }

  /** A contact creates a poll in its chat with `to` (a session's account). */
  async sendPoll(input: {
    from: unknown
    to: unknown
    question: unknown
    options: unknown
    selectableCount?: unknown
    id?: unknown
  }): Promise<{ id: string; devices: number }> {
    const message = pollMessage(input)
    const sent = await this.sendContent(input, message, 'poll', {})
    // Its creator may vote on it too.
    const fromPn = input.from as string
    const poll = knownPollOf(message, fromPn)
    if (poll) this.knownPolls.set(`${fromPn}|${sent.id}`, poll)
    return sent
  }

  /**
   * A contact votes on a poll `pollId` a session sent it, or on its own poll (the vote is encrypted with the secret its
   * phone decrypted); `options` empty withdraws the vote.
   */
  vote(input: { from: unknown; to: unknown; pollId: unknown; options: unknown }): Promise<{
    id: string
    devices: number
  }> {
    const fromPn = assertPn('from', input.from)
    if (typeof input.pollId !== 'string' || input.pollId === '')
      throw new BadInput('pollId', 'must be a message id')
    const poll = this.knownPolls.get(`${fromPn}|${input.pollId}`)
    if (!poll) throw new NotFound(`no poll ${input.pollId} in the inbox of ${fromPn}`)
    const ownPoll = poll.creatorPn === fromPn
    if (ownPoll && typeof input.to !== 'string') throw new BadInput('to', 'must be a PN or jid')
    const message = voteMessage({
      pollId: input.pollId,
      poll,
      // The poll's key as the voter names it: in the chat with the creator, or its own.
      pollKey: ownPoll
        ? {
            remoteJid: (input.to as string).includes('@') ? (input.to as string) : pnJid(input.to as string),
            fromMe: true,
          }
        : { remoteJid: pnJid(poll.creatorPn), fromMe: false },
      creatorJid: pnJid(poll.creatorPn),
      voterJid: pnJid(fromPn),
      options: input.options,
    })
    return this.sendContent({ from: fromPn, to: input.to }, message, 'poll', {})
  }

  /** A contact edits a text it sent to `to`. */
  edit(input: {
    from: unknown
    to: unknown
    id: unknown
    text: unknown
  }): Promise<{ id: string; devices: number }> {
    const own = this.ownSent(input)
    if (own.text === undefined) throw new BadInput('id', 'is not a text; only texts can be edited')
    return this.sendContent(
      { from: input.from, to: input.to },
      editMessage(pnJid(own.to), own.id, input.text),
      'text',
      {},
    )
  }

  /** A contact deletes for everyone a message it sent to `to`. */
  revoke(input: { from: unknown; to: unknown; id: unknown }): Promise<{ id: string; devices: number }> {
    const own = this.ownSent(input)
    return this.sendContent(
      { from: input.from, to: input.to },
      revokeMessage(pnJid(own.to), own.id),
      'text',
      {},
    )
  }

  /** A contact reacts to message `id` that `to` (a session's account) sent it; `emoji` `''` takes it away. */
  react(input: {
    from: unknown
    to: unknown
    id: unknown
    emoji: unknown
  }): Promise<{ id: string; devices: number }> {
    if (typeof input.id !== 'string' || input.id === '') throw new BadInput('id', 'must be a message id')
    if (typeof input.to !== 'string' || input.to === '') throw new BadInput('to', 'must be a PN or jid')
    const chat = this.context.registry.resolve(input.to.includes('@') ? input.to : pnJid(input.to))
    if (!chat) throw new NotFound(`no account for ${input.to}`)
    const message = reactionMessage(pnJid(chat.account.pn), input.id, false, input.emoji)
    return this.sendContent({ from: input.from, to: input.to }, message, 'reaction', {})
  }

  /** A message `from` sent to `to` earlier (POST /send, /poll), which it may edit or delete. */
  private ownSent(input: { from: unknown; to: unknown; id: unknown }): SentMessage {
    const fromPn = assertPn('from', input.from)
    if (typeof input.id !== 'string' || input.id === '') throw new BadInput('id', 'must be a message id')
    const sent = this.sentMessages.get(input.id)
    if (!sent || sent.from !== fromPn) throw new NotFound(`${fromPn} sent no message ${input.id}`)
    return sent
  }

  /** Encrypts `message` from a contact (or any account's phone) to every linked device of `to`. */
  private async sendContent(
    input: { from: unknown; to: unknown; addressing?: unknown; id?: unknown },
    message: proto.IMessage,
    stanzaType: string,
    remember: { text?: string },
  ): Promise<{ id: string; devices: number }> {
    const { registry } = this.context
    const fromPn = assertPn('from', input.from)
    const target = registry.resolve(
      typeof input.to === 'string' ? (input.to.includes('@') ? input.to : pnJid(input.to)) : '',
    )
    if (typeof input.to !== 'string') throw new BadInput('to', 'must be a PN or jid')
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
    const attrs: Record<string, string> =
      addressing === 'lid'
        ? { from: lidJid(sender.lid), sender_pn: pnJid(sender.pn), addressing_mode: 'lid' }
        : { from: pnJid(sender.pn), sender_lid: lidJid(sender.lid) }
    let delivered = 0
    for (const device of devices) {
      const deviceJid = pnJid(target.account.pn, device.id)
      const pending: PendingDelivery = {
        id,
        senderPn: sender.pn,
        message,
        stanzaType,
        attrs,
        notify: sender.name,
      }
      const queue = this.pending.get(deviceJid) ?? new Map<string, PendingDelivery>()
      this.pending.set(deviceJid, queue)
      queue.set(id, pending)
      delivered += await this.deliver(deviceJid, device, pending)
    }
    this.sentMessages.set(id, { id, from: sender.pn, to: target.account.pn, ...remember })
    return { id, devices: delivered }
  }

  /** Encrypts a pending text for one device and sends it to its live sockets; returns how many. */
  private async deliver(
    deviceJid: string,
    device: CompanionDevice,
    pending: PendingDelivery,
  ): Promise<number> {
    const { registry, counters, sockets } = this.context
    const live = sockets.of(deviceJid)
    if (live.size === 0) return 0
    const sender = registry.get(pending.senderPn)
    if (!sender) return 0
    const enc = await registry
      .phoneOf(sender)
      .encrypt(deviceJid, encodeWAMessage(pending.message), () => registry.companionBundle(device))
    for (const connection of live) {
      connection.send({
        tag: 'message',
        attrs: {
          ...pending.attrs,
          id: pending.id,
          t: unixNow(),
          type: pending.stanzaType,
          notify: pending.notify,
        },
        content: [{ tag: 'enc', attrs: { v: '2', type: enc.type }, content: enc.ciphertext }],
      })
      counters.totals.messagesOut++
    }
    return live.size
  }

  /**
   * A device logged in: every text it has not acknowledged goes again, in order, as WhatsApp delivers
   * its offline queue. (The real server replays the stored ciphertext and the sender re-encrypts on a
   * retry receipt; the simulated phone re-encrypts at once, which the client decrypts either way.)
   */
  async redeliver(deviceJid: string, onlyIds?: string[]): Promise<number> {
    const queue = this.pending.get(deviceJid)
    if (!queue || queue.size === 0) return 0
    const found = this.context.registry.resolve(deviceJid)
    const device =
      found && found.device !== 0 ? this.context.registry.companion(found.account, found.device) : undefined
    if (!device || device.removed) {
      this.pending.delete(deviceJid)
      return 0
    }
    let sent = 0
    for (const pending of [...queue.values()]) {
      if (onlyIds && !onlyIds.includes(pending.id)) continue
      sent += await this.deliver(deviceJid, device, pending)
      this.context.counters.totals.redelivered++
    }
    return sent
  }

  /**
   * A device could not decrypt texts and sent a retry receipt. The first time the phone encrypts
   * them again in the session it has; when the device asks again or sends its keys (Baileys does
   * from the second retry on), the phone drops that session and starts a fresh one from the
   * device's prekeys, as a phone does when the two sides' sessions no longer match.
   */
  async answerRetry(deviceJid: string, receipt: BinaryNode): Promise<number> {
    const ids = receiptMessageIds(receipt)
    const count = Number(getBinaryNodeChild(receipt, 'retry')?.attrs.count ?? '1')
    if (count >= 2 || getBinaryNodeChild(receipt, 'keys')) {
      const { registry } = this.context
      const senders = new Set(
        [...(this.pending.get(deviceJid)?.values() ?? [])]
          .filter((pending) => ids.includes(pending.id))
          .map((pending) => pending.senderPn),
      )
      for (const pn of senders) {
        const sender = registry.get(pn)
        if (sender) await registry.phoneOf(sender).forgetSession(deviceJid)
      }
    }
    return this.redeliver(deviceJid, ids)
  }

  /** A device acknowledged messages with a receipt: they leave its offline queue. */
  acknowledged(deviceJid: string, ids: string[]): void {
    const queue = this.pending.get(deviceJid)
    if (!queue) return
    for (const id of ids) queue.delete(id)
    if (queue.size === 0) this.pending.delete(deviceJid)
  }

  /** Texts waiting for an acknowledgement, per device (GET /stats). */
  pendingCount(): number {
    let count = 0
    for (const queue of this.pending.values()) count += queue.size
    return count
  }

  /** A session sends a message: each `<enc>` goes to a phone (decrypted) or to a companion (relayed). */
  async onClientMessage(connection: ClientConnection, node: BinaryNode): Promise<void> {
    const { registry, counters, sockets, logger } = this.context
    const role = connection.role
    if (role.kind !== 'device') return
    // When the stanza reached the server: the inbox's timestamp, so pacing is judged by arrival and not
    // by how long the phone took to decrypt.
    const receivedAt = Date.now()
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
          receivedAt,
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

  /**
   * A contact's phone loses its Signal session with the device that sent it message `id` (a
   * reinstall, a restored backup) and asks that device for the message again, as it does when a
   * message cannot be decrypted. The device answers with the message encrypted afresh, which lands in
   * the inbox a second time.
   */
  async requestRetry(input: { from: unknown; id: unknown }): Promise<{ requested: number }> {
    const { registry } = this.context
    const fromPn = assertPn('from', input.from)
    if (typeof input.id !== 'string' || input.id === '') throw new BadInput('id', 'must be a message id')
    const message = this.inbox.find((m) => m.id === input.id && m.to === fromPn)
    if (!message) throw new NotFound(`no message ${input.id} to ${fromPn} in the inbox`)
    const phoneAccount = registry.get(fromPn)!
    await registry.phoneOf(phoneAccount).forgetSession(message.fromDevice)
    return { requested: this.sendRetryReceipt(phoneAccount, message.fromDevice, message.id) }
  }

  /** Sends the phone's retry receipt for `id` to the sending device's live sockets. */
  private sendRetryReceipt(phoneAccount: Account, senderDeviceJid: string, id: string): number {
    const { registry, sockets, counters } = this.context
    const key = `${phoneAccount.pn}|${id}`
    const count = (this.retries.get(key) ?? 0) + 1
    if (count > MAX_PHONE_RETRIES) return 0
    this.retries.set(key, count)
    const bundle = registry.phoneOf(phoneAccount).takeBundle()
    const node = retryReceipt({ phonePn: phoneAccount.pn, id, count, bundle })
    let sent = 0
    for (const connection of sockets.of(senderDeviceJid)) {
      connection.send(node)
      sent++
    }
    counters.totals.retryReceipts += sent
    return sent
  }

  private async decryptOnPhone(
    phoneAccount: Account,
    senderDeviceJid: string,
    senderPn: string,
    type: 'pkmsg' | 'msg',
    ciphertext: Uint8Array,
    id: string,
    chatAccount: Account | undefined,
    receivedAt: number,
  ): Promise<void> {
    const { registry, counters, logger } = this.context
    let message: proto.Message
    try {
      const plaintext = await registry.phoneOf(phoneAccount).decrypt(senderDeviceJid, type, ciphertext)
      message = proto.Message.decode(unpadRandomMax16(plaintext))
    } catch (err) {
      counters.totals.decryptFailures++
      logger.warn({ err, id, senderDeviceJid, phone: phoneAccount.pn }, 'simulated phone could not decrypt')
      // As a phone does: ask the sender for the message again, with keys for a fresh session.
      this.sendRetryReceipt(phoneAccount, senderDeviceJid, id)
      return
    }
    logger.debug({ id, phone: phoneAccount.pn, message: proto.Message.toObject(message) }, 'phone decrypted')
    // The sender's own phone gets a DeviceSentMessage copy; only the recipient's phone goes in the inbox.
    if (message.deviceSentMessage || phoneAccount.pn === senderPn) return
    if (chatAccount?.pn !== phoneAccount.pn) return
    let decrypted: Awaited<ReturnType<typeof decryptPhoneMedia>>
    try {
      decrypted = await decryptPhoneMedia(this.context.media, message)
    } catch (err) {
      logger.warn({ err, id, phone: phoneAccount.pn }, 'simulated phone could not download the media')
      return
    }
    const content: InboxContent | undefined = decrypted
      ? { text: decrypted.caption ?? '' }
      : inboxContentOf(message)
    if (!content) return
    const poll = knownPollOf(message, senderPn)
    if (poll) this.knownPolls.set(`${phoneAccount.pn}|${id}`, poll)
    this.inbox.push({
      id,
      from: senderPn,
      fromDevice: senderDeviceJid,
      to: phoneAccount.pn,
      ...content,
      ...(decrypted ? { media: decrypted.media } : {}),
      timestamp: receivedAt,
    })
  }
}
