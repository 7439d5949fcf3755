/** Socket and login counters of one companion device (key: `pn:device@s.whatsapp.net`). */
export interface DeviceCounters {
  logins: number
  loginFailures: number
  /** Times a newer login made the simulator send this device's older socket `conflict replaced`. */
  replaced: number
  /** Logged-in sockets whose websocket has not closed yet. */
  live: number
  /** Most logged-in sockets ever open at once for this device (the "never two sockets" oracle). */
  maxConcurrent: number
}

/** Whole-simulator figures returned by GET /stats. */
export interface SimStats {
  connections: number
  handshakes: number
  logins: number
  loginFailures: number
  replaced: number
  /** Logged-in sockets right now. */
  online: number
  /** Highest `maxConcurrent` over all devices. */
  maxConcurrentPerDevice: number
  qrsIssued: number
  pairings: number
  pairingCodeLinks: number
  messagesIn: number
  messagesOut: number
  /** Texts sent again at a device's login because it had not acknowledged them (offline queue). */
  redelivered: number
  receiptsIn: number
  receiptsOut: number
  unknownIqs: number
  decryptFailures: number
  /** Retry receipts the simulated phones sent (a text they could not decrypt, asked for again). */
  retryReceipts: number
  /** Texts sent to companions and not acknowledged yet (their offline queues), right now. */
  unacknowledged?: number
  perDevice?: Record<string, DeviceCounters>
}

/** Counts everything the tests and the benchmark assert on. Plain numbers; no timers. */
export class Counters {
  readonly totals: Omit<SimStats, 'perDevice' | 'maxConcurrentPerDevice' | 'online'> = {
    connections: 0,
    handshakes: 0,
    logins: 0,
    loginFailures: 0,
    replaced: 0,
    qrsIssued: 0,
    pairings: 0,
    pairingCodeLinks: 0,
    messagesIn: 0,
    messagesOut: 0,
    redelivered: 0,
    receiptsIn: 0,
    receiptsOut: 0,
    unknownIqs: 0,
    decryptFailures: 0,
    retryReceipts: 0,
  }
  private readonly devices = new Map<string, DeviceCounters>()
  private online = 0
  private maxConcurrentPerDevice = 0

  device(deviceJid: string): DeviceCounters {
    let counters = this.devices.get(deviceJid)
    if (!counters) {
      counters = { logins: 0, loginFailures: 0, replaced: 0, live: 0, maxConcurrent: 0 }
      this.devices.set(deviceJid, counters)
    }
    return counters
  }

  /** A login was accepted: the socket counts as live until its websocket closes. */
  socketLoggedIn(deviceJid: string): void {
    const counters = this.device(deviceJid)
    counters.logins++
    counters.live++
    counters.maxConcurrent = Math.max(counters.maxConcurrent, counters.live)
    this.maxConcurrentPerDevice = Math.max(this.maxConcurrentPerDevice, counters.live)
    this.totals.logins++
    this.online++
  }

  socketClosed(deviceJid: string): void {
    const counters = this.device(deviceJid)
    counters.live--
    this.online--
  }

  loginFailed(deviceJid: string | undefined): void {
    this.totals.loginFailures++
    if (deviceJid) this.device(deviceJid).loginFailures++
  }

  replacedSocket(deviceJid: string): void {
    this.device(deviceJid).replaced++
    this.totals.replaced++
  }

  snapshot(includePerDevice: boolean): SimStats {
    const stats: SimStats = {
      ...this.totals,
      online: this.online,
      maxConcurrentPerDevice: this.maxConcurrentPerDevice,
    }
    if (includePerDevice) stats.perDevice = Object.fromEntries(this.devices)
    return stats
  }
}
