import { createHash } from 'node:crypto'
import { createOutboundPolicy, type RuntimeBase } from '@wa-cluster/core'
import { createApp } from './app.js'
import { createFailoverLeader, type FailoverLeader } from './cluster/failover-leader.js'
import { createSessionWatcher, type SessionWatcher } from './cluster/session-watcher.js'
import type { ControlPlaneContext } from './context.js'

export type ControlPlane = {
  ctx: ControlPlaneContext
  app: ReturnType<typeof createApp>
  sessionWatcher: SessionWatcher
  leader: FailoverLeader
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * What a control-plane runs beside its HTTP API: the session watcher (waits for session rows to
 * change) and the failover leader (one instance at a time re-places the sessions of dead nodes).
 */
export function createControlPlane(base: RuntimeBase, input: { adminApiKey: string }): ControlPlane {
  const sessionWatcher = createSessionWatcher(base.coordinator)
  const ctx: ControlPlaneContext = {
    ...base,
    outboundPolicy: createOutboundPolicy(base.config.ALLOW_PRIVATE_NETWORKS),
    sessionWatcher,
    adminKeyHash: createHash('sha256').update(input.adminApiKey).digest('hex'),
  }
  const leader = createFailoverLeader({
    database: base.database,
    coordinator: base.coordinator,
    logger: base.logger,
    config: base.config,
  })
  return {
    ctx,
    app: createApp(ctx),
    sessionWatcher,
    leader,
    async start() {
      await sessionWatcher.start()
      await leader.start()
    },
    async stop() {
      await leader.stop()
      await sessionWatcher.stop()
    },
  }
}
