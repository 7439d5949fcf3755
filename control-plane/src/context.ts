import type { Coordinator, OutboundPolicy } from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import type { Config, SecretBox } from '@wa-cluster/shared'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { SessionWatcher } from './cluster/session-watcher.js'
import type { EventStreams } from './streams/event-feeds.js'

/** Everything a control-plane service needs, built once in main.ts and passed in. */
export type ControlPlaneContext = {
  config: Config
  database: DatabaseHandle
  secretBox: SecretBox
  /** Which hosts tenant-supplied URLs may target (ALLOW_PRIVATE_NETWORKS). */
  outboundPolicy: OutboundPolicy
  coordinator: Coordinator
  /** Waits for session rows to change (pub/sub nudges plus a slow poll). */
  sessionWatcher: SessionWatcher
  /** The live event streams (SSE, WebSocket) of this process. */
  eventStreams: EventStreams
  /** SHA-256 hex of the operator key (ADMIN_API_KEY, or the generated one in embedded mode). */
  adminKeyHash: string
  logger: Logger
  metrics: Registry
}
