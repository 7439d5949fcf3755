import { type AccountRegistry, assertPn, lidJid, optionalName, pnJid } from './account-registry.js'
import { BadInput, NotFound } from './errors.js'
import type { LiveSockets } from './live-sockets.js'
import { deviceRemoved } from './stream-errors.js'

// What the simulated phones do on request: a contact is an account whose only device is its phone,
// and an account's phone can unlink any of its companions.

/** What unlinking a companion consults and changes. */
export interface PhoneContext {
  registry: AccountRegistry
  sockets: LiveSockets
  /** Persisted state changed. */
  markDirty: () => void
}

/** Adds (or renames) a contact: an account whose only device is its simulated phone. */
export function addContact(
  registry: AccountRegistry,
  input: { pn: unknown; name?: unknown },
): { pn: string; lid: string } {
  const pn = assertPn('pn', input.pn)
  const account = registry.getOrCreate(pn, optionalName('name', input.name))
  return { pn: account.pn, lid: lidJid(account.lid) }
}

/** The phone unlinks a companion: its live socket gets 401 device_removed, later logins fail 401. */
export function removeDevice(
  { registry, sockets, markDirty }: PhoneContext,
  input: { jid: unknown },
): { removed: string } {
  if (typeof input.jid !== 'string')
    throw new BadInput('jid', 'must be a companion jid like 628…:1@s.whatsapp.net')
  const found = registry.require(input.jid)
  if (found.device === 0)
    throw new BadInput('jid', 'must name a companion device (…:N@s.whatsapp.net), not the phone')
  const device = registry.companion(found.account, found.device)
  if (!device) throw new NotFound(`no device ${input.jid}`)
  device.removed = true
  markDirty()
  const deviceJid = pnJid(found.account.pn, device.id)
  for (const connection of sockets.of(deviceJid)) connection.end(deviceRemoved())
  return { removed: deviceJid }
}
