import { describe, expect, it } from 'vitest'
import { MESSAGE_ERROR_CODES, messageError, messageErrorOf } from '../../src/message-errors.js'

describe('message errors', () => {
  it('gives each code its standard message unless a precise one is given', () => {
    expect(messageError('not_on_whatsapp')).toEqual({
      code: 'not_on_whatsapp',
      message: MESSAGE_ERROR_CODES.not_on_whatsapp,
    })
    expect(messageError('send_failed', 'the quoted message msg_1 was never sent')).toEqual({
      code: 'send_failed',
      message: 'the quoted message msg_1 was never sent',
    })
  })

  it('reads a stored row, including one written before codes were stored', () => {
    expect(messageErrorOf(null, null)).toBeNull()
    expect(messageErrorOf('rejected_by_whatsapp', 'WhatsApp reported an error for this message')).toEqual({
      code: 'rejected_by_whatsapp',
      message: 'WhatsApp reported an error for this message',
    })
    expect(messageErrorOf(null, 'not_on_whatsapp')).toEqual(messageError('not_on_whatsapp'))
    expect(messageErrorOf(null, 'Connection Closed')).toEqual({
      code: 'send_failed',
      message: 'Connection Closed',
    })
  })
})
