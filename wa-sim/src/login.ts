import { type AccountRegistry, lidJid, pnJid } from './account-registry.js'
import type { ClientConnection } from './client-connection.js'
import type { Counters } from './counters.js'
import type { Faults } from './faults.js'
import type { LiveSockets } from './live-sockets.js'
import type { SimLogger } from './logger.js'
import { SERVER, unixNow } from './node-attrs.js'
import { conflictReplaced, loginFailure } from './stream-errors.js'

/** What a login consults and changes. */
export interface LoginContext {
  registry: AccountRegistry
  counters: Counters
  faults: Faults
  sockets: LiveSockets
  logger: SimLogger
}

/**
 * A linked companion logs in (a passive ClientPayload after the handshake). A refused login gets a
 * `<failure/>`; an accepted one replaces any older socket of the same device, as WhatsApp does.
 */
export function logIn(
  { registry, counters, faults, sockets, logger }: LoginContext,
  connection: ClientConnection,
  pn: string,
  deviceId: number,
  clientStaticKey: Buffer,
): void {
  const deviceJid = pnJid(pn, deviceId)
  const refusal = faults.loginRefusalCode()
  if (refusal !== undefined) {
    counters.loginFailed(deviceJid)
    connection.end(loginFailure(String(refusal)))
    return
  }
  const account = registry.get(pn)
  const device = account && registry.companion(account, deviceId)
  if (!account || !device || device.removed || !device.noisePublicKey.equals(clientStaticKey)) {
    logger.info({ deviceJid, known: !!device, removed: device?.removed }, 'login refused (401)')
    counters.loginFailed(deviceJid)
    connection.end(loginFailure('401'))
    return
  }
  connection.role = { kind: 'device', pn, deviceId, deviceJid }
  for (const older of sockets.logIn(deviceJid, connection)) {
    counters.replacedSocket(deviceJid)
    logger.info({ deviceJid, connection: older.id }, 'second login for device: replacing the older socket')
    older.end(conflictReplaced())
  }
  connection.send({
    tag: 'success',
    attrs: {
      t: unixNow(),
      props: '1',
      abprops: '1',
      location: 'sim',
      creation: String(Math.floor(device.pairedAt / 1000)),
      lid: lidJid(account.lid, deviceId),
    },
  })
  connection.send({
    tag: 'ib',
    attrs: { from: SERVER },
    content: [{ tag: 'offline', attrs: { count: '0' } }],
  })
}
