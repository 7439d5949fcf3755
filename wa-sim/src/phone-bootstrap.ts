import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { deflate } from 'node:zlib'
import { encodeWAMessage, generateMessageID, proto } from '@whiskeysockets/baileys'
import { type AccountRegistry, type CompanionDevice, lidJid, pnJid } from './account-registry.js'
import type { ClientConnection } from './client-connection.js'
import type { Counters } from './counters.js'
import { unixNow } from './node-attrs.js'

const deflateAsync = promisify(deflate)

/**
 * What the simulated phone sends a companion after its first login: an app-state sync key share
 * and an inline INITIAL_BOOTSTRAP history sync with push names and PN↔LID mappings of up to 50
 * other accounts. Baileys then finishes its initial sync at once instead of waiting 20 s.
 */
export async function sendPhoneBootstrap(
  { registry, counters }: { registry: AccountRegistry; counters: Counters },
  connection: ClientConnection,
  pn: string,
  device: CompanionDevice,
): Promise<void> {
  const account = registry.get(pn)!
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
  const contacts = registry
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
    const enc = await registry
      .phoneOf(account)
      .encrypt(pnJid(pn, device.id), encodeWAMessage(message), () => registry.companionBundle(device))
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
    counters.totals.messagesOut++
  }
}
