import { randomInt } from 'node:crypto'
import { Curve, type KeyPair } from '@whiskeysockets/baileys'
import type { ILogger } from '@whiskeysockets/baileys/lib/Utils/logger.js'
import { BadInput, NotFound } from './errors.js'
import { createSimDeviceData, type PreKeyBundle, SimDevice, type SimDeviceData } from './sim-device.js'

/** One uploaded one-time prekey: 3-byte id + 32-byte public key, packed to keep 5,000 devices small. */
const PACKED_PRE_KEY_SIZE = 35
/** The simulator keeps at most this many uploaded one-time prekeys per companion (Baileys uploads 812). */
export const MAX_STORED_PRE_KEYS = 100

/** A Baileys client linked to an account (device 1…n). */
export interface CompanionDevice {
  id: number
  keyIndex: number
  noisePublicKey: Buffer
  identityKey: Buffer
  registrationId: number
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer }
  /** Packed uploaded one-time prekeys (see PACKED_PRE_KEY_SIZE). */
  preKeys: Buffer
  platform: string
  pairedAt: number
  removed: boolean
  /** Whether the phone already sent its app-state keys and history bootstrap to this device. */
  bootstrapped: boolean
}

/** A WhatsApp account: a phone number, a LID, the phone (device 0) and its linked companions. */
export interface Account {
  pn: string
  lid: string
  name: string
  /** The phone's ADV account signing key, which signs every companion's device identity. */
  accountKey: KeyPair
  phone: SimDeviceData
  companions: CompanionDevice[]
  nextDeviceId: number
  nextKeyIndex: number
  createdAt: number
}

const PN_PATTERN = /^[1-9]\d{7,14}$/

/** Splits `user[:device]@server`; the simulator only knows s.whatsapp.net and lid. */
export function parseJid(
  jid: string,
): { user: string; device: number; server: 's.whatsapp.net' | 'lid' } | undefined {
  const match = /^(\d+)(?::(\d+))?@(s\.whatsapp\.net|lid)$/.exec(jid)
  if (!match) return undefined
  return { user: match[1]!, device: Number(match[2] ?? 0), server: match[3] as 's.whatsapp.net' | 'lid' }
}

export function pnJid(pn: string, device = 0): string {
  return device === 0 ? `${pn}@s.whatsapp.net` : `${pn}:${device}@s.whatsapp.net`
}

export function lidJid(lid: string, device = 0): string {
  return device === 0 ? `${lid}@lid` : `${lid}:${device}@lid`
}

/** Validates a phone number field (digits only, 8–15, no leading zero or plus). */
export function assertPn(field: string, value: unknown): string {
  if (typeof value !== 'string' || !PN_PATTERN.test(value)) {
    throw new BadInput(field, 'must be a phone number of 8-15 digits without + (e.g. 6281234567890)')
  }
  return value
}

/** Validates an optional display name field (push name, contact name): at most 100 chars. */
export function optionalName(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value.length > 100)
    throw new BadInput(field, 'must be a string of at most 100 chars')
  return value
}

/** All accounts, indexed by PN and LID, plus the lazily built Signal devices of their phones. */
export class AccountRegistry {
  private readonly byPn = new Map<string, Account>()
  private readonly byLid = new Map<string, Account>()
  private readonly phones = new Map<string, SimDevice>()

  constructor(
    private readonly logger: ILogger,
    private readonly onChange: () => void,
  ) {}

  all(): Account[] {
    return [...this.byPn.values()]
  }

  load(accounts: Account[]): void {
    for (const account of accounts) this.index(account)
  }

  get(pn: string): Account | undefined {
    return this.byPn.get(pn)
  }

  /** The account with that PN, created (with a fresh phone identity and LID) when new. */
  getOrCreate(pn: string, name?: string): Account {
    const existing = this.byPn.get(pn)
    if (existing) {
      if (name && existing.name !== name) {
        existing.name = name
        this.onChange()
      }
      return existing
    }
    const account: Account = {
      pn,
      lid: this.newLid(),
      name: name ?? `Sim ${pn.slice(-4)}`,
      accountKey: Curve.generateKeyPair(),
      phone: createSimDeviceData(),
      companions: [],
      nextDeviceId: 1,
      nextKeyIndex: 1,
      createdAt: Date.now(),
    }
    this.index(account)
    this.onChange()
    return account
  }

  /** Resolves a PN or LID user jid (with or without device) to its account. */
  resolve(jid: string): { account: Account; device: number; server: 's.whatsapp.net' | 'lid' } | undefined {
    const parsed = parseJid(jid)
    if (!parsed) return undefined
    const account = parsed.server === 'lid' ? this.byLid.get(parsed.user) : this.byPn.get(parsed.user)
    return account ? { account, device: parsed.device, server: parsed.server } : undefined
  }

  /** Like resolve, but a 404 for an unknown jid. */
  require(jid: string): { account: Account; device: number } {
    const found = this.resolve(jid)
    if (!found) throw new NotFound(`no account for ${jid}`)
    return found
  }

  phoneOf(account: Account): SimDevice {
    let phone = this.phones.get(account.pn)
    if (!phone) {
      phone = new SimDevice(account.phone, this.logger, this.onChange)
      this.phones.set(account.pn, phone)
    }
    return phone
  }

  companion(account: Account, deviceId: number): CompanionDevice | undefined {
    return account.companions.find((device) => device.id === deviceId)
  }

  activeCompanions(account: Account): CompanionDevice[] {
    return account.companions.filter((device) => !device.removed)
  }

  /** Allocates the next companion slot; the device id and key index only ever grow, as on WhatsApp. */
  addCompanion(
    account: Account,
    fields: Omit<CompanionDevice, 'id' | 'keyIndex' | 'pairedAt' | 'removed' | 'bootstrapped' | 'preKeys'>,
  ): CompanionDevice {
    const device: CompanionDevice = {
      ...fields,
      id: account.nextDeviceId++,
      keyIndex: account.nextKeyIndex++,
      preKeys: Buffer.alloc(0),
      pairedAt: Date.now(),
      removed: false,
      bootstrapped: false,
    }
    account.companions.push(device)
    this.onChange()
    return device
  }

  /** Stores uploaded one-time prekeys (up to MAX_STORED_PRE_KEYS). */
  storePreKeys(device: CompanionDevice, keys: { keyId: number; publicKey: Uint8Array }[]): void {
    const room = MAX_STORED_PRE_KEYS - device.preKeys.length / PACKED_PRE_KEY_SIZE
    const kept = keys.slice(0, Math.max(0, room))
    const packed = Buffer.alloc(kept.length * PACKED_PRE_KEY_SIZE)
    kept.forEach((key, i) => {
      packed.writeUIntBE(key.keyId, i * PACKED_PRE_KEY_SIZE, 3)
      packed.set(key.publicKey.subarray(key.publicKey.length - 32), i * PACKED_PRE_KEY_SIZE + 3)
    })
    device.preKeys = Buffer.concat([device.preKeys, packed])
    this.onChange()
  }

  preKeyCount(device: CompanionDevice): number {
    return device.preKeys.length / PACKED_PRE_KEY_SIZE
  }

  /** The companion's bundle; pops one uploaded one-time prekey, as the real server does. */
  companionBundle(device: CompanionDevice): PreKeyBundle {
    let preKey: PreKeyBundle['preKey']
    if (device.preKeys.length >= PACKED_PRE_KEY_SIZE) {
      preKey = {
        keyId: device.preKeys.readUIntBE(0, 3),
        publicKey: Buffer.from(device.preKeys.subarray(3, PACKED_PRE_KEY_SIZE)),
      }
      device.preKeys = device.preKeys.subarray(PACKED_PRE_KEY_SIZE)
      this.onChange()
    }
    return {
      registrationId: device.registrationId,
      identityKey: device.identityKey,
      signedPreKey: device.signedPreKey,
      preKey,
    }
  }

  /** The bundle of any device of any account: device 0 is the simulated phone. */
  bundleFor(account: Account, deviceId: number): PreKeyBundle | undefined {
    if (deviceId === 0) return this.phoneOf(account).takeBundle()
    const device = this.companion(account, deviceId)
    return device && !device.removed ? this.companionBundle(device) : undefined
  }

  private index(account: Account): void {
    this.byPn.set(account.pn, account)
    this.byLid.set(account.lid, account)
  }

  private newLid(): string {
    // 15 digits like real LIDs; collisions are retried.
    for (;;) {
      const lid = `${randomInt(1, 10)}${String(randomInt(0, 10 ** 7)).padStart(7, '0')}${String(randomInt(0, 10 ** 7)).padStart(7, '0')}`
      if (!this.byLid.has(lid)) return lid
    }
  }
}
