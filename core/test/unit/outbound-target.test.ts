import type { LookupAddress } from 'node:dns'
import { parseNetworkAllowList } from '@wa-cluster/shared'
import { describe, expect, it } from 'vitest'
import {
  checkOutboundUrl,
  classifyAddress,
  createOutboundPolicy,
  type HostResolver,
  type OutboundPolicy,
  OutboundTargetRefused,
  outboundRefusalOf,
} from '../../src/net/outbound-target.js'

/** A resolver with fixed answers: the test decides what a name resolves to. */
const answers =
  (table: Record<string, string[]>): HostResolver =>
  async (hostname) => {
    const addresses = table[hostname]
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }

/** What the policy says about a URL as the tenant wrote it (after the WHATWG parser, as the API sees it). */
const hostOf = (url: string) => new URL(url).hostname

function lookupWith(
  policy: OutboundPolicy,
  hostname: string,
  all: boolean,
): Promise<{ error: Error | null; address: string | LookupAddress[] }> {
  return new Promise((resolve) => {
    policy.lookup(hostname, { all }, (error, address) => resolve({ error, address }))
  })
}

describe('outbound guard', () => {
  const strict = createOutboundPolicy('')

  it('refuses loopback in every spelling the URL parser accepts', () => {
    const spellings = [
      'http://127.0.0.1/hook',
      'http://127.1/hook',
      'http://127.0.1/hook',
      'http://0x7f000001/hook',
      'http://0x7f.0.0.1/hook',
      'http://2130706433/hook',
      'http://017700000001/hook',
      'http://0177.0.0.1/hook',
      'http://127.255.255.254:8080/hook',
      'http://[::1]/hook',
      'http://[0:0:0:0:0:0:0:1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:7f00:1]/hook',
      'http://[64:ff9b::127.0.0.1]/hook',
      'http://[2002:7f00:1::]/hook',
      'http://localhost/hook',
      'http://LOCALHOST./hook',
      'http://api.localhost/hook',
    ]
    for (const url of spellings) {
      expect(strict.refuseHost(hostOf(url)), url).toMatch(/loopback address|local host name/)
    }
  })

  it('names the reason for each private, reserved and metadata range', () => {
    const cases: [string, string][] = [
      ['http://169.254.169.254/latest/meta-data', 'cloud metadata endpoint'],
      ['http://metadata.google.internal/computeMetadata/v1/', 'cloud metadata endpoint'],
      ['http://metadata.goog/', 'cloud metadata endpoint'],
      ['http://[fd00:ec2::254]/', 'cloud metadata endpoint'],
      ['http://10.0.0.1/', 'private address'],
      ['http://10.255.255.255/', 'private address'],
      ['http://172.16.0.1/', 'private address'],
      ['http://172.31.255.255/', 'private address'],
      ['http://192.168.1.1/', 'private address'],
      ['http://0xc0a80101/', 'private address'],
      ['http://100.64.0.1/', 'carrier-grade NAT address'],
      ['http://100.127.255.254/', 'carrier-grade NAT address'],
      ['http://169.254.1.1/', 'link-local address'],
      ['http://0.0.0.0/', 'unspecified address'],
      ['http://0/', 'unspecified address'],
      ['http://[::]/', 'unspecified address'],
      ['http://[fd00::1]/', 'unique-local address'],
      ['http://[fc00::1]/', 'unique-local address'],
      ['http://[fe80::1]/', 'link-local address'],
      ['http://[febf::1]/', 'link-local address'],
      ['http://[::ffff:10.1.2.3]/', 'private address'],
      ['http://[::ffff:169.254.169.254]/', 'cloud metadata endpoint'],
      ['http://224.0.0.1/', 'multicast address'],
      ['http://[ff02::1]/', 'multicast address'],
      ['http://255.255.255.255/', 'reserved address'],
      ['http://192.0.2.10/', 'reserved address'],
    ]
    for (const [url, reason] of cases) expect(strict.refuseHost(hostOf(url)), url).toBe(reason)
  })

  it('lets public addresses and names through', () => {
    for (const url of [
      'https://8.8.8.8/',
      'https://172.32.0.1/',
      'https://172.15.255.255/',
      'https://100.128.0.1/',
      'https://192.169.0.1/',
      'https://[2606:4700:4700::1111]/',
      'https://[::ffff:8.8.8.8]/',
      'https://example.com/hook',
      'https://localhost.example.com/',
    ]) {
      expect(strict.refuseHost(hostOf(url)), url).toBeUndefined()
    }
    expect(classifyAddress('1.1.1.1')).toBeUndefined()
    expect(classifyAddress('not an address')).toBeUndefined()
  })

  it('ALLOW_PRIVATE_NETWORKS allows listed CIDRs, single addresses and names, and nothing else', () => {
    const policy = createOutboundPolicy('10.20.0.0/16, 192.168.1.10, [fd12::]/16, hooks.corp.example')
    expect(policy.refuseHost('10.20.3.4')).toBeUndefined()
    expect(policy.refuseHost('[::ffff:10.20.3.4]')).toBeUndefined()
    expect(policy.refuseHost('10.21.0.1')).toBe('private address')
    expect(policy.refuseHost('192.168.1.10')).toBeUndefined()
    expect(policy.refuseHost('192.168.1.11')).toBe('private address')
    expect(policy.refuseHost('[fd12::5]')).toBeUndefined()
    expect(policy.refuseHost('[fd13::5]')).toBe('unique-local address')
    expect(policy.refuseHost('127.0.0.1')).toBe('loopback address')
    // A listed name is trusted whatever it resolves to; other names are judged by their addresses.
    expect(policy.refuseAddress('10.99.0.1', 'hooks.corp.example')).toBeUndefined()
    expect(policy.refuseAddress('10.99.0.1', 'other.corp.example')).toBe('private address')
  })

  it('refuses a malformed ALLOW_PRIVATE_NETWORKS entry by name', () => {
    expect(() => parseNetworkAllowList('10.0.0.0/33')).toThrow(/10\.0\.0\.0\/33/)
    expect(() => parseNetworkAllowList('10.0.0.0/8,not a host')).toThrow(/not a host/)
    expect(() => parseNetworkAllowList('::1/129')).toThrow(/prefix/)
    expect(parseNetworkAllowList(' , ')).toEqual({ cidrs: [], hostnames: [] })
    expect(parseNetworkAllowList('Hooks.Example., 127.0.0.1')).toEqual({
      cidrs: [{ address: '127.0.0.1', prefix: 32, family: 'ipv4' }],
      hostnames: ['hooks.example'],
    })
  })

  it('the connect-time lookup refuses a name when any answer is private, and returns what it checked', async () => {
    const policy = createOutboundPolicy('', {
      resolveHost: answers({
        'public.example': ['93.184.216.34'],
        'loopback.example': ['127.0.0.1'],
        'mixed.example': ['93.184.216.34', '10.0.0.7'],
        'mapped.example': ['::ffff:127.0.0.1'],
      }),
    })
    const single = await lookupWith(policy, 'public.example', false)
    expect(single).toEqual({ error: null, address: '93.184.216.34' })
    expect(await lookupWith(policy, 'public.example', true)).toEqual({
      error: null,
      address: [{ address: '93.184.216.34', family: 4 }],
    })
    for (const [name, reason] of [
      ['loopback.example', 'loopback address'],
      ['mixed.example', 'private address'],
      ['mapped.example', 'loopback address'],
      ['localhost', 'local host name'],
    ] as const) {
      const { error } = await lookupWith(policy, name, true)
      expect(error, name).toBeInstanceOf(OutboundTargetRefused)
      expect(outboundRefusalOf({ cause: error }), name).toBe(reason)
    }
  })

  it('checks a URL when it is set: the literal, then what the name resolves to now', async () => {
    const policy = createOutboundPolicy('', {
      resolveHost: answers({ 'internal.example': ['192.168.0.5'], 'public.example': ['93.184.216.34'] }),
    })
    expect(await checkOutboundUrl('http://2130706433/hook', policy)).toBe('loopback address')
    expect(await checkOutboundUrl('https://internal.example/hook', policy)).toBe('private address')
    expect(await checkOutboundUrl('https://public.example/hook', policy)).toBeUndefined()
    // Not resolvable now: accepted here, judged again by the connection's own lookup.
    expect(await checkOutboundUrl('https://unknown.example/hook', policy)).toBeUndefined()
  })
})
