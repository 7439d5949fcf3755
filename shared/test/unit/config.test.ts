import { describe, expect, it } from 'vitest'
import { ConfigError, configuredEventSinks, maskUrlCredentials, parseConfig } from '../../src/config.js'
import { generateSecretBoxKey } from '../../src/secret-box.js'

describe('parseConfig', () => {
  it('applies the documented defaults for the embedded mode', () => {
    const config = parseConfig({}, 'all-in-one')
    expect(config.PORT).toBe(8080)
    expect(config.DEFAULT_COUNTRY_CODE).toBe('ID')
    expect(config.DATA_DIR).toBe('./.wa-cluster')
    expect(config.WA_SIM).toBe(false)
    expect(config.HOST).toBe('127.0.0.1')
    expect(config.METRICS_PORT).toBeUndefined()
    expect(config.TENANT_MAX_SESSIONS).toBe(100)
    expect(config.TENANT_REQUESTS_PER_MINUTE).toBe(1200)
  })

  it('reads ALLOW_PRIVATE_NETWORKS (empty by default) and stops on an entry that is not a CIDR or a name', () => {
    expect(parseConfig({}, 'all-in-one').ALLOW_PRIVATE_NETWORKS).toBe('')
    expect(
      parseConfig({ ALLOW_PRIVATE_NETWORKS: '10.0.0.0/8,hooks.corp' }, 'all-in-one').ALLOW_PRIVATE_NETWORKS,
    ).toBe('10.0.0.0/8,hooks.corp')
    expect(() => parseConfig({ ALLOW_PRIVATE_NETWORKS: '10.0.0.0/40' }, 'all-in-one')).toThrow(
      /^invalid configuration: ALLOW_PRIVATE_NETWORKS must list CIDRs or host names: .*10\.0\.0\.0\/40/,
    )
  })

  it('refuses a METRICS_PORT equal to PORT', () => {
    expect(() => parseConfig({ PORT: '9000', METRICS_PORT: '9000' }, 'all-in-one')).toThrow(
      /METRICS_PORT must differ from PORT/,
    )
    expect(parseConfig({ METRICS_PORT: '9464' }, 'all-in-one').METRICS_PORT).toBe(9464)
  })

  it('reads PUBLIC_URL as an origin and stops on one with a path or another scheme', () => {
    expect(parseConfig({}, 'all-in-one').PUBLIC_URL).toBeUndefined()
    expect(parseConfig({ PUBLIC_URL: 'https://WA.example.com/' }, 'all-in-one').PUBLIC_URL).toBe(
      'https://wa.example.com',
    )
    expect(() => parseConfig({ PUBLIC_URL: 'https://wa.example.com/gateway' }, 'all-in-one')).toThrow(
      /PUBLIC_URL must be an http:\/\/ or https:\/\/ origin, without a path/,
    )
    expect(() => parseConfig({ PUBLIC_URL: 'javascript:alert(1)' }, 'all-in-one')).toThrow(/PUBLIC_URL/)
  })

  it('reads DEFAULT_COUNTRY_CODE as an ISO country or a calling code, as the ISO code', () => {
    expect(parseConfig({ DEFAULT_COUNTRY_CODE: 'MY' }, 'all-in-one').DEFAULT_COUNTRY_CODE).toBe('MY')
    expect(parseConfig({ DEFAULT_COUNTRY_CODE: '1' }, 'all-in-one').DEFAULT_COUNTRY_CODE).toBe('US')
    expect(() => parseConfig({ DEFAULT_COUNTRY_CODE: 'Indonesia' }, 'all-in-one')).toThrow(
      /DEFAULT_COUNTRY_CODE must be an ISO 3166 alpha-2 country/,
    )
  })

  it('stops on a bad value with one line naming the variable', () => {
    expect(() => parseConfig({ PORT: 'eighty' }, 'all-in-one')).toThrow(ConfigError)
    expect(() => parseConfig({ PORT: 'eighty' }, 'all-in-one')).toThrow(
      /^invalid configuration: PORT .*"eighty"/,
    )
    expect(() => parseConfig({ DATABASE_URL: 'mysql://x' }, 'all-in-one')).toThrow(
      /DATABASE_URL must be a postgres/,
    )
  })

  it('never echoes a secret in the error', () => {
    try {
      parseConfig({ AUTH_STATE_KEY: 'not-a-key-but-secret' }, 'all-in-one')
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message).toMatch(/AUTH_STATE_KEY/)
      expect((error as Error).message).not.toContain('not-a-key-but-secret')
    }
  })

  it('requires Postgres, Redis and the keys for cluster roles', () => {
    expect(() => parseConfig({}, 'session-node')).toThrow(/DATABASE_URL is required/)
    const cluster = { DATABASE_URL: 'postgres://x/y', REDIS_URL: 'redis://127.0.0.1:6379' }
    expect(() => parseConfig(cluster, 'session-node')).toThrow(/AUTH_STATE_KEY is required/)
    expect(() =>
      parseConfig({ ...cluster, AUTH_STATE_KEY: generateSecretBoxKey() }, 'control-plane'),
    ).toThrow(/ADMIN_API_KEY/)
    expect(
      parseConfig({ ...cluster, AUTH_STATE_KEY: generateSecretBoxKey() }, 'session-node').REDIS_URL,
    ).toBe(cluster.REDIS_URL)
  })

  it('treats empty strings as unset', () => {
    expect(parseConfig({ PORT: '', REDIS_URL: '' }, 'all-in-one').PORT).toBe(8080)
  })

  it('reads EVENT_SINKS and the AMQP_URL / NATS_URL shorthands into one list of broker sinks', () => {
    expect(configuredEventSinks(parseConfig({}, 'all-in-one'))).toEqual([])
    const config = parseConfig(
      {
        EVENT_SINKS: JSON.stringify([
          { kind: 'amqp', name: 'bus', url: 'amqp://u:p@rabbit:5672/vh', tenants: ['ten_a'] },
          {
            kind: 'nats',
            name: 'js',
            url: 'nats://n1:4222,nats://n2:4222',
            stream: 'EVENTS',
            prefix: 'acme',
          },
        ]),
        NATS_URL: 'nats://n3:4222',
        SINK_TENANTS: 'ten_a, ten_b',
      },
      'all-in-one',
    )
    expect(configuredEventSinks(config)).toEqual([
      {
        kind: 'amqp',
        name: 'bus',
        url: 'amqp://u:p@rabbit:5672/vh',
        exchange: 'wa.events',
        prefix: 'wa',
        tenants: ['ten_a'],
      },
      { kind: 'nats', name: 'js', url: 'nats://n1:4222,nats://n2:4222', stream: 'EVENTS', prefix: 'acme' },
      {
        kind: 'nats',
        name: 'nats',
        url: 'nats://n3:4222',
        stream: 'WA_EVENTS',
        prefix: 'wa',
        tenants: ['ten_a', 'ten_b'],
      },
    ])
  })

  it('stops on a bad sink with one line that says where, never echoing the broker URL', () => {
    const bad = (sinks: unknown) => () => parseConfig({ EVENT_SINKS: JSON.stringify(sinks) }, 'all-in-one')
    expect(bad([{ kind: 'amqp', name: 'a', url: 'http://u:hunter2@x' }])).toThrow(
      /^invalid configuration: EVENT_SINKS\[0\]\.url must be an amqp:\/\/ or amqps:\/\/ URL$/,
    )
    expect(bad([{ kind: 'kafka', name: 'a' }])).toThrow(/EVENT_SINKS\[0\]\.kind must be "amqp" or "nats"/)
    expect(bad({})).toThrow(/EVENT_SINKS must be a JSON array$/)
    expect(bad([{ kind: 'nats', name: 'a', url: 'nats://x', tenants: [] }])).toThrow(
      /EVENT_SINKS\[0\]\.tenants must list at least 1/,
    )
    expect(
      bad([
        { kind: 'nats', name: 'a', url: 'nats://x' },
        { kind: 'amqp', name: 'a', url: 'amqp://x' },
      ]),
    ).toThrow(/EVENT_SINKS must give every sink a different name/)
    expect(() => parseConfig({ EVENT_SINKS: '[{' }, 'all-in-one')).toThrow(
      /EVENT_SINKS must be a JSON array of sinks/,
    )
    try {
      parseConfig({ EVENT_SINKS: '[{"kind":"amqp","name":"a b","url":"amqp://u:hunter2@x"}]' }, 'all-in-one')
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message).toMatch(/EVENT_SINKS\[0\]\.name/)
      expect((error as Error).message).not.toContain('hunter2')
    }
    expect(() => parseConfig({ AMQP_URL: 'http://u:hunter2@x' }, 'all-in-one')).toThrow(
      /^[^\n]*AMQP_URL must be an amqp/,
    )
    expect(() => parseConfig({ AMQP_URL: 'http://u:hunter2@x' }, 'all-in-one')).not.toThrow(/hunter2/)
  })

  it('masks the password of a broker URL for logs', () => {
    expect(maskUrlCredentials('amqp://guest:secret@rabbit:5672/vh')).toBe('amqp://guest:***@rabbit:5672/vh')
    expect(maskUrlCredentials('nats://token@n1:4222,nats://u:p@n2:4222')).toBe(
      'nats://***@n1:4222,nats://u:***@n2:4222',
    )
    expect(maskUrlCredentials('amqp://rabbit')).toBe('amqp://rabbit')
  })
})
