import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfig } from '../../src/config.js'
import { generateSecretBoxKey } from '../../src/secret-box.js'

describe('parseConfig', () => {
  it('applies the documented defaults for the embedded mode', () => {
    const config = parseConfig({}, 'all-in-one')
    expect(config.PORT).toBe(8080)
    expect(config.DEFAULT_COUNTRY_CODE).toBe('62')
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
})
