import {
  type AuthenticationCreds,
  addTransactionCapability,
  BufferJSON,
  DEFAULT_CONNECTION_CONFIG,
  generateSignalPubKey,
  getNextPreKeysNode,
  INITIAL_PREKEY_COUNT,
  initAuthCreds,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
} from '@whiskeysockets/baileys'
import pino from 'pino'

/**
 * Records the key-store calls Baileys makes for one session: the pairing's pre-key upload and
 * creds writes, then Signal traffic with a set of contacts. The recording sits where our store sits
 * (under Baileys' `addTransactionCapability`, as in makeWASocket), so replaying it calls a store
 * exactly as a live socket would. Values are kept as BufferJSON text so a replay cannot share objects
 * with the recording.
 */
export type WorkloadOp =
  | { kind: 'get'; category: keyof SignalDataTypeMap; keyIds: string[] }
  | { kind: 'set'; data: string }
  | { kind: 'save-creds'; creds: string }

export type Workload = { ops: WorkloadOp[]; messages: number; contacts: number }

const logger = pino({ level: 'silent' })
const transactionOptions = { maxCommitRetries: 1, delayBetweenTriesMs: 0 }

/** A plain in-memory key store; copies values through BufferJSON like a persistent store would. */
function createMemoryKeyStore(): SignalKeyStore {
  const values = new Map<string, string>()
  return {
    get(category, keyIds) {
      const result: Record<string, any> = {}
      for (const keyId of keyIds) {
        const stored = values.get(`${category}/${keyId}`)
        if (stored !== undefined) result[keyId] = JSON.parse(stored, BufferJSON.reviver)
      }
      return result
    },
    set(data) {
      for (const [category, entries] of Object.entries(data)) {
        for (const [keyId, value] of Object.entries(entries ?? {})) {
          if (value === null || value === undefined) values.delete(`${category}/${keyId}`)
          else values.set(`${category}/${keyId}`, JSON.stringify(value, BufferJSON.replacer))
        }
      }
    },
  }
}

function recordingKeyStore(inner: SignalKeyStore, ops: WorkloadOp[]): SignalKeyStore {
  return {
    async get(category, keyIds) {
      ops.push({ kind: 'get', category, keyIds: [...keyIds] })
      return inner.get(category, keyIds)
    },
    async set(data) {
      ops.push({ kind: 'set', data: JSON.stringify(data, BufferJSON.replacer) })
      return inner.set(data)
    },
  }
}

function createParty(keys: SignalKeyStore, creds: AuthenticationCreds = initAuthCreds()) {
  const transactional = addTransactionCapability(keys, logger as never, transactionOptions)
  const repository = DEFAULT_CONNECTION_CONFIG.makeSignalRepository(
    { creds, keys: transactional },
    logger as never,
  )
  return { creds, keys: transactional, raw: keys, repository }
}

export async function recordWorkload(
  options: { messages?: number; contacts?: number } = {},
): Promise<Workload> {
  const messages = options.messages ?? 1000
  const contacts = options.contacts ?? 20
  const ops: WorkloadOp[] = []
  const backing = createMemoryKeyStore()
  const me = createParty(recordingKeyStore(backing, ops))
  const myJid = '628100000000@s.whatsapp.net'
  const saveCreds = () =>
    ops.push({ kind: 'save-creds', creds: JSON.stringify(me.creds, BufferJSON.replacer) })

  // Pairing: the pre-key upload runs in a key transaction (one batch of 812), then creds are saved
  // after the upload and again when the pairing succeeds and the login completes.
  saveCreds()
  await me.keys.transaction(async () => {
    const { update } = await getNextPreKeysNode({ creds: me.creds, keys: me.keys }, INITIAL_PREKEY_COUNT)
    Object.assign(me.creds, update)
  }, 'upload-pre-keys')
  saveCreds()
  me.creds.me = { id: '628100000000:7@s.whatsapp.net', name: 'bench' }
  me.creds.registered = true
  saveCreds()

  const peers = Array.from({ length: contacts }, (_, index) => ({
    jid: `62820000${String(index).padStart(4, '0')}@s.whatsapp.net`,
    ...createParty(createMemoryKeyStore()),
  }))
  // Each contact starts a session with one of our uploaded pre-keys (what the server hands out).
  for (const [index, peer] of peers.entries()) {
    const preKeyId = index + 1
    const { [preKeyId]: preKey } = await backing.get('pre-key', [`${preKeyId}`])
    if (!preKey) throw new Error(`pre-key ${preKeyId} was not uploaded`)
    await peer.repository.injectE2ESession({
      jid: myJid,
      session: {
        registrationId: me.creds.registrationId,
        identityKey: generateSignalPubKey(me.creds.signedIdentityKey.public),
        signedPreKey: {
          keyId: me.creds.signedPreKey.keyId,
          publicKey: generateSignalPubKey(me.creds.signedPreKey.keyPair.public),
          signature: me.creds.signedPreKey.signature,
        },
        preKey: { keyId: preKeyId, publicKey: generateSignalPubKey(preKey.public) },
      },
    })
  }

  const sentDeviceLists = new Set<string>()
  for (let message = 0; message < messages; message++) {
    const peer = peers[message % contacts]!
    const text = Buffer.from(`message ${message}`)
    // Blocks of `contacts` messages alternate direction; the first block opens every session inbound.
    const inbound = Math.floor(message / contacts) % 2 === 0
    if (inbound) {
      const { type, ciphertext } = await peer.repository.encryptMessage({ jid: myJid, data: text })
      await me.repository.decryptMessage({ jid: peer.jid, type, ciphertext })
    } else {
      // A first send to a contact fetches its devices (USync) and stores the list, as relayMessage does.
      const user = peer.jid.split('@')[0]!
      if (!sentDeviceLists.has(user)) {
        sentDeviceLists.add(user)
        await me.keys.get('device-list', [user])
        await me.keys.set({ 'device-list': { [user]: ['0'] } } satisfies SignalDataSet)
      }
      const { type, ciphertext } = await me.repository.encryptMessage({ jid: peer.jid, data: text })
      await peer.repository.decryptMessage({ jid: myJid, type, ciphertext })
    }
  }
  return { ops, messages, contacts }
}

/** A compact description of a recording, for the benchmark's output. */
export function describeWorkload(workload: Workload): string {
  const counts = new Map<string, number>()
  for (const op of workload.ops) {
    const label =
      op.kind === 'get'
        ? `get ${op.category}`
        : op.kind === 'set'
          ? `set ${Object.keys(JSON.parse(op.data)).join('+')}`
          : 'save creds'
    counts.set(label, (counts.get(label) ?? 0) + 1)
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([label, count]) => `${label} ×${count}`)
    .join(', ')
}
