import { Counter, Gauge, type Registry } from 'prom-client'

/** Session-node metrics. Labels never carry tenant or session ids (unbounded cardinality). */
export type SessionNodeMetrics = {
  transitions: Counter<'state'>
  reconnects: Counter<'status_code'>
  messagesSent: Counter<'outcome'>
}

export function createSessionNodeMetrics(
  registry: Registry | undefined,
  ownedSessions: () => number,
): SessionNodeMetrics {
  const registers = registry ? [registry] : []
  new Gauge({
    name: 'wa_sessions_owned',
    help: 'Sessions this node holds a lease and a runner for',
    registers,
    collect() {
      this.set(ownedSessions())
    },
  })
  return {
    transitions: new Counter({
      name: 'wa_session_state_transitions_total',
      help: 'Session state changes recorded by this node, by new state',
      labelNames: ['state'],
      registers,
    }),
    reconnects: new Counter({
      name: 'wa_session_reconnects_total',
      help: 'Sockets closed and scheduled to reconnect, by Baileys close code',
      labelNames: ['status_code'],
      registers,
    }),
    messagesSent: new Counter({
      name: 'wa_messages_sent_total',
      help: 'Outbound messages handed to WhatsApp, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
  }
}
