import { request } from 'undici'
import type { AccountSummary } from './account-summary.js'
import type { ReceivedChatState } from './chat-states.js'
import type { SimStats } from './counters.js'
import type { FaultSettings } from './faults.js'
import type { InboxMessage } from './message-relay.js'
import type { LinkedDevice } from './pairing.js'
import type { ReceivedReceipt } from './receipt-relay.js'
import type { FaultState, SimControl } from './sim-control.js'

/** Error body the control API returns for 4xx/5xx. */
export class SimControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${status} ${code}: ${message}`)
  }
}

/** Typed HTTP client of the control API, for a simulator running in another process. */
export class SimControlClient implements SimControl {
  /** @param controlUrl e.g. `http://127.0.0.1:4000` (the `control` field the CLI prints). */
  constructor(private readonly controlUrl: string) {}

  /** GET /root-key. */
  rootKey(): Promise<{ rootPublicKey: string; url: string; mediaCa: string }> {
    return this.request('GET', '/root-key')
  }
  scan(input: { qr: string; phone: string; pushName?: string }): Promise<LinkedDevice> {
    return this.request('POST', '/scan', input)
  }
  enterPairingCode(input: { phone: string; code: string; pushName?: string }): Promise<LinkedDevice> {
    return this.request('POST', '/pairing-code', input)
  }
  addContact(input: { pn: string; name?: string }): Promise<{ pn: string; lid: string }> {
    return this.request('POST', '/contacts', input)
  }
  send(input: Parameters<SimControl['send']>[0]): Promise<{ id: string; devices: number }> {
    return this.request('POST', '/send', input)
  }
  sendPoll(input: {
    from: string
    to: string
    question: string
    options: string[]
    selectableCount?: number
    id?: string
  }): Promise<{ id: string; devices: number }> {
    return this.request('POST', '/poll', input)
  }
  vote(input: {
    from: string
    to: string
    pollId: string
    options: string[]
  }): Promise<{ id: string; devices: number }> {
    return this.request('POST', '/vote', input)
  }
  edit(input: {
    from: string
    to: string
    id: string
    text: string
  }): Promise<{ id: string; devices: number }> {
    return this.request('POST', '/edit', input)
  }
  revoke(input: { from: string; to: string; id: string }): Promise<{ id: string; devices: number }> {
    return this.request('POST', '/revoke', input)
  }
  react(input: {
    from: string
    to: string
    id: string
    emoji: string
  }): Promise<{ id: string; devices: number }> {
    return this.request('POST', '/react', input)
  }
  receipt(input: {
    from: string
    to: string
    id: string
    type?: 'delivery' | 'read'
  }): Promise<{ delivered: number }> {
    return this.request('POST', '/receipt', input)
  }
  requestRetry(input: { from: string; id: string }): Promise<{ requested: number }> {
    return this.request('POST', '/retry', input)
  }
  inbox(pn?: string): Promise<InboxMessage[]> {
    return this.request('GET', pn ? `/inbox?pn=${encodeURIComponent(pn)}` : '/inbox')
  }
  receipts(id?: string): Promise<ReceivedReceipt[]> {
    return this.request('GET', id ? `/receipts?id=${encodeURIComponent(id)}` : '/receipts')
  }
  presences(to?: string): Promise<ReceivedChatState[]> {
    return this.request('GET', to ? `/presences?to=${encodeURIComponent(to)}` : '/presences')
  }
  createGroup(input: { subject: string; participants: string[] }): Promise<{ jid: string }> {
    return this.request('POST', '/groups', input)
  }
  sendToGroup(input: { from: string; group: string; text: string; id?: string }): Promise<{
    id: string
    devices: number
  }> {
    return this.request('POST', '/groups/send', input)
  }
  removeDevice(jid: string): Promise<{ removed: string }> {
    return this.request('POST', '/remove-device', { jid })
  }
  kick(input: {
    pn?: string
    jid?: string
    mode?: 'replaced' | 'close' | 'system-shutdown'
  }): Promise<{ kicked: number }> {
    return this.request('POST', '/kick', input)
  }
  setFaults(settings: FaultSettings): Promise<FaultState> {
    return this.request('POST', '/faults', settings)
  }
  stats(): Promise<SimStats> {
    return this.request('GET', '/stats')
  }
  accounts(): Promise<AccountSummary[]> {
    return this.request('GET', '/accounts')
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    // undici's request() on its keep-alive pool: load generators call /send hundreds of times a second,
    // and fetch() costs several times more CPU per call.
    const response = await request(`${this.controlUrl}${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const payload = (await response.body.json()) as { error?: { code: string; message: string } }
    if (response.statusCode >= 400) {
      throw new SimControlError(
        response.statusCode,
        payload.error?.code ?? 'unknown',
        payload.error?.message ?? '',
      )
    }
    return payload as T
  }
}
