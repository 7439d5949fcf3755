import { createHmac } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { generateWebhookSecret, hubSignature256, signWebhook } from '../../src/index.js'

const body = JSON.stringify({ id: 'evt_1', type: 'messages.upsert', data: { messages: [{ text: 'hé ✓' }] } })

describe('webhook signature', () => {
  it('generates whsec_ secrets of at least 24 random bytes', () => {
    const secret = generateWebhookSecret()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24)
    expect(generateWebhookSecret()).not.toBe(secret)
  })

  it('is accepted by the stock standardwebhooks verifier', () => {
    const secret = generateWebhookSecret()
    const headers = signWebhook({ secret, messageId: 'evt_1', timestamp: new Date(), body })
    expect(headers['webhook-id']).toBe('evt_1')
    expect(headers['webhook-signature']).toMatch(/^v1,/)
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body))
  })

  it('matches the stock library byte for byte', () => {
    const secret = generateWebhookSecret()
    const timestamp = new Date(1_700_000_000_000)
    const ours = signWebhook({ secret, messageId: 'evt_2', timestamp, body })
    expect(ours['webhook-signature']).toBe(new Webhook(secret).sign('evt_2', timestamp, body))
    expect(ours['webhook-timestamp']).toBe('1700000000')
  })

  it('fails verification for a tampered body', () => {
    const secret = generateWebhookSecret()
    const headers = signWebhook({ secret, messageId: 'evt_1', timestamp: new Date(), body })
    expect(() => new Webhook(secret).verify(body.replace('evt_1', 'evt_9'), headers)).toThrow()
  })

  it('fails verification with another secret', () => {
    const headers = signWebhook({
      secret: generateWebhookSecret(),
      messageId: 'evt_1',
      timestamp: new Date(),
      body,
    })
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow()
  })

  it('fails verification for a replayed id or an old timestamp', () => {
    const secret = generateWebhookSecret()
    const headers = signWebhook({ secret, messageId: 'evt_1', timestamp: new Date(), body })
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'evt_other' })).toThrow()
    const old = signWebhook({
      secret,
      messageId: 'evt_1',
      timestamp: new Date(Date.now() - 10 * 60_000),
      body,
    })
    expect(() => new Webhook(secret).verify(body, old)).toThrow(/timestamp/i)
  })

  it('refuses a secret too short to be safe', () => {
    expect(() =>
      signWebhook({
        secret: `whsec_${Buffer.alloc(8).toString('base64')}`,
        messageId: 'x',
        timestamp: new Date(),
        body,
      }),
    ).toThrow(/24 bytes/)
  })

  it('signs with a rotated-out secret too while it is in its grace period', () => {
    const [current, previous, stranger] = [
      generateWebhookSecret(),
      generateWebhookSecret(),
      generateWebhookSecret(),
    ]
    const headers = signWebhook({
      secret: current,
      previousSecrets: [previous],
      messageId: 'evt_1',
      timestamp: new Date(),
      body,
    })
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2)
    expect(() => new Webhook(current).verify(body, headers)).not.toThrow()
    expect(() => new Webhook(previous).verify(body, headers)).not.toThrow()
    expect(() => new Webhook(stranger).verify(body, headers)).toThrow()
  })

  it('X-Hub-Signature-256 is the hex HMAC of the raw body keyed with the secret string as given', () => {
    const secret = generateWebhookSecret()
    expect(hubSignature256(secret, body)).toBe(
      `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    )
    expect(hubSignature256(secret, body)).toMatch(/^sha256=[0-9a-f]{64}$/)
  })
})
