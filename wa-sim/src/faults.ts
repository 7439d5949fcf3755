import { BadInput } from './errors.js'

/** Faults injected through POST /faults. */
export interface FaultSettings {
  /** Refuse every login with `<failure reason=code/>` for forMs (default: until cleared). */
  refuseLogins?: { code: number; forMs?: number }
  /** Stop sending to and answering the live sockets of jid (a device jid, or a PN for all its devices). */
  silence?: { jid: string; forMs?: number }
  /** Delay every frame the simulator sends by this many ms (0 turns it off). */
  frameDelayMs?: number
  /** Drop all faults first. */
  clear?: boolean
}

/** The fault state the connections consult; expiry is checked lazily so no timers are needed. */
export class Faults {
  frameDelayMs = 0
  private refuse: { code: number; until: number } | undefined

  /** The failure code a login gets right now, if logins are being refused. */
  loginRefusalCode(now = Date.now()): number | undefined {
    if (!this.refuse) return undefined
    if (now >= this.refuse.until) {
      this.refuse = undefined
      return undefined
    }
    return this.refuse.code
  }

  refuseLogins(code: number, forMs: number | undefined): void {
    this.refuse = { code, until: forMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + forMs }
  }

  clear(): void {
    this.frameDelayMs = 0
    this.refuse = undefined
  }

  describe(): { refuseLogins?: { code: number; untilMs: number | null }; frameDelayMs: number } {
    const code = this.loginRefusalCode()
    return {
      frameDelayMs: this.frameDelayMs,
      ...(code !== undefined && this.refuse
        ? { refuseLogins: { code, untilMs: Number.isFinite(this.refuse.until) ? this.refuse.until : null } }
        : {}),
    }
  }
}

/** Validates a POST /faults body. */
export function parseFaultSettings(body: unknown): FaultSettings {
  if (typeof body !== 'object' || body === null) throw new BadInput('body', 'must be a JSON object')
  const input = body as Record<string, unknown>
  const settings: FaultSettings = {}
  if (input.clear !== undefined) {
    if (typeof input.clear !== 'boolean') throw new BadInput('clear', 'must be a boolean')
    settings.clear = input.clear
  }
  if (input.refuseLogins !== undefined) {
    const refuse = input.refuseLogins as Record<string, unknown>
    if (typeof refuse !== 'object' || refuse === null) throw new BadInput('refuseLogins', 'must be an object')
    if (!Number.isInteger(refuse.code) || (refuse.code as number) < 400 || (refuse.code as number) > 599) {
      throw new BadInput('refuseLogins.code', 'must be an integer 400-599')
    }
    settings.refuseLogins = {
      code: refuse.code as number,
      forMs: optionalMs('refuseLogins.forMs', refuse.forMs),
    }
  }
  if (input.silence !== undefined) {
    const silence = input.silence as Record<string, unknown>
    if (typeof silence !== 'object' || silence === null) throw new BadInput('silence', 'must be an object')
    if (typeof silence.jid !== 'string' || silence.jid === '')
      throw new BadInput('silence.jid', 'must be a jid')
    settings.silence = { jid: silence.jid, forMs: optionalMs('silence.forMs', silence.forMs) }
  }
  if (input.frameDelayMs !== undefined) settings.frameDelayMs = optionalMs('frameDelayMs', input.frameDelayMs)
  return settings
}

function optionalMs(field: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 3_600_000) {
    throw new BadInput(field, 'must be a number of milliseconds 0-3600000')
  }
  return value
}
