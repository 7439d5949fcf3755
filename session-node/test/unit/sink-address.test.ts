import { describe, expect, it } from 'vitest'
import { sinkAddress, sinkWord } from '../../src/sinks/publishers.js'

describe('broker sink routing keys / subjects', () => {
  it('is <prefix>.<tenantId>.<sessionId>.<type> with the dots of a type made underscores', () => {
    expect(sinkAddress('wa', { tenantId: 'ten_1', sessionId: 'ses_2', type: 'messages.upsert' })).toBe(
      'wa.ten_1.ses_2.messages_upsert',
    )
    expect(sinkAddress('acme.prod', { tenantId: 't', sessionId: 's', type: 'connection.update' })).toBe(
      'acme.prod.t.s.connection_update',
    )
  })

  it('turns wildcards, spaces and other separators into one safe word', () => {
    expect(sinkWord('a.b*c>d#e f')).toBe('a_b_c_d_e_f')
    expect(sinkWord('')).toBe('_')
    expect(sinkWord('Ok-id_9')).toBe('Ok-id_9')
  })
})
