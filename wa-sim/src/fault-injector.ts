import { type AccountRegistry, assertPn, parseJid, pnJid } from './account-registry.js'
import type { ClientConnection } from './client-connection.js'
import { BadInput, NotFound } from './errors.js'
import type { FaultSettings, Faults } from './faults.js'
import type { LiveSockets } from './live-sockets.js'
import { conflictReplaced, systemShutdown } from './stream-errors.js'

/** What injecting faults consults and changes. */
export interface FaultInjectorContext {
  registry: AccountRegistry
  sockets: LiveSockets
  /** The fault state logins and frames consult. */
  faults: Faults
}

/**
 * Faults on request (POST /faults, POST /kick): refused logins, slow frames, silenced sockets and
 * sockets closed by the server.
 */
export class FaultInjector {
  private readonly silenceTimers = new Set<NodeJS.Timeout>()

  constructor(private readonly context: FaultInjectorContext) {}

  setFaults(settings: FaultSettings): ReturnType<Faults['describe']> & { silenced: number } {
    const { faults, sockets } = this.context
    if (settings.clear) {
      faults.clear()
      for (const timer of this.silenceTimers) clearTimeout(timer)
      this.silenceTimers.clear()
      for (const connection of sockets.all()) connection.silenced = false
    }
    if (settings.refuseLogins) faults.refuseLogins(settings.refuseLogins.code, settings.refuseLogins.forMs)
    if (settings.frameDelayMs !== undefined) faults.frameDelayMs = settings.frameDelayMs
    let silenced = 0
    if (settings.silence) {
      const targets = this.liveConnectionsFor({ jid: settings.silence.jid })
      for (const connection of targets) connection.silenced = true
      silenced = targets.length
      if (settings.silence.forMs !== undefined) {
        const timer = setTimeout(() => {
          this.silenceTimers.delete(timer)
          for (const connection of targets) connection.silenced = false
        }, settings.silence.forMs)
        this.silenceTimers.add(timer)
      }
    }
    return { ...faults.describe(), silenced }
  }

  /** Closes the live sockets of a device (jid) or of every device of an account (pn). */
  kick(input: { pn?: unknown; jid?: unknown; mode?: unknown }): { kicked: number } {
    const mode = input.mode ?? 'replaced'
    if (mode !== 'replaced' && mode !== 'close' && mode !== 'system-shutdown') {
      throw new BadInput('mode', "must be 'replaced', 'close' or 'system-shutdown'")
    }
    const connections = this.liveConnectionsFor(input)
    for (const connection of connections) {
      if (mode === 'close') connection.end()
      else if (mode === 'replaced') connection.end(conflictReplaced())
      else connection.end(systemShutdown())
    }
    return { kicked: connections.length }
  }

  /** Stops the timers that would lift silence faults (used by stop()). */
  stop(): void {
    for (const timer of this.silenceTimers) clearTimeout(timer)
  }

  private liveConnectionsFor(input: { pn?: unknown; jid?: unknown }): ClientConnection[] {
    const { registry, sockets } = this.context
    let deviceJids: string[]
    if (typeof input.jid === 'string') {
      const found = registry.require(input.jid)
      deviceJids =
        parseJid(input.jid)?.device === 0 && !input.jid.includes(':')
          ? found.account.companions.map((device) => pnJid(found.account.pn, device.id))
          : [pnJid(found.account.pn, found.device)]
    } else if (input.pn !== undefined) {
      const pn = assertPn('pn', input.pn)
      const account = registry.get(pn)
      if (!account) throw new NotFound(`no account ${pn}`)
      deviceJids = account.companions.map((device) => pnJid(pn, device.id))
    } else {
      throw new BadInput('jid', 'give a device jid or a pn')
    }
    return deviceJids.flatMap((deviceJid) => [...sockets.of(deviceJid)])
  }
}
