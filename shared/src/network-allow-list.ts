import { isIP } from 'node:net'

/**
 * `ALLOW_PRIVATE_NETWORKS`: private targets an operator lets webhooks (and media downloads) reach,
 * as comma-separated CIDRs (`10.20.0.0/16`, `fd12::/16`), single addresses (`192.168.1.10`) or host
 * names (`hooks.corp.example`). Parsing only; the outbound guard in core applies it.
 */
export type NetworkAllowList = {
  cidrs: { address: string; prefix: number; family: 'ipv4' | 'ipv6' }[]
  /** Lower-case, without a trailing dot. */
  hostnames: string[]
}

const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/

/** Parses the setting; throws an Error naming the entry that is neither a CIDR, an address nor a name. */
export function parseNetworkAllowList(value: string): NetworkAllowList {
  const list: NetworkAllowList = { cidrs: [], hostnames: [] }
  for (const raw of value.split(',')) {
    const entry = raw.trim().toLowerCase()
    if (entry === '') continue
    const [address = '', prefixText, extra] = entry.replace(/^\[|\](?=\/|$)/g, '').split('/')
    const version = isIP(address)
    if (version !== 0 && extra === undefined) {
      const maxPrefix = version === 4 ? 32 : 128
      const prefix =
        prefixText === undefined ? maxPrefix : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : -1
      if (prefix < 0 || prefix > maxPrefix) throw new Error(`"${raw.trim()}" has an invalid prefix length`)
      list.cidrs.push({ address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' })
      continue
    }
    const hostname = entry.replace(/\.$/, '')
    if (prefixText !== undefined || !HOSTNAME.test(hostname))
      throw new Error(`"${raw.trim()}" is neither a CIDR, an IP address nor a host name`)
    list.hostnames.push(hostname)
  }
  return list
}
