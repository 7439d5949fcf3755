import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { countRecordedOutcomes, createSessionNodeMetrics } from '../../src/metrics.js'

describe('message outcome metrics', () => {
  it('counts each recorded status change by outcome, without tenant or session labels', async () => {
    const registry = new Registry()
    const metrics = createSessionNodeMetrics(registry, () => 0)
    countRecordedOutcomes(metrics, {
      envelopes: [
        {
          type: 'messages.update',
          data: {
            externalId: 'cust-1',
            updates: [
              { id: 'msg_1', chatId: 'a', status: 'sent' },
              { id: 'msg_2', chatId: 'b', status: 'failed', error: { code: 'not_on_whatsapp', message: '' } },
            ],
          },
        },
        { type: 'connection.update', data: { state: 'CONNECTED' } },
      ],
    })
    countRecordedOutcomes(metrics, {
      envelopes: [
        { type: 'messages.update', data: { updates: [{ id: 'msg_1', chatId: 'a', status: 'read' }] } },
      ],
    })
    countRecordedOutcomes(metrics, undefined)
    const text = await registry.getSingleMetricAsString('wa_message_outcomes_total')
    expect(text).toContain('wa_message_outcomes_total{outcome="sent"} 1')
    expect(text).toContain('wa_message_outcomes_total{outcome="failed"} 1')
    expect(text).toContain('wa_message_outcomes_total{outcome="read"} 1')
    expect(text).not.toMatch(/tenant|session/)
  })
})
