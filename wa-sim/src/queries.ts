import {
  type BinaryNode,
  encodeBigEndian,
  getBinaryNodeChild,
  getBinaryNodeChildBuffer,
  getBinaryNodeChildren,
} from '@whiskeysockets/baileys'
import {
  type Account,
  type AccountRegistry,
  type CompanionDevice,
  lidJid,
  pnJid,
} from './account-registry.js'
import type { ClientConnection } from './client-connection.js'
import type { Groups } from './groups.js'
import { SERVER } from './node-attrs.js'
import type { PreKeyBundle } from './sim-device.js'

const SIGNAL_KEY_TYPE = Buffer.from([5])

function result(node: BinaryNode, content?: BinaryNode[]): BinaryNode {
  return { tag: 'iq', attrs: { from: SERVER, type: 'result', id: node.attrs.id ?? '' }, content }
}

function bytes(node: BinaryNode | undefined): Buffer | undefined {
  return node?.content instanceof Uint8Array ? Buffer.from(node.content) : undefined
}

/**
 * What answering an iq needs beyond the registry: the hooks for iqs that change server state. Kept
 * narrow so this module does not depend on the Simulator that calls it.
 */
export interface QueryContext {
  readonly registry: AccountRegistry
  /** Group metadata (`w:g2`). */
  readonly groups: Groups
  /** The companion a logged-in connection belongs to. */
  deviceOf(connection: ClientConnection): CompanionDevice | undefined
  /** Persisted state changed (a rotated signed prekey). */
  markDirty(): void
  /** A reply (type=result/error) to an iq the simulator sent. */
  onIqReply(connection: ClientConnection, node: BinaryNode): void
  /** The client fetched its key digest: the point after login where the phone may bootstrap it. */
  onDigestAnswered(connection: ClientConnection): void
  /** sock.logout(): the companion unlinks itself. */
  onClientLogout(connection: ClientConnection, jid: string | undefined): void
  /** A stage of linking with a pairing code; the handler sends the reply itself. */
  onLinkCodeStage(connection: ClientConnection, iq: BinaryNode, stage: BinaryNode): void
  /** A query the simulator does not recognise (answered with an empty result afterwards). */
  onUnknownIq(connection: ClientConnection, node: BinaryNode): void
  /** `host:port` of the media server (what `media_conn` answers). */
  readonly mediaHost: string
}

/**
 * Answers every iq a Baileys client sends (wa-protocol.md §3 and §4). Unknown queries still get an
 * empty result, so no client ever waits out its 60 s query timeout.
 */
export function answerIq(sim: QueryContext, connection: ClientConnection, node: BinaryNode): void {
  const xmlns = node.attrs.xmlns
  const type = node.attrs.type
  const child = Array.isArray(node.content) ? node.content[0] : undefined
  // Replies to iqs the simulator sent (pair-device, pair-success) come back as type=result/error.
  if (type === 'result' || type === 'error') {
    sim.onIqReply(connection, node)
    return
  }
  const device = sim.deviceOf(connection)
  switch (`${xmlns}/${type}/${child?.tag ?? ''}`) {
    case 'encrypt/get/count':
      connection.send(
        result(node, [
          { tag: 'count', attrs: { value: String(device ? sim.registry.preKeyCount(device) : 0) } },
        ]),
      )
      return
    case 'encrypt/set/registration':
    case 'encrypt/set/list':
      if (device) storeUpload(sim, device, node)
      connection.send(result(node))
      return
    case 'encrypt/set/rotate': {
      const skey = getBinaryNodeChild(child, 'skey')
      if (device && skey) device.signedPreKey = parseSignedPreKey(skey) ?? device.signedPreKey
      sim.markDirty()
      connection.send(result(node))
      return
    }
    case 'encrypt/get/digest':
      connection.send(result(node, [digestOf(sim, connection)]))
      sim.onDigestAnswered(connection)
      return
    case 'encrypt/get/key':
      connection.send(result(node, [bundleList(sim, child!)]))
      return
    case 'usync/get/usync':
      connection.send(result(node, [usyncResult(sim, child!)]))
      return
    case 'abt/get/props':
      connection.send(result(node, [{ tag: 'props', attrs: { protocol: '1', hash: 'sim' }, content: [] }]))
      return
    case 'blocklist/get/':
      connection.send(result(node, [{ tag: 'list', attrs: {} }]))
      return
    case 'privacy/get/privacy':
      connection.send(result(node, [privacySettings()]))
      return
    case 'w:sync:app:state/set/sync':
      connection.send(result(node, [emptyAppStateSync(child!)]))
      return
    case 'md/set/remove-companion-device':
      sim.onClientLogout(connection, child!.attrs.jid)
      connection.send(result(node))
      return
    case 'md/set/link_code_companion_reg':
      sim.onLinkCodeStage(connection, node, child!)
      return
    case 'w:m/set/media_conn':
      connection.send(
        result(node, [
          {
            tag: 'media_conn',
            attrs: { auth: 'sim', ttl: '3600', auth_ttl: '3600', max_buckets: '1' },
            content: [{ tag: 'host', attrs: { hostname: sim.mediaHost } }],
          },
        ]),
      )
      return
  }
  if (xmlns === 'w:g2' && type === 'get') {
    const role = connection.role
    connection.send(sim.groups.answerQuery(connection, node, role.kind === 'device' ? role.pn : undefined))
    return
  }
  if (
    (xmlns === 'w:p' && child?.tag === 'ping') ||
    xmlns === 'passive' ||
    xmlns === 'w:stats' ||
    xmlns === 'privacy'
  ) {
    connection.send(result(node))
    return
  }
  sim.onUnknownIq(connection, node)
  connection.send(result(node))
}

function parseSignedPreKey(skey: BinaryNode): PreKeyBundle['signedPreKey'] | undefined {
  const id = bytes(getBinaryNodeChild(skey, 'id'))
  const value = bytes(getBinaryNodeChild(skey, 'value'))
  const signature = bytes(getBinaryNodeChild(skey, 'signature'))
  if (!id || !value || !signature) return undefined
  return { keyId: id.readUIntBE(0, id.length), publicKey: value, signature }
}

function storeUpload(sim: QueryContext, device: CompanionDevice, node: BinaryNode): void {
  const registration = getBinaryNodeChildBuffer(node, 'registration')
  const identity = getBinaryNodeChildBuffer(node, 'identity')
  if (registration) device.registrationId = Buffer.from(registration).readUInt32BE(0)
  if (identity) device.identityKey = Buffer.from(identity)
  const skey = getBinaryNodeChild(node, 'skey')
  const signed = skey && parseSignedPreKey(skey)
  if (signed) device.signedPreKey = signed
  const keys = getBinaryNodeChildren(getBinaryNodeChild(node, 'list'), 'key').flatMap((key) => {
    const id = bytes(getBinaryNodeChild(key, 'id'))
    const value = bytes(getBinaryNodeChild(key, 'value'))
    return id && value ? [{ keyId: id.readUIntBE(0, id.length), publicKey: value }] : []
  })
  sim.registry.storePreKeys(device, keys)
}

function digestOf(sim: QueryContext, connection: ClientConnection): BinaryNode {
  const device = sim.deviceOf(connection)
  if (!device) return { tag: 'digest', attrs: {} }
  return {
    tag: 'digest',
    attrs: {},
    content: [
      { tag: 'registration', attrs: {}, content: encodeBigEndian(device.registrationId) },
      { tag: 'type', attrs: {}, content: SIGNAL_KEY_TYPE },
      { tag: 'identity', attrs: {}, content: device.identityKey },
      {
        tag: 'skey',
        attrs: {},
        content: [{ tag: 'id', attrs: {}, content: encodeBigEndian(device.signedPreKey.keyId, 3) }],
      },
    ],
  }
}

function bundleNodes(bundle: PreKeyBundle): BinaryNode[] {
  const nodes: BinaryNode[] = [
    { tag: 'registration', attrs: {}, content: encodeBigEndian(bundle.registrationId) },
    { tag: 'type', attrs: {}, content: SIGNAL_KEY_TYPE },
    { tag: 'identity', attrs: {}, content: bundle.identityKey },
    {
      tag: 'skey',
      attrs: {},
      content: [
        { tag: 'id', attrs: {}, content: encodeBigEndian(bundle.signedPreKey.keyId, 3) },
        { tag: 'value', attrs: {}, content: bundle.signedPreKey.publicKey },
        { tag: 'signature', attrs: {}, content: bundle.signedPreKey.signature },
      ],
    },
  ]
  if (bundle.preKey) {
    nodes.push({
      tag: 'key',
      attrs: {},
      content: [
        { tag: 'id', attrs: {}, content: encodeBigEndian(bundle.preKey.keyId, 3) },
        { tag: 'value', attrs: {}, content: bundle.preKey.publicKey },
      ],
    })
  }
  return nodes
}

function bundleList(sim: QueryContext, keyNode: BinaryNode): BinaryNode {
  const users = getBinaryNodeChildren(keyNode, 'user').map((user): BinaryNode => {
    const jid = user.attrs.jid ?? ''
    const found = sim.registry.resolve(jid)
    const bundle = found && sim.registry.bundleFor(found.account, found.device)
    if (!bundle) {
      return {
        tag: 'user',
        attrs: { jid },
        content: [{ tag: 'error', attrs: { code: '404', text: 'item-not-found' } }],
      }
    }
    return { tag: 'user', attrs: { jid }, content: bundleNodes(bundle) }
  })
  return { tag: 'list', attrs: {}, content: users }
}

function deviceList(sim: QueryContext, account: Account): BinaryNode {
  const devices: BinaryNode[] = [{ tag: 'device', attrs: { id: '0' } }]
  for (const companion of sim.registry.activeCompanions(account)) {
    devices.push({
      tag: 'device',
      attrs: { id: String(companion.id), 'key-index': String(companion.keyIndex) },
    })
  }
  return { tag: 'devices', attrs: {}, content: [{ tag: 'device-list', attrs: {}, content: devices }] }
}

function usyncResult(sim: QueryContext, usync: BinaryNode): BinaryNode {
  const query = getBinaryNodeChild(usync, 'query')
  const protocols = Array.isArray(query?.content) ? query.content.map((protocol) => protocol.tag) : []
  const users = getBinaryNodeChildren(getBinaryNodeChild(usync, 'list'), 'user').map((user): BinaryNode => {
    const phoneQuery = getBinaryNodeChild(user, 'contact')
    if (phoneQuery && !user.attrs.jid) {
      // onWhatsApp(): the user is given by phone number ("+628…").
      const pn = String(phoneQuery.content ?? '').replace(/\D/g, '')
      const account = sim.registry.get(pn)
      return {
        tag: 'user',
        attrs: { jid: pnJid(pn) },
        content: [
          { tag: 'contact', attrs: { type: account ? 'in' : 'out' } },
          ...(account ? [{ tag: 'lid', attrs: { val: lidJid(account.lid) } }] : []),
        ],
      }
    }
    const jid = user.attrs.jid ?? ''
    const account = sim.registry.resolve(jid)?.account
    if (!account) {
      return { tag: 'user', attrs: { jid }, content: [{ tag: 'contact', attrs: { type: 'out' } }] }
    }
    const content: BinaryNode[] = []
    for (const protocol of protocols) {
      if (protocol === 'devices') content.push(deviceList(sim, account))
      else if (protocol === 'lid') content.push({ tag: 'lid', attrs: { val: lidJid(account.lid) } })
      else if (protocol === 'contact') content.push({ tag: 'contact', attrs: { type: 'in' } })
      else if (protocol === 'status')
        content.push({
          tag: 'status',
          attrs: { t: '0' },
          content: Buffer.from('Hey there! I am using WhatsApp.'),
        })
      else if (protocol === 'disappearing_mode')
        content.push({ tag: 'disappearing_mode', attrs: { duration: '0', t: '0' } })
    }
    return { tag: 'user', attrs: { jid }, content }
  })
  return {
    tag: 'usync',
    attrs: usync.attrs,
    content: [
      {
        tag: 'result',
        attrs: {},
        content: protocols.map((protocol) => ({ tag: protocol, attrs: { refresh: '604800' } })),
      },
      { tag: 'list', attrs: {}, content: users },
    ],
  }
}

function privacySettings(): BinaryNode {
  const settings: [string, string][] = [
    ['readreceipts', 'all'],
    ['last', 'all'],
    ['online', 'all'],
    ['profile', 'all'],
    ['status', 'all'],
    ['groupadd', 'all'],
    ['calladd', 'all'],
  ]
  return {
    tag: 'privacy',
    attrs: {},
    content: settings.map(([name, value]) => ({ tag: 'category', attrs: { name, value } })),
  }
}

function emptyAppStateSync(sync: BinaryNode): BinaryNode {
  // No patches and no snapshot: every collection is complete at version 0.
  const collections = getBinaryNodeChildren(sync, 'collection').map((collection) => ({
    tag: 'collection',
    attrs: { name: collection.attrs.name ?? '', version: collection.attrs.version ?? '0' },
  }))
  return { tag: 'sync', attrs: {}, content: collections }
}
