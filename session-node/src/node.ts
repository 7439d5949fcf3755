import {
  assignmentsFor,
  type Coordinator,
  coordinationKeys,
  evacuateNode,
  type NodeHeartbeat,
  type NodeNudge,
  nudgeNode,
  publishSessionChange,
  recordNodeHeartbeat,
  registerNode,
  type SessionPlacement,
  serveSessionCommands,
  setNodeStatus,
  type Unsubscribe,
} from '@wa-cluster/core'
import { type DatabaseHandle, textArray } from '@wa-cluster/db'
import type { Config, SecretBox } from '@wa-cluster/shared'
import { sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { createSessionNodeMetrics } from './metrics.js'
import { takeOwnership } from './ownership/ownership.js'
import { createBaileysProvider } from './providers/baileys/baileys-provider.js'
import type { WhatsAppProvider } from './providers/provider.js'
import type { CommitNotice } from './runner/fenced-writes.js'
import { sessionCommandHandler } from './runner/session-commands.js'
import { SessionRunner, type StopMode } from './runner/session-runner.js'

export type SessionNodeDeps = {
  config: Config
  nodeId: string
  database: DatabaseHandle
  secretBox: SecretBox
  coordinator: Coordinator
  logger: Logger
  /** How sessions reach WhatsApp. Default: Baileys, configured by WA_WS_URL and BAILEYS_LOG_LEVEL. */
  provider?: WhatsAppProvider
  /** Called after each committed write (the local webhook dispatcher's fast path). */
  onEventCommitted?: (sessionId: string, notice: CommitNotice) => void
  /** The local dispatcher's claim lease, so inbound messages are appended already claimed for it. */
  webhookClaimLeaseMs?: number
  metrics?: Registry
}

export type SessionNode = {
  readonly nodeId: string
  start(): Promise<void>
  /** Graceful: hands every session over to other nodes (or leaves it unassigned) before returning. */
  stop(): Promise<void>
  reconcile(): Promise<void>
  /** Session ids with a live runner here. */
  sessionIds(): string[]
}

/** How soon a node retries a lease another node still holds (hand-over or failover in progress). */
const LEASE_RETRY_MS = 250

/**
 * A session-node: registers with a heartbeat and capacity, owns the sessions assigned to it (lease +
 * epoch), and reconciles its runners with Postgres on every nudge and on a timer.
 */
export function createSessionNode(deps: SessionNodeDeps): SessionNode {
  const { config, nodeId, database, coordinator } = deps
  const logger = deps.logger.child({ nodeId })
  const keys = coordinationKeys
  const runners = new Map<string, SessionRunner>()
  const starting = new Set<string>()
  const retryTimers = new Map<string, NodeJS.Timeout>()
  let status: NodeHeartbeat['status'] = 'active'
  let started = false
  /** Set once a stopping node's evacuation ended: what is still assigned here has nowhere to go. */
  let evacuated = false
  let heartbeatTimer: NodeJS.Timeout | undefined
  let reconcileTimer: NodeJS.Timeout | undefined
  let unsubscribe: Unsubscribe | undefined
  let stopServingCommands: Unsubscribe | undefined
  let reconciling: Promise<void> | undefined
  let reconcileAgain = false
  const startedAt = new Date().toISOString()
  const metrics = createSessionNodeMetrics(deps.metrics, () => runners.size)
  const provider = deps.provider ?? createBaileysProvider(config)

  const onCommitted = (sessionId: string, notice: CommitNotice) => {
    deps.onEventCommitted?.(sessionId, notice)
    // Only state changes concern the control-planes' watchers; messages would flood the channel.
    if (notice.stateChanged) {
      void publishSessionChange(coordinator, sessionId).catch((error: unknown) =>
        // Waiters also re-read the row every 500 ms, so a lost publish only delays an answer; an
        // unreachable Redis is reported by the heartbeat. Debug, or an outage floods the log.
        logger.debug({ sessionId, err: (error as Error).message }, 'could not publish a session change'),
      )
    }
  }

  async function heartbeat(): Promise<void> {
    try {
      // Both, independently: the leader declares a node dead at once only when both are old, so a
      // Redis outage must not also stop the Postgres heartbeat.
      const [redis, postgres] = await Promise.allSettled([
        coordinator.heartbeat(
          { nodeId, capacity: config.SESSION_NODE_CAPACITY, sessions: runners.size, status, startedAt },
          config.NODE_TTL_MS,
        ),
        recordNodeHeartbeat(database, nodeId),
      ])
      for (const [store, result] of [
        ['redis', redis],
        ['postgres', postgres],
      ] as const) {
        if (result.status === 'rejected')
          logger.warn({ store, err: (result.reason as Error).message }, 'heartbeat failed')
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'heartbeat failed')
    }
  }

  function scheduleRetry(sessionId: string): void {
    if (retryTimers.has(sessionId) || !started) return
    const timer = setTimeout(() => {
      retryTimers.delete(sessionId)
      void reconcile()
    }, LEASE_RETRY_MS)
    timer.unref()
    retryTimers.set(sessionId, timer)
  }

  async function startSession(row: SessionPlacement): Promise<void> {
    starting.add(row.id)
    try {
      const ownership = await takeOwnership({
        database,
        coordinator,
        sessionId: row.id,
        nodeId,
        leaseTtlMs: config.LEASE_TTL_MS,
      })
      if (!ownership) {
        scheduleRetry(row.id)
        return
      }
      const runner = new SessionRunner(
        {
          database,
          secretBox: deps.secretBox,
          provider,
          logger,
          onCommitted,
          metrics,
          claimLeaseMs: deps.webhookClaimLeaseMs,
          coordinator,
        },
        {
          sessionId: row.id,
          tenantId: row.tenantId,
          epoch: ownership.epoch,
          lease: ownership.lease,
          pairingPhone: row.pairingPhone,
          initialState: row.state,
          nodeId,
        },
      )
      runners.set(row.id, runner)
      void runner.done.then(() => {
        if (runners.get(row.id) === runner) runners.delete(row.id)
        // Ownership lost (e.g. the lease went with a Redis restart) while perhaps still assigned here:
        // look again soon. A hand-over, a disconnect or a rest needs no retry; the timer covers the rest.
        if (started && runner.stopMode === 'lost') scheduleRetry(row.id)
      })
      await runner.start()
    } catch (error) {
      logger.error({ sessionId: row.id, err: (error as Error).message }, 'could not start session')
      scheduleRetry(row.id)
    } finally {
      starting.delete(row.id)
    }
  }

  async function stopRunner(runner: SessionRunner, mode: StopMode, nextNodeId: string | null): Promise<void> {
    await runner.stop(mode)
    // The successor may be waiting on our lease: tell it the moment it is free.
    if (mode === 'handover' && nextNodeId && nextNodeId !== nodeId) {
      // A lost nudge only delays the successor until its next reconcile.
      await nudgeNode(coordinator, nextNodeId, { kind: 'reconcile', sessionId: runner.sessionId }).catch(
        (error: unknown) =>
          // The successor's reconcile timer finds the session anyway, just later.
          logger.warn(
            { sessionId: runner.sessionId, nextNodeId, err: (error as Error).message },
            'could not nudge the next owner',
          ),
      )
    }
  }

  async function reconcileOnce(): Promise<void> {
    const running = [...runners.keys()]
    const rows = await assignmentsFor(database, nodeId, running)
    // Sends normally arrive by nudge; a lost nudge is caught here. One query for the whole node, so
    // the pass costs the same whether it holds ten sessions or a thousand.
    const queued = new Set(
      running.length === 0
        ? []
        : (
            await database.rows<{ session_id: string }>(sql`
              SELECT DISTINCT session_id FROM messages
              WHERE status = 'queued' AND direction = 'out' AND session_id = ANY(${textArray(running)})`)
          ).map((row) => row.session_id),
    )
    const seen = new Set<string>()
    const stops: Promise<void>[] = []
    for (const row of rows) {
      seen.add(row.id)
      const runner = runners.get(row.id)
      const mine = row.nodeId === nodeId && status !== 'stopping'
      if (mine && row.desiredState === 'connected') {
        if (!runner && !starting.has(row.id)) void startSession(row)
        else if (queued.has(row.id)) runner?.flushOutbox()
      } else if (runner) {
        // While this node is stopping, a session still assigned to it waits for the evacuation to decide
        // where it goes: a pass that read the row before then must not announce a move.
        if (status === 'stopping' && !evacuated && row.nodeId === nodeId) continue
        // A node shutting down whose session found no other node (still ours, or unassigned by the
        // evacuation) says so instead of announcing a move that is not coming.
        const nowhere =
          status === 'stopping' &&
          row.desiredState === 'connected' &&
          (row.nodeId === null || (evacuated && row.nodeId === nodeId))
        const mode: StopMode = nowhere
          ? 'shutdown'
          : !mine
            ? 'handover'
            : row.desiredState === 'logged_out'
              ? 'logout'
              : 'disconnect'
        stops.push(stopRunner(runner, mode, row.nodeId))
      }
    }
    for (const [sessionId, runner] of runners) {
      if (!seen.has(sessionId)) stops.push(runner.stop('lost'))
    }
    await Promise.all(stops)
  }

  /** Coalesces concurrent requests: at most one pass runs, and one more follows if asked meanwhile. */
  async function reconcile(): Promise<void> {
    if (reconciling) {
      reconcileAgain = true
      return reconciling
    }
    reconciling = (async () => {
      do {
        reconcileAgain = false
        try {
          await reconcileOnce()
        } catch (error) {
          logger.warn({ err: (error as Error).message }, 'reconcile failed')
        }
      } while (reconcileAgain)
    })().finally(() => {
      reconciling = undefined
    })
    return reconciling
  }

  function onNudge(message: string): void {
    let nudge: NodeNudge
    try {
      nudge = JSON.parse(message) as NodeNudge
    } catch {
      // Not from a process of this cluster (ours publish JSON): ignore it; the reconcile timer covers
      // whatever it may have meant.
      logger.warn({ nudge: message.slice(0, 200) }, 'ignoring a nudge that is not JSON')
      return
    }
    if (nudge.kind === 'send') runners.get(nudge.sessionId)?.flushOutbox()
    else void reconcile()
  }

  return {
    nodeId,
    sessionIds: () => [...runners.keys()],
    reconcile,
    async start() {
      if (started) return
      started = true
      evacuated = false
      status = 'active'
      await registerNode(database, nodeId, config.SESSION_NODE_CAPACITY)
      unsubscribe = await coordinator.subscribe(keys.nodeChannel(nodeId), onNudge)
      stopServingCommands = await serveSessionCommands(
        coordinator,
        nodeId,
        sessionCommandHandler({ database, runnerOf: (sessionId) => runners.get(sessionId) }),
        (error) => logger.warn({ err: (error as Error).message }, 'could not answer a session command'),
      )
      await heartbeat()
      heartbeatTimer = setInterval(() => void heartbeat(), config.HEARTBEAT_INTERVAL_MS)
      reconcileTimer = setInterval(() => void reconcile(), config.RECONCILE_INTERVAL_MS)
      logger.info({ capacity: config.SESSION_NODE_CAPACITY }, 'session-node started')
      await reconcile()
    },
    async stop() {
      if (!started) return
      logger.info({ sessions: runners.size }, 'session-node stopping: handing sessions over')
      status = 'stopping'
      await setNodeStatus(database, nodeId, 'stopping').catch((error) =>
        logger.warn({ err: (error as Error).message }, 'could not mark the node stopping'),
      )
      await heartbeat()
      await evacuateNode({
        database,
        coordinator,
        nodeId,
        logger,
        concurrency: config.HAND_OVER_CONCURRENCY,
      }).catch((error) =>
        logger.warn({ err: (error as Error).message }, 'evacuation failed; sessions stay unassigned'),
      )
      evacuated = true
      started = false
      await reconcile()
      // Whatever still runs here had nowhere to go (a first mode asked for wins, so moved ones keep theirs).
      await Promise.all([...runners.values()].map((runner) => runner.stop('shutdown')))
      clearInterval(heartbeatTimer)
      clearInterval(reconcileTimer)
      for (const timer of retryTimers.values()) clearTimeout(timer)
      retryTimers.clear()
      await unsubscribe?.()
      await stopServingCommands?.()
      await coordinator
        .forgetNode(nodeId)
        .catch((error: unknown) =>
          logger.warn(
            { err: (error as Error).message },
            'could not remove the heartbeat; it expires on its own',
          ),
        )
      await setNodeStatus(database, nodeId, 'stopped').catch((error) =>
        logger.warn({ err: (error as Error).message }, 'could not mark the node stopped'),
      )
      logger.info('session-node stopped')
    },
  }
}
