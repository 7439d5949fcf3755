import { randomInt } from 'node:crypto'
import {
  type BinaryNode,
  encodeWAMessage,
  generateMessageID,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  proto,
  unpadRandomMax16,
} from '@whiskeysockets/baileys'
import { type Account, type AccountRegistry, assertPn, pnJid } from './account-registry.js'
import type { ClientConnection } from './client-connection.js'
import type { Counters } from './counters.js'
import { BadInput, NotFound } from './errors.js'
import type { LiveSockets } from './live-sockets.js'
import type { SimLogger } from './logger.js'
import type { InboxMessage } from './message-relay.js'
import { unixNow } from './node-attrs.js'

/** A group the control API made (POST /groups). Not persisted: groups last as long as the process. */
export interface SimGroup {
  /** `1203630…@g.us`. */
  jid: string
  subject: string
  /** Member PNs; the first is the creator (super admin). */
  participants: string[]
  creation: number
}

const MAX_SUBJECT_LENGTH = 100
const MAX_PARTICIPANTS = 256

/** What group messaging consults and changes. */
export interface GroupContext {
  registry: AccountRegistry
  counters: Counters
  sockets: LiveSockets
  logger: SimLogger
  /** Where the simulated phones put the texts they decrypted. */
  inbox: InboxMessage[]
}

/**
 * Groups: their metadata as the server answers `w:g2` queries, and their messages. A group message is
 * one sender-key ciphertext (`skmsg`) for every member device plus, for devices that lack the sender's
 * key, a pairwise-encrypted sender-key distribution message; the server fans both out per device.
 * Simulated phones decrypt theirs into the inbox; companions get the stanza as WhatsApp relays it
 * (`from` = the group, `participant` = the sending device).
 */
export class Groups {
  private readonly groups = new Map<string, SimGroup>()

  constructor(private readonly context: GroupContext) {}

  /** POST /groups: a group of known accounts (contacts or sessions' accounts). */
  create(input: { subject: unknown; participants: unknown }): { jid: string } {
    if (
      typeof input.subject !== 'string' ||
      input.subject.trim() === '' ||
      input.subject.length > MAX_SUBJECT_LENGTH
    )
      throw new BadInput('subject', `must be a non-empty string of at most ${MAX_SUBJECT_LENGTH} characters`)
    if (!Array.isArray(input.participants) || input.participants.length === 0)
      throw new BadInput('participants', 'must be a non-empty array of phone numbers')
    if (input.participants.length > MAX_PARTICIPANTS)
      throw new BadInput('participants', `must hold at most ${MAX_PARTICIPANTS} numbers`)
    const participants = [
      ...new Set(input.participants.map((pn, index) => assertPn(`participants.${index}`, pn))),
    ]
    for (const pn of participants) {
      if (!this.context.registry.get(pn))
        throw new NotFound(`no account or contact ${pn}; add it with POST /contacts`)
    }
    let jid: string
    do jid = `1203630${String(randomInt(10 ** 11)).padStart(11, '0')}@g.us`
    while (this.groups.has(jid))
    this.groups.set(jid, {
      jid,
      subject: input.subject,
      participants,
      creation: Math.floor(Date.now() / 1000),
    })
    return { jid }
  }

  get(jid: string): SimGroup | undefined {
    return this.groups.get(jid)
  }

  /** The `<group>` node of `w:g2` answers (PN addressing; the creator is super admin). */
  metadataNode(group: SimGroup): BinaryNode {
    const creator = pnJid(group.participants[0]!)
    return {
      tag: 'group',
      attrs: {
        id: group.jid.split('@')[0]!,
        subject: group.subject,
        s_t: String(group.creation),
        s_o: creator,
        creation: String(group.creation),
        creator,
        size: String(group.participants.length),
        addressing_mode: 'pn',
      },
      content: group.participants.map((pn, index) => ({
        tag: 'participant',
        attrs: { jid: pnJid(pn), ...(index === 0 ? { type: 'superadmin' } : {}) },
      })),
    }
  }

  /** `w:g2` iqs: participating groups (`to='@g.us'`) and one group's metadata (`to=<group>`). */
  answerQuery(connection: ClientConnection, iq: BinaryNode, memberPn: string | undefined): BinaryNode {
    const child = Array.isArray(iq.content) ? iq.content[0] : undefined
    const reply = (content: BinaryNode[], type = 'result'): BinaryNode => ({
      tag: 'iq',
      attrs: { from: iq.attrs.to ?? '@g.us', type, id: iq.attrs.id ?? '' },
      content,
    })
    if (child?.tag === 'participating') {
      const mine = [...this.groups.values()].filter(
        (group) => memberPn && group.participants.includes(memberPn),
      )
      return reply([{ tag: 'groups', attrs: {}, content: mine.map((group) => this.metadataNode(group)) }])
    }
    const group = this.groups.get(iq.attrs.to ?? '')
    if (child?.tag === 'query' && group && memberPn && group.participants.includes(memberPn))
      return reply([this.metadataNode(group)])
    this.context.logger.debug(
      { connection: connection.id, to: iq.attrs.to, child: child?.tag },
      'w:g2 refused',
    )
    return reply(
      [
        {
          tag: 'error',
          attrs: { code: group ? '403' : '404', text: group ? 'forbidden' : 'item-not-found' },
        },
      ],
      'error',
    )
  }

  /**
   * A session's group message: the `skmsg` goes to every other member device, each with its
   * sender-key distribution message when the client sent one for that device.
   */
  async onClientGroupMessage(connection: ClientConnection, node: BinaryNode, group: SimGroup): Promise<void> {
    const { registry, counters, sockets } = this.context
    const role = connection.role
    if (role.kind !== 'device') return
    const sender = registry.get(role.pn)!
    const id = node.attrs.id ?? ''
    const skmsg = getBinaryNodeChildren(node, 'enc').find((enc) => enc.attrs.type === 'skmsg')
    const distributions = new Map<string, BinaryNode>()
    for (const to of getBinaryNodeChildren(getBinaryNodeChild(node, 'participants'), 'to')) {
      const enc = getBinaryNodeChild(to, 'enc')
      const found = to.attrs.jid ? registry.resolve(to.attrs.jid) : undefined
      if (enc && found) distributions.set(pnJid(found.account.pn, found.device), enc)
    }
    const deviceIdentity = getBinaryNodeChild(node, 'device-identity')
    if (skmsg?.content instanceof Uint8Array) {
      for (const memberPn of group.participants) {
        const member = registry.get(memberPn)
        if (!member) continue
        // The phone (device 0) decrypts; a member's own phone keeps no inbox copy of its own messages.
        if (member.pn !== sender.pn) {
          await this.decryptOnPhone(
            member,
            group,
            role.deviceJid,
            sender,
            id,
            distributions.get(pnJid(member.pn)),
            skmsg.content,
          )
        }
        for (const device of registry.activeCompanions(member)) {
          const deviceJid = pnJid(member.pn, device.id)
          if (deviceJid === role.deviceJid) continue
          const distribution = distributions.get(deviceJid)
          const relay: BinaryNode = {
            tag: 'message',
            attrs: {
              from: group.jid,
              participant: role.deviceJid,
              id,
              t: unixNow(),
              type: node.attrs.type ?? 'text',
              notify: sender.name,
              addressing_mode: 'pn',
            },
            content: [
              ...(distribution ? [distribution] : []),
              skmsg,
              ...(distribution && deviceIdentity ? [deviceIdentity] : []),
            ],
          }
          for (const target of sockets.of(deviceJid)) {
            target.send(relay)
            counters.totals.messagesOut++
          }
        }
      }
    }
    counters.totals.messagesIn++
    connection.send({ tag: 'ack', attrs: { class: 'message', id, from: group.jid, t: unixNow() } })
  }

  /**
   * POST /groups/send: a member's phone sends a text to the group. It encrypts it once with its own
   * sender key and sends each member device the key (pairwise) with the ciphertext.
   */
  async sendFromPhone(input: { from: unknown; group: unknown; text: unknown; id?: unknown }): Promise<{
    id: string
    devices: number
  }> {
    const { registry, counters, sockets } = this.context
    const fromPn = assertPn('from', input.from)
    if (typeof input.group !== 'string') throw new BadInput('group', 'must be a group jid (…@g.us)')
    if (typeof input.text !== 'string' || input.text === '')
      throw new BadInput('text', 'must be a non-empty string')
    if (input.id !== undefined && (typeof input.id !== 'string' || input.id === ''))
      throw new BadInput('id', 'must be a string')
    const group = this.groups.get(input.group)
    if (!group) throw new NotFound(`no group ${input.group}`)
    if (!group.participants.includes(fromPn)) throw new NotFound(`${fromPn} is not a member of ${group.jid}`)
    const sender = registry.get(fromPn)!
    const phone = registry.phoneOf(sender)
    const senderJid = pnJid(sender.pn)
    const id = (input.id as string | undefined) ?? generateMessageID()
    const { ciphertext, senderKeyDistributionMessage } = await phone.signal().encryptGroupMessage({
      group: group.jid,
      meId: senderJid,
      data: encodeWAMessage({ conversation: input.text }),
    })
    const distribution = encodeWAMessage({
      senderKeyDistributionMessage: {
        groupId: group.jid,
        axolotlSenderKeyDistributionMessage: senderKeyDistributionMessage,
      },
    })
    let devices = 0
    for (const memberPn of group.participants) {
      if (memberPn === fromPn) continue
      const member = registry.get(memberPn)
      if (!member) continue
      const memberPhoneJid = pnJid(member.pn)
      const toPhone = await phone.encrypt(memberPhoneJid, distribution, () => registry.bundleFor(member, 0))
      await this.decryptOnPhone(member, group, senderJid, sender, id, encNode(toPhone), ciphertext)
      for (const device of registry.activeCompanions(member)) {
        const deviceJid = pnJid(member.pn, device.id)
        const live = sockets.of(deviceJid)
        if (live.size === 0) continue
        const enc = await phone.encrypt(deviceJid, distribution, () => registry.companionBundle(device))
        const relay: BinaryNode = {
          tag: 'message',
          attrs: {
            from: group.jid,
            participant: senderJid,
            id,
            t: unixNow(),
            type: 'text',
            notify: sender.name,
            addressing_mode: 'pn',
          },
          content: [encNode(enc), { tag: 'enc', attrs: { v: '2', type: 'skmsg' }, content: ciphertext }],
        }
        for (const target of live) {
          target.send(relay)
          counters.totals.messagesOut++
          devices++
        }
      }
    }
    return { id, devices }
  }

  /** A member's phone takes the sender key (when given) and decrypts the group text into the inbox. */
  private async decryptOnPhone(
    member: Account,
    group: SimGroup,
    senderDeviceJid: string,
    sender: Account,
    id: string,
    distribution: BinaryNode | undefined,
    skmsg: Uint8Array,
  ): Promise<void> {
    const { registry, counters, logger } = this.context
    const phone = registry.phoneOf(member)
    try {
      const type = distribution?.attrs.type
      if (distribution?.content instanceof Uint8Array && (type === 'pkmsg' || type === 'msg')) {
        const plaintext = await phone.decrypt(senderDeviceJid, type, distribution.content)
        const item = proto.Message.decode(unpadRandomMax16(plaintext)).senderKeyDistributionMessage
        if (item)
          await phone.signal().processSenderKeyDistributionMessage({ item, authorJid: senderDeviceJid })
      }
      const plaintext = await phone
        .signal()
        .decryptGroupMessage({ group: group.jid, authorJid: senderDeviceJid, msg: skmsg })
      const message = proto.Message.decode(unpadRandomMax16(plaintext))
      const text = message.conversation || message.extendedTextMessage?.text
      if (!text) return
      const context = message.extendedTextMessage?.contextInfo
      this.context.inbox.push({
        id,
        from: sender.pn,
        fromDevice: senderDeviceJid,
        to: member.pn,
        group: group.jid,
        text,
        ...(context?.stanzaId
          ? { quoted: { id: context.stanzaId, participant: context.participant ?? '' } }
          : {}),
        timestamp: Date.now(),
      })
    } catch (err) {
      counters.totals.decryptFailures++
      logger.warn(
        { err, id, senderDeviceJid, phone: member.pn, group: group.jid },
        'simulated phone could not decrypt a group message',
      )
    }
  }
}

function encNode(enc: { type: 'pkmsg' | 'msg'; ciphertext: Uint8Array }): BinaryNode {
  return { tag: 'enc', attrs: { v: '2', type: enc.type }, content: enc.ciphertext }
}
