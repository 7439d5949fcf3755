// A cluster of real processes (control-planes, session-nodes, private Redis, fresh Postgres database),
// wa-sim as its own process, a webhook receiver and one tenant — then N sessions linked through the API.
import { randomBytes } from 'node:crypto'
import {
  createClient,
  createTenant,
  type HookReceiver,
  linkSessions,
  loadAverage,
  log,
  procStats,
  startBenchCluster,
  startHookReceiver,
  startSimProcess,
  trackStates,
} from './common.js'

export async function clusterWithSessions(options: {
  controlPlanes: number
  sessionNodes: number
  sessions: number
  concurrency: number
  env?: Record<string, string>
  label: string
}) {
  log(`load average at start: ${loadAverage()}`)
  const sim = await startSimProcess()
  const receiver: HookReceiver = await startHookReceiver()
  const tracker = trackStates(receiver)
  const cluster = await startBenchCluster({
    controlPlanes: options.controlPlanes,
    sessionNodes: options.sessionNodes,
    simUrl: sim.url,
    simRootKey: sim.rootPublicKey,
    env: options.env,
  })
  log(
    `cluster up: ${cluster.controlPlanes.length} control-planes, nodes ${[...cluster.nodes.keys()].join(', ')}; sim pid ${sim.process.child.pid}`,
  )
  const { tenantKey } = await createTenant(cluster.controlPlanes[0]!.url, cluster.adminKey, receiver.url)
  const clients = cluster.controlPlanes.map((cp) => createClient({ baseUrl: cp.url, apiKey: tenantKey }))
  const cpuBefore = nodeCpu(cluster)
  const result = await linkSessions({
    clients,
    sim: sim.control,
    tracker,
    count: options.sessions,
    concurrency: options.concurrency,
    phonePrefix: `628${10 + (randomBytes(1)[0]! % 90)}`,
    label: `${options.label} linking`,
    timeoutPerSessionMs: 180_000,
  })
  const cpuAfter = nodeCpu(cluster)
  const linkCpu = Object.fromEntries(
    Object.entries(cpuAfter).map(([id, cpu]) => [id, (cpu - (cpuBefore[id] ?? 0)).toFixed(1)]),
  )
  log(
    `linked ${result.linked.length}/${options.sessions} in ${(result.elapsedMs / 1000).toFixed(1)} s ` +
      `(${((result.linked.length / result.elapsedMs) * 1000).toFixed(2)}/s, concurrency ${options.concurrency}); ` +
      `node CPU s during linking ${JSON.stringify(linkCpu)}; ${result.phases}; failures ${result.failures.length}${result.failures[0] ? ` (first: ${result.failures[0]})` : ''}`,
  )
  return { sim, receiver, tracker, cluster, clients, tenantKey, link: result, linkCpu }
}

export function nodeCpu(cluster: { nodes: Map<string, { process: { child: { pid?: number } } }> }) {
  const out: Record<string, number> = {}
  for (const [id, node] of cluster.nodes) {
    try {
      out[id] = procStats(node.process.child.pid!).cpuSeconds
    } catch {}
  }
  return out
}
