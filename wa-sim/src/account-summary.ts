import { type AccountRegistry, lidJid, pnJid } from './account-registry.js'
import type { LiveSockets } from './live-sockets.js'

/** One account as GET /accounts shows it. */
export interface AccountSummary {
  pn: string
  lid: string
  name: string
  devices: { jid: string; lid: string; keyIndex: number; platform: string; removed: boolean; live: number }[]
}

/** Every account with its companions and how many live sockets each has right now. */
export function summarizeAccounts(registry: AccountRegistry, sockets: LiveSockets): AccountSummary[] {
  return registry.all().map((account) => ({
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
        live: sockets.of(jid).size,
      }
    }),
  }))
}
