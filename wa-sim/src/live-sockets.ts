import type { ClientConnection } from './client-connection.js'
import type { Counters } from './counters.js'

const NONE: ReadonlySet<ClientConnection> = new Set()

/**
 * Every open connection, and the logged-in sockets of each device. A socket counts as live from
 * the moment its login is accepted until its websocket closes; the counters follow that rule.
 */
export class LiveSockets {
  private readonly open = new Set<ClientConnection>()
  private readonly byDevice = new Map<string, Set<ClientConnection>>()

  constructor(private readonly counters: Counters) {}

  /** A freshly upgraded websocket, not logged in yet. */
  add(connection: ClientConnection): void {
    this.open.add(connection)
  }

  /** Makes `connection` a live socket of `deviceJid`; returns the older live sockets of that device. */
  logIn(deviceJid: string, connection: ClientConnection): ClientConnection[] {
    let live = this.byDevice.get(deviceJid)
    if (!live) {
      live = new Set()
      this.byDevice.set(deviceJid, live)
    }
    const older = [...live]
    // Count the new socket before the caller kicks older ones: two logged-in sockets did coexist for a moment.
    this.counters.socketLoggedIn(deviceJid)
    live.add(connection)
    return older
  }

  /** The websocket closed: it is no longer open, nor live for its device. */
  remove(connection: ClientConnection): void {
    this.open.delete(connection)
    const role = connection.role
    if (role.kind === 'device') {
      const live = this.byDevice.get(role.deviceJid)
      if (live?.delete(connection)) {
        this.counters.socketClosed(role.deviceJid)
        if (live.size === 0) this.byDevice.delete(role.deviceJid)
      }
    }
  }

  /** The live sockets of one device (`pn:device@s.whatsapp.net`). */
  of(deviceJid: string): ReadonlySet<ClientConnection> {
    return this.byDevice.get(deviceJid) ?? NONE
  }

  /** Every open connection, logged in or not. */
  all(): IterableIterator<ClientConnection> {
    return this.open.values()
  }

  /** Drops every connection without a close handshake (used by stop()). */
  terminateAll(): void {
    for (const connection of [...this.open]) connection.terminate()
  }
}
