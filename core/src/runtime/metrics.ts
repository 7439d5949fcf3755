import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Metric, Registry } from 'prom-client'

/**
 * The metric `name` from `registry`, registering it with `create` the first time: several apps or
 * dispatchers may share one registry (tests, the all-in-one) and prom-client refuses duplicate names.
 */
export function registeredMetric<T extends Metric>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create()
}

export type MetricsServer = {
  /** `http://host:port/metrics` as bound (the real port when 0 was asked for). */
  readonly url: string
  close(): Promise<void>
}

/**
 * The operator listener (METRICS_PORT): `GET /metrics` in Prometheus text and nothing else. It is a
 * port of its own so the public API port never shows process internals to whoever can reach it.
 */
export async function serveMetrics(
  registry: Registry,
  options: { port: number; host: string },
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  return {
    url: `${httpOrigin(address)}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** `http://address:port` for a bound socket address (IPv6 in brackets). */
export function httpOrigin(address: Pick<AddressInfo, 'address' | 'port'>): string {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}
