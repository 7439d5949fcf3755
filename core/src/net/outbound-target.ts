import { promises as dns, type LookupAddress } from 'node:dns'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { type NetworkAllowList, parseNetworkAllowList } from '@wa-cluster/shared'
import { Agent, buildConnector } from 'undici'

/**
 * The outbound guard: which hosts a tenant-supplied URL (a webhook, later a media URL) may make us
 * connect to. A tenant must not turn the gateway into a scanner of the network it runs in, so
 * loopback, private, link-local, CGNAT, unique-local, reserved and cloud-metadata targets are refused
 * in every spelling, unless the operator listed them in ALLOW_PRIVATE_NETWORKS.
 *
 * Spellings: the WHATWG URL parser already rewrites `127.1`, `0x7f000001`, `2130706433` and `017700000001`
 * to `127.0.0.1`, so URLs are checked after `new URL()`; IPv6 addresses that embed an IPv4 one
 * (`::ffff:127.0.0.1`, NAT64, 6to4) are judged by the embedded address. Names are judged by what they
 * resolve to, at connect time, by the lookup the connection itself uses: the address checked is the
 * address connected to, so a name that rebinds between check and connect gains nothing.
 */

/** Why a target is refused: a fixed phrase, safe to show the tenant and to store. */
export type OutboundRefusal =
  | 'loopback address'
  | 'private address'
  | 'link-local address'
  | 'carrier-grade NAT address'
  | 'unique-local address'
  | 'unspecified address'
  | 'multicast address'
  | 'reserved address'
  | 'cloud metadata endpoint'
  | 'local host name'

/** The error a refused connection fails with; `code` survives undici's wrapping as the cause. */
export class OutboundTargetRefused extends Error {
  readonly code = 'ERR_OUTBOUND_TARGET_REFUSED'
  constructor(readonly reason: OutboundRefusal) {
    super(`target refused: ${reason} (ALLOW_PRIVATE_NETWORKS can allow it)`)
    this.name = 'OutboundTargetRefused'
  }
}

type Range = [address: string, prefix: number]

// Order matters: the first list an address falls in names the reason.
const IPV4_RANGES: [OutboundRefusal, Range[]][] = [
  ['cloud metadata endpoint', [['169.254.169.254', 32]]],
  ['unspecified address', [['0.0.0.0', 8]]],
  ['loopback address', [['127.0.0.0', 8]]],
  [
    'private address',
    [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
    ],
  ],
  ['carrier-grade NAT address', [['100.64.0.0', 10]]],
  ['link-local address', [['169.254.0.0', 16]]],
  ['multicast address', [['224.0.0.0', 4]]],
  [
    'reserved address',
    [
      ['192.0.0.0', 24],
      ['192.0.2.0', 24],
      ['198.18.0.0', 15],
      ['198.51.100.0', 24],
      ['203.0.113.0', 24],
      ['240.0.0.0', 4],
    ],
  ],
]
const IPV6_RANGES: [OutboundRefusal, Range[]][] = [
  ['cloud metadata endpoint', [['fd00:ec2::254', 128]]],
  ['unspecified address', [['::', 128]]],
  ['loopback address', [['::1', 128]]],
  ['unique-local address', [['fc00::', 7]]],
  ['link-local address', [['fe80::', 10]]],
  ['private address', [['fec0::', 10]]],
  ['multicast address', [['ff00::', 8]]],
  [
    'reserved address',
    [
      ['::', 96], // IPv4-compatible (deprecated); embedded addresses are judged separately below
      ['64:ff9b:1::', 48],
      ['100::', 64],
      ['2001:db8::', 32],
    ],
  ],
]

/** Host names that mean this machine or the cloud's metadata service, whatever DNS says. */
const LOCAL_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback'])
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
])

function blockLists(ranges: [OutboundRefusal, Range[]][], family: 'ipv4' | 'ipv6') {
  return ranges.map(([reason, list]) => {
    const blocks = new BlockList()
    for (const [address, prefix] of list) blocks.addSubnet(address, prefix, family)
    return { reason, blocks }
  })
}
const IPV4_BLOCKS = blockLists(IPV4_RANGES, 'ipv4')
const IPV6_BLOCKS = blockLists(IPV6_RANGES, 'ipv6')

/** The eight 16-bit groups of an IPv6 address (any valid spelling, dotted tail included). */
function ipv6Groups(address: string): number[] {
  let text = address.toLowerCase().replace(/%.*$/, '')
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number]
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = tail === undefined ? [] : Array(8 - headGroups.length - tailGroups.length).fill('0')
  return [...headGroups, ...fill, ...tailGroups].map((group) => Number.parseInt(group, 16))
}

/** The IPv4 address an IPv6 one carries (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`). */
function embeddedIpv4(address: string): string | undefined {
  const groups = ipv6Groups(address)
  const quad = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
  const zeros = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0)
  if (zeros(0, 5) && groups[5] === 0xffff) return quad(groups[6]!, groups[7]!)
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return quad(groups[6]!, groups[7]!)
  if (groups[0] === 0x2002) return quad(groups[1]!, groups[2]!)
  // IPv4-compatible ::a.b.c.d (not :: and ::1, which are their own cases)
  if (zeros(0, 6) && (groups[6] !== 0 || groups[7]! > 1)) return quad(groups[6]!, groups[7]!)
  return undefined
}

/** Why an address literal may not be reached by default, or undefined for a public address. */
export function classifyAddress(address: string): OutboundRefusal | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '')
  const version = isIP(bare)
  if (version === 4) return IPV4_BLOCKS.find(({ blocks }) => blocks.check(bare, 'ipv4'))?.reason
  if (version !== 6) return undefined
  const embedded = embeddedIpv4(bare)
  if (embedded !== undefined) return classifyAddress(embedded)
  return IPV6_BLOCKS.find(({ blocks }) => blocks.check(bare, 'ipv6'))?.reason
}

/** Why a host name is refused whatever it resolves to (`localhost`, metadata names), or undefined. */
export function classifyHostname(hostname: string): OutboundRefusal | undefined {
  const name = hostname.toLowerCase().replace(/\.$/, '')
  if (LOCAL_NAMES.has(name) || name.endsWith('.localhost')) return 'local host name'
  if (METADATA_NAMES.has(name)) return 'cloud metadata endpoint'
  return undefined
}

/** The guard with the operator's exceptions applied. */
export type OutboundPolicy = {
  /** Why this host (name or literal, brackets allowed) is refused before any lookup, or undefined. */
  refuseHost(hostname: string): OutboundRefusal | undefined
  /** Why connecting to this resolved address for `hostname` is refused, or undefined. */
  refuseAddress(address: string, hostname?: string): OutboundRefusal | undefined
  /** A `net.connect` lookup that resolves once and refuses when any answer is refused. */
  readonly lookup: LookupFunction
}

function normaliseHost(hostname: string): string {
  return hostname
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase()
    .replace(/\.$/, '')
}

/** Resolves a name to every address it has (the system resolver unless a test supplies its own). */
export type HostResolver = (hostname: string, family: number) => Promise<LookupAddress[]>

const systemResolver: HostResolver = (hostname, family) => dns.lookup(hostname, { all: true, family })

/** Builds the guard from ALLOW_PRIVATE_NETWORKS (the string, or its parsed form). */
export function createOutboundPolicy(
  allowPrivateNetworks: string | NetworkAllowList = '',
  options: { resolveHost?: HostResolver } = {},
): OutboundPolicy {
  const resolveHost = options.resolveHost ?? systemResolver
  const allowList =
    typeof allowPrivateNetworks === 'string'
      ? parseNetworkAllowList(allowPrivateNetworks)
      : allowPrivateNetworks
  const allowedNames = new Set(allowList.hostnames)
  const allowedAddresses = new BlockList()
  for (const cidr of allowList.cidrs) allowedAddresses.addSubnet(cidr.address, cidr.prefix, cidr.family)

  function addressAllowed(address: string): boolean {
    const version = isIP(address)
    if (version === 0) return false
    if (allowedAddresses.check(address, version === 4 ? 'ipv4' : 'ipv6')) return true
    const embedded = version === 6 ? embeddedIpv4(address) : undefined
    return embedded !== undefined && allowedAddresses.check(embedded, 'ipv4')
  }

  function refuseAddress(address: string, hostname?: string): OutboundRefusal | undefined {
    if (hostname !== undefined && allowedNames.has(normaliseHost(hostname))) return undefined
    const bare = normaliseHost(address)
    const reason = classifyAddress(bare)
    if (reason === undefined || addressAllowed(bare)) return undefined
    return reason
  }

  function refuseHost(hostname: string): OutboundRefusal | undefined {
    const host = normaliseHost(hostname)
    if (allowedNames.has(host)) return undefined
    if (isIP(host) !== 0) return refuseAddress(host)
    return classifyHostname(host)
  }

  const lookup = ((hostname: string, options: unknown, callback: unknown) => {
    const done = (typeof options === 'function' ? options : callback) as (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void
    const requested = (typeof options === 'object' && options !== null ? options : {}) as {
      all?: boolean
      family?: number
      hints?: number
    }
    const refusedName = refuseHost(hostname)
    if (refusedName) return done(new OutboundTargetRefused(refusedName), '')
    resolveHost(hostname, requested.family ?? 0).then(
      (addresses) => {
        // Every answer must pass: one private answer among public ones is how rebinding starts.
        for (const { address } of addresses) {
          const reason = refuseAddress(address, hostname)
          if (reason) return done(new OutboundTargetRefused(reason), '')
        }
        if (requested.all) return done(null, addresses)
        const first = addresses[0]
        if (!first)
          return done(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '')
        done(null, first.address, first.family)
      },
      (error: NodeJS.ErrnoException) => done(error, ''),
    )
  }) as LookupFunction

  return { refuseHost, refuseAddress, lookup }
}

/**
 * Checks a URL when it is set (webhook configuration): the host as written, then what the name
 * resolves to now. A name that does not resolve yet is accepted: the connection is checked again.
 * Returns the refusal, or undefined.
 */
export async function checkOutboundUrl(
  url: string,
  policy: OutboundPolicy,
): Promise<OutboundRefusal | undefined> {
  const { hostname } = new URL(url)
  const refused = policy.refuseHost(hostname)
  if (refused || isIP(normaliseHost(hostname)) !== 0) return refused
  return new Promise((resolve) => {
    policy.lookup(hostname, { all: true }, (error) => {
      resolve(error instanceof OutboundTargetRefused ? error.reason : undefined)
    })
  })
}

/** The reason an outbound request failed because of the guard, found through undici's error causes. */
export function outboundRefusalOf(error: unknown): OutboundRefusal | undefined {
  let current = error as { code?: string; reason?: OutboundRefusal; cause?: unknown } | undefined
  for (let depth = 0; current && depth < 5; depth++) {
    if (current.code === 'ERR_OUTBOUND_TARGET_REFUSED') return current.reason
    current = current.cause as typeof current
  }
  return undefined
}

export type OutboundAgentOptions = {
  /** TCP + TLS connect timeout. Default 10 000 ms. */
  connectTimeoutMs?: number
  /** Idle keep-alive connections are closed after this. Default 30 000 ms. */
  keepAliveTimeoutMs?: number
  /** Certificate authorities TLS trusts instead of Node's bundled roots (include those to keep them). */
  ca?: string[]
}

/**
 * An undici Agent that connects only where the policy allows: a literal host is judged before the
 * socket opens, a name by the pinned lookup the socket uses. Keep-alive sockets were judged when they
 * opened; undici pools them per origin, so one cannot carry a request to another host. Redirects are
 * never followed (undici's request() does not follow them unless asked).
 */
export function createOutboundAgent(policy: OutboundPolicy, options: OutboundAgentOptions = {}): Agent {
  const connect = buildConnector({
    timeout: options.connectTimeoutMs ?? 10_000,
    lookup: policy.lookup,
    ...(options.ca ? { ca: options.ca } : {}),
  })
  return new Agent({
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    connect(connectOptions, callback) {
      const refused = policy.refuseHost(connectOptions.hostname)
      if (refused) {
        callback(new OutboundTargetRefused(refused), null)
        return
      }
      connect(connectOptions, callback)
    },
  })
}
