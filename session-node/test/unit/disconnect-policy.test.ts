import { describe, expect, it } from 'vitest'
import { disconnectAction } from '../../src/runner/disconnect-policy.js'

describe('disconnect policy', () => {
  it('515 (restart required, the end of a pairing): a new connection at once, no state recorded', () => {
    expect(disconnectAction({ statusCode: 515, message: 'Stream Errored (restart required)' })).toEqual({
      reconnect: 'now',
    })
  })

  it('440 (replaced): DISCONNECTED and never reconnects, credentials kept', () => {
    expect(disconnectAction({ statusCode: 440, message: 'Stream Errored (conflict)' })).toEqual({
      reconnect: 'never',
      state: 'DISCONNECTED',
      reason: 'replaced: another connection took over this account',
      wipeCredentials: false,
    })
  })

  it.each([401, 403, 419])('%i: LOGGED_OUT with the close message, credentials wiped', (statusCode) => {
    expect(disconnectAction({ statusCode, message: 'Connection Failure' })).toEqual({
      reconnect: 'never',
      state: 'LOGGED_OUT',
      reason: 'Connection Failure',
      wipeCredentials: true,
    })
  })

  it('408 "QR refs attempts ended": EXPIRED, never reconnects, credentials kept', () => {
    expect(disconnectAction({ statusCode: 408, message: 'QR refs attempts ended' })).toEqual({
      reconnect: 'never',
      state: 'EXPIRED',
      reason: 'QR codes expired without a scan',
      wipeCredentials: false,
    })
  })

  it('411 (multi-device mismatch): FAILED with the close message', () => {
    expect(disconnectAction({ statusCode: 411, message: 'Multidevice mismatch' })).toEqual({
      reconnect: 'never',
      state: 'FAILED',
      reason: 'Multidevice mismatch',
      wipeCredentials: false,
    })
  })

  it.each([
    [408, 'Connection was lost'],
    [428, 'Connection Closed'],
    [500, 'Bad MAC'],
    [503, 'Stream Errored (unavailable)'],
    [400, 'a code the table does not name'],
    [undefined, 'connect ECONNREFUSED 127.0.0.1:1'],
  ])('%s: RECONNECTING with backoff, reason the close message', (statusCode, message) => {
    expect(disconnectAction({ statusCode, message })).toEqual({
      reconnect: 'backoff',
      state: 'RECONNECTING',
      reason: message,
    })
  })

  it('tells a QR expiry from other 408s only by the message, in any case', () => {
    expect(disconnectAction({ statusCode: 408, message: 'qr REFS attempts ENDED' })).toMatchObject({
      state: 'EXPIRED',
    })
    expect(disconnectAction({ statusCode: 428, message: 'QR refs attempts ended' })).toMatchObject({
      reconnect: 'backoff',
    })
  })
})
