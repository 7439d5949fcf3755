import type { AccountSummary } from './account-summary.js'
import type { ReceivedChatState } from './chat-states.js'
import type { SimStats } from './counters.js'
import type { FaultSettings } from './faults.js'
import type { InboxMessage } from './message-relay.js'
import type { LinkedDevice } from './pairing.js'
import type { PhoneMediaInput } from './phone-media.js'
import type { ReceivedReceipt } from './receipt-relay.js'

/** Reply of setFaults: the faults in force and how many sockets a silence fault hit. */
export interface FaultState {
  frameDelayMs: number
  refuseLogins?: { code: number; untilMs: number | null }
  silenced: number
}

/** The control operations, identical in process (startSimulator) and over HTTP (SimControlClient). */
export interface SimControl {
  /** The phone `phone` scans a QR a session shows → the linked companion's jid and lid. */
  scan(input: { qr: string; phone: string; pushName?: string }): Promise<LinkedDevice>
  /** The phone `phone` enters a pairing code the session got from requestPairingCode(). */
  enterPairingCode(input: { phone: string; code: string; pushName?: string }): Promise<LinkedDevice>
  /** Adds a contact (a simulated phone with a real Signal identity) → its PN and LID jid. */
  addContact(input: { pn: string; name?: string }): Promise<{ pn: string; lid: string }>
  /**
   * Contact (or any account's phone) → session text, or media (encrypted and uploaded to the media
   * server first, as a phone does); `to` is a PN or device jid.
   */
  send(input: {
    from: string
    to: string
    text?: string
    media?: PhoneMediaInput
    addressing?: 'pn' | 'lid'
    id?: string
  }): Promise<{
    id: string
    devices: number
  }>
  /** Contact → session poll (`selectableCount` 0 = any number of options) → its id. */
  sendPoll(input: {
    from: string
    to: string
    question: string
    options: string[]
    selectableCount?: number
    id?: string
  }): Promise<{ id: string; devices: number }>
  /** The contact's vote on poll `pollId` that `to` sent it (`options` `[]` withdraws it). */
  vote(input: {
    from: string
    to: string
    pollId: string
    options: string[]
  }): Promise<{ id: string; devices: number }>
  /** The contact edits text `id` it sent to `to`. */
  edit(input: {
    from: string
    to: string
    id: string
    text: string
  }): Promise<{ id: string; devices: number }>
  /** The contact deletes message `id` it sent to `to` for everyone. */
  revoke(input: { from: string; to: string; id: string }): Promise<{ id: string; devices: number }>
  /** The contact reacts to message `id` that `to` sent it (`emoji` `''` takes the reaction away). */
  react(input: {
    from: string
    to: string
    id: string
    emoji: string
  }): Promise<{ id: string; devices: number }>
  /** A contact's delivery or read receipt for a message the session sent it. */
  receipt(input: {
    from: string
    to: string
    id: string
    type?: 'delivery' | 'read'
  }): Promise<{ delivered: number }>
  /**
   * The contact `from` loses its Signal session with the device that sent it message `id` and asks
   * for the message again (a retry receipt with its keys) → how many sockets were asked.
   */
  requestRetry(input: { from: string; id: string }): Promise<{ requested: number }>
  /** Texts the simulated phones decrypted, optionally only those to `pn`. */
  inbox(pn?: string): Promise<InboxMessage[]>
  /** Receipts sessions sent, optionally for one message id. */
  receipts(id?: string): Promise<ReceivedReceipt[]>
  /** Chat states (typing, recording, paused) sessions sent, optionally only those to `to` (PN or jid). */
  presences(to?: string): Promise<ReceivedChatState[]>
  /** A group of known accounts (contacts, sessions' accounts; the first is its creator) → its jid. */
  createGroup(input: { subject: string; participants: string[] }): Promise<{ jid: string }>
  /**
   * A member's phone sends a text to a group (its own sender key, distributed to every member device)
   * → how many companion sockets it reached.
   */
  sendToGroup(input: { from: string; group: string; text: string; id?: string }): Promise<{
    id: string
    devices: number
  }>
  /** The phone unlinks a companion (`628…:1@s.whatsapp.net`). */
  removeDevice(jid: string): Promise<{ removed: string }>
  /** Closes live sockets of a device jid or of every device of a pn. */
  kick(input: {
    pn?: string
    jid?: string
    mode?: 'replaced' | 'close' | 'system-shutdown'
  }): Promise<{ kicked: number }>
  /** Injects or clears faults. */
  setFaults(settings: FaultSettings): Promise<FaultState>
  /** Counters, with per-device counters keyed by `pn:device@s.whatsapp.net`. */
  stats(): Promise<SimStats>
  /** Accounts, their companions and live socket counts. */
  accounts(): Promise<AccountSummary[]>
}
