import { SimError } from './errors.js'
import type { FaultSettings } from './faults.js'
import type { FaultState, SimControl } from './sim-control.js'
import { listenSimulator, type RunningSimulator, type StartSimulatorOptions } from './sim-server.js'

export type { AccountSummary } from './account-summary.js'
export type { ReceivedChatState } from './chat-states.js'
export { SimControlClient, SimControlError } from './control-client.js'
export type { DeviceCounters, SimStats } from './counters.js'
export type { FaultSettings } from './faults.js'
export type { InboxMessage } from './message-relay.js'
export type { LinkedDevice } from './pairing.js'
export type { InboxMedia, PhoneMediaInput, PhoneMediaType } from './phone-media.js'
export type { ReceivedReceipt } from './receipt-relay.js'
export type { FaultState, SimControl } from './sim-control.js'
export type { RunningSimulator, StartSimulatorOptions } from './sim-server.js'

/** An in-process simulator: addresses, `stop()`, and the control operations as typed methods. */
export type SimHandle = Omit<RunningSimulator, 'simulator'> &
  SimControl & { simulator: RunningSimulator['simulator'] }

/** Starts a simulator in this process (port 0 = any free port). Errors of the control methods are SimControlError-like SimErrors. */
export async function startSimulator(options: StartSimulatorOptions = {}): Promise<SimHandle> {
  const running = await listenSimulator(options)
  const sim = running.simulator
  // Async wrappers so in-process and HTTP callers see the same signatures and rejections.
  const call = async <T>(fn: () => T | Promise<T>): Promise<T> => fn()
  return {
    ...running,
    scan: (input) => call(() => sim.scan(input)),
    enterPairingCode: (input) => call(() => sim.enterPairingCode(input)),
    addContact: (input) => call(() => sim.addContact(input)),
    send: (input) => call(() => sim.send(input)),
    receipt: (input) => call(() => sim.receipt(input)),
    sendPoll: (input) => call(() => sim.sendPoll(input)),
    vote: (input) => call(() => sim.vote(input)),
    edit: (input) => call(() => sim.edit(input)),
    revoke: (input) => call(() => sim.revoke(input)),
    react: (input) => call(() => sim.react(input)),
    requestRetry: (input) => call(() => sim.requestRetry(input)),
    inbox: (pn) => call(() => sim.inboxFor(pn)),
    receipts: (id) => call(() => sim.receiptsFor(id)),
    presences: (to) => call(() => sim.presencesFor(to)),
    createGroup: (input) => call(() => sim.createGroup(input)),
    sendToGroup: (input) => call(() => sim.sendToGroup(input)),
    removeDevice: (jid) => call(() => sim.removeDevice({ jid })),
    kick: (input) => call(() => sim.kick(input)),
    setFaults: (settings: FaultSettings) => call((): FaultState => sim.setFaults(settings)),
    stats: () => call(() => sim.stats()),
    accounts: () => call(() => sim.accounts()),
  }
}

export { SimError }
