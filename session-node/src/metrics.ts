import type { MessagesUpdateData } from '@wa-cluster/shared'
import { Counter, Gauge, type Registry } from 'prom-client'

/** Session-node metrics. Labels never carry tenant or session ids (unbounded cardinality). */
export type SessionNodeMetrics = {
  transitions: Counter<'state'>
  reconnects: Counter<'status_code'>
  messagesSent: Counter<'outcome'>
  messageOutcomes: Counter<'outcome'>
}

/**
 * Counts the status changes an append recorded (`sent`, `delivered`, `read`, `played`, `failed`): the
 * outcome side of the statistics, per node. No tenant label: tenants are unbounded, and per-tenant
 * numbers are what `GET /v1/tenants/{id}/stats` answers from the store.
 */
export function countRecordedOutcomes(
  metrics: SessionNodeMetrics | undefined,
  result: { envelopes: { type: string; data: unknown }[] } | undefined,
): void {
  if (!metrics || !result) return
  for (const envelope of result.envelopes) {
    if (envelope.type !== 'messages.update') continue
    for (const update of (envelope.data as MessagesUpdateData).updates)
      metrics.messageOutcomes.inc({ outcome: update.status })
  }
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
    messageOutcomes: new Counter({
      name: 'wa_message_outcomes_total',
      help: 'Outbound message status changes this node recorded (sent, delivered, read, played, failed)',
      labelNames: ['outcome'],
      registers,
    }),
  }
}
