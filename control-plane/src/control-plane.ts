import { createHash } from 'node:crypto'
import type { Server } from 'node:http'
import { createOutboundPolicy, type RuntimeBase } from '@wa-cluster/core'
import { createApp } from './app.js'
import { createFailoverLeader, type FailoverLeader } from './cluster/failover-leader.js'
import { createHistoryRetention, type HistoryRetention } from './cluster/history-retention.js'
import { createSessionWatcher, type SessionWatcher } from './cluster/session-watcher.js'
import type { ControlPlaneContext } from './context.js'
import { createEventStreams, type EventStreams } from './streams/event-feeds.js'
import { acceptEventWebSockets } from './streams/websocket.js'

export type ControlPlane = {
  ctx: ControlPlaneContext
  app: ReturnType<typeof createApp>
  sessionWatcher: SessionWatcher
  leader: FailoverLeader
  retention: HistoryRetention
  eventStreams: EventStreams
  /** Takes the WebSocket upgrades of the HTTP server the app is served on (`/v1/events/ws`). */
  acceptWebSockets(server: Server): void
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * What a control-plane runs beside its HTTP API: the session watcher (waits for session rows to
 * change), the failover leader (one instance at a time re-places the sessions of dead nodes) and,
 * on the leader, the history retention job.
 */
export function createControlPlane(base: RuntimeBase, input: { adminApiKey: string }): ControlPlane {
  const sessionWatcher = createSessionWatcher(base.coordinator)
  const eventStreams = createEventStreams(base)
  const ctx: ControlPlaneContext = {
    ...base,
    outboundPolicy: createOutboundPolicy(base.config.ALLOW_PRIVATE_NETWORKS),
    sessionWatcher,
    eventStreams,
    adminKeyHash: createHash('sha256').update(input.adminApiKey).digest('hex'),
  }
  const leader = createFailoverLeader({
    database: base.database,
    coordinator: base.coordinator,
    logger: base.logger,
    config: base.config,
  })
  const retention = createHistoryRetention({
    database: base.database,
    logger: base.logger,
    isLeader: () => leader.isLeader(),
    config: base.config,
  })
  const app = createApp(ctx)
  return {
    ctx,
    app,
    sessionWatcher,
    leader,
    retention,
    eventStreams,
    acceptWebSockets(server) {
      acceptEventWebSockets(server, app)
    },
    async start() {
      await sessionWatcher.start()
      await eventStreams.start()
      await leader.start()
      await retention.start()
    },
    async stop() {
      await retention.stop()
      await leader.stop()
      await eventStreams.stop()
      await sessionWatcher.stop()
    },
  }
}
