import {
  type ClaimedEventRow,
  createOutboundAgent,
  type OutboundPolicy,
  postWebhook,
  registeredMetric,
  signWebhook,
  toEventEnvelope,
  webhookSecretSealContext,
} from '@wa-cluster/core'
import { type DatabaseHandle, runStatement } from '@wa-cluster/db'
import type { EventSinkConfig, SecretBox } from '@wa-cluster/shared'
import { type SQL, sql } from 'drizzle-orm'
import type { Logger } from 'pino'
import { Counter, Histogram, type Registry } from 'prom-client'
import { createSinkDeliveries } from '../sinks/sink-deliveries.js'
import { createEndpointDeliveries } from './endpoint-dispatcher.js'
import { SKIP_WAL_FLUSH, SKIP_WAL_FLUSH_TEXT } from './skip-wal-flush.js'

export type WebhookDispatcherOptions = {
  /** Attempts before an event is dead-lettered. Default 12. */
  maxAttempts?: number
  /** Timeout of one POST. Default 10 000 ms. */
  requestTimeoutMs?: number
  /** Upper bound of the first retry delay; it doubles per attempt, with full jitter. Default 1 000 ms. */
  backoffBaseMs?: number
  /** Upper bound of any retry delay. Default 600 000 ms (10 min). */
  backoffCapMs?: number
  /** How often the outbox is polled for retries that came due. Default 1 000 ms. */
  pollIntervalMs?: number
  /** How long stop() lets requests in flight finish before aborting them. Default: requestTimeoutMs. */
  drainTimeoutMs?: number
  /** Requests in flight at once, over all tenants. Default 32. */
  maxInFlight?: number
  /** Requests in flight at once for one tenant, so one slow endpoint cannot take every slot. Default 8. */
  maxInFlightPerTenant?: number
  /** Events claimed per query. Default 100. */
  claimBatchSize?: number
  /** Upper bound of a broker sink's retry delay (sinks retry until the broker takes the event). Default 30 000 ms. */
  sinkBackoffCapMs?: number
}

export type WebhookDispatcherDeps = {
  database: DatabaseHandle
  secretBox: SecretBox
  logger: Logger
  /** Which receivers may be connected to (ALLOW_PRIVATE_NETWORKS); every POST goes through it. */
  outboundPolicy: OutboundPolicy
  /** Where delivery metrics are registered; none when omitted. */
  metrics?: Registry
  options?: WebhookDispatcherOptions
  /**
   * Broker sinks (EVENT_SINKS) this process publishes to; registered in `event_sinks` at start.
   * `authoritative`: the configuration names the full list, so sinks it leaves out are disabled.
   */
  sinks?: { configs: EventSinkConfig[]; authoritative: boolean }
}

export type WebhookDispatcher = {
  start(): Promise<void>
  /**
   * Stops claiming and drains: requests in flight are let finish (up to `drainTimeoutMs`, then aborted
   * and handed back uncounted) and their outcome recorded; claims not yet sent are handed back.
   */
  stop(): Promise<void>
  /** An event was just committed: look for due events now instead of at the next poll. */
  notify(): void
  /**
   * Events an append claimed for this dispatcher (appendAndClaimEvents with `claimLeaseMs`): sends them
   * now, or hands them back when stopped or saturated.
   */
  deliverClaimed(claimed: ClaimedEventRow[]): void
  /** The lease a claim takes; appends that claim their own events must use the same. */
  readonly claimLeaseMs: number
}

/** Retry delay after `attempt` failed attempts: full jitter over an exponential ceiling. */
export function webhookRetryDelayMs(
  attempt: number,
  options: { backoffBaseMs: number; backoffCapMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.backoffCapMs, options.backoffBaseMs * 2 ** Math.max(0, attempt - 1))
  return Math.floor(random() * ceiling)
}

/** One claimed event; `attempt` is the attempt number the claim took, which fences every later write. */
type ClaimedEvent = { row: ClaimedEventRow; attempt: number }

type Outcome = { kind: 'delivered' } | { kind: 'skipped'; reason: string } | { kind: 'failed'; error: string }

const MAX_ERROR_LENGTH = 500

/** Every successful POST records this: a prepared statement ($1 id, $2 attempt, $3 outcome, $4 note). */
const RECORD_SETTLED = `
  UPDATE events SET delivery = $3::text,
    delivered_at = CASE WHEN $3::text = 'delivered' THEN now() END,
    last_error = $4::text
  WHERE id = $1::text AND delivery = 'pending' AND attempts = $2::int AND ${SKIP_WAL_FLUSH_TEXT}`

/**
 * The claim of due events, as one fixed statement (prepared once per connection: under load it runs
 * for most events, whenever an append found an earlier event of its session still pending).
 * $1 tenants to skip (saturated), $2 batch size, $3 lease (ms).
 */
const CLAIM_DUE_EVENTS = `
  WITH due AS (
    SELECT e.id FROM events e
    WHERE e.delivery = 'pending' AND e.next_attempt_at <= now() AND e.tenant_id <> ALL($1::text[])
      AND ${SKIP_WAL_FLUSH_TEXT}
      AND NOT EXISTS (
        SELECT 1 FROM events earlier
        WHERE earlier.session_id = e.session_id AND earlier.delivery = 'pending' AND earlier.seq < e.seq
          AND earlier.next_attempt_at > now())
    ORDER BY e.next_attempt_at, e.session_id, e.seq
    LIMIT $2::int
    FOR UPDATE OF e SKIP LOCKED
  ), claimed AS (
    UPDATE events SET attempts = events.attempts + 1,
      next_attempt_at = now() + $3::int * interval '1 millisecond'
    FROM due WHERE events.id = due.id
    RETURNING events.id, events.type, events.tenant_id, events.session_id, events.seq, events.data,
      events.attempts, events.occurred_at
  )
  SELECT c.id, c.type, c.tenant_id, c.session_id, c.seq, c.data, c.attempts,
    to_json(c.occurred_at) #>> '{}' AS occurred_at,
    -- Read before this statement's update: every earlier pending event of the session, claimed or not.
    (SELECT count(*) FROM events earlier
      WHERE earlier.session_id = c.session_id AND earlier.delivery = 'pending' AND earlier.seq < c.seq) AS earlier_pending,
    w.url, w.events AS webhook_events, w.secret_sealed, w.previous_secret_sealed,
    w.previous_secret_expires_at > now() AS previous_secret_valid
  FROM claimed c LEFT JOIN webhooks w ON w.tenant_id = c.tenant_id`

function jsonValue(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value
}

function createDispatcherMetrics(registry: Registry | undefined) {
  if (!registry) return undefined
  const deliveries = registeredMetric(
    registry,
    'wa_webhook_deliveries_total',
    () =>
      new Counter({
        name: 'wa_webhook_deliveries_total',
        help: 'Webhook delivery attempts by outcome (delivered, failed, dead, skipped)',
        labelNames: ['outcome'],
        registers: [registry],
      }),
  )
  const requestSeconds = registeredMetric(
    registry,
    'wa_webhook_request_duration_seconds',
    () =>
      new Histogram({
        name: 'wa_webhook_request_duration_seconds',
        help: 'Duration of webhook POSTs, any outcome',
        buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
  )
  const latencySeconds = registeredMetric(
    registry,
    'wa_webhook_delivery_latency_seconds',
    () =>
      new Histogram({
        name: 'wa_webhook_delivery_latency_seconds',
        help: 'From the event occurring to its successful delivery (includes retries)',
        buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600, 3600],
        registers: [registry],
      }),
  )
  return { deliveries, requestSeconds, latencySeconds }
}

/**
 * Delivers the outbox's `pending` events to each tenant's webhook, signed (Standard Webhooks).
 *
 * Claims are one statement (`FOR UPDATE SKIP LOCKED`) that pushes `next_attempt_at` forward as a lease
 * and counts the attempt, so several processes share the table without sending the same attempt twice,
 * and a crashed process's claims come back when the lease ends. No transaction spans an HTTP call
 * (PGlite has one connection). Within a session, events go out in seq order: an event is claimed only
 * when no earlier pending event of its session is leased or backing off, and the events of one session
 * in a claim go out one after another; a failure sends the rest of the session to wait behind it.
 */
export function createWebhookDispatcher(deps: WebhookDispatcherDeps): WebhookDispatcher {
  const { database, secretBox } = deps
  const logger = deps.logger
  const maxAttempts = deps.options?.maxAttempts ?? 12
  const requestTimeoutMs = deps.options?.requestTimeoutMs ?? 10_000
  const backoff = {
    backoffBaseMs: deps.options?.backoffBaseMs ?? 1_000,
    backoffCapMs: deps.options?.backoffCapMs ?? 600_000,
  }
  const pollIntervalMs = deps.options?.pollIntervalMs ?? 1_000
  const drainTimeoutMs = deps.options?.drainTimeoutMs ?? requestTimeoutMs
  const maxInFlight = deps.options?.maxInFlight ?? 32
  const maxInFlightPerTenant = deps.options?.maxInFlightPerTenant ?? 8
  const claimBatchSize = deps.options?.claimBatchSize ?? 100
  // The lease covers the claim's whole session run: later events of a run start only within the first
  // request timeout after the claim, so each ends (and is recorded) well before the lease does.
  const claimLeaseMs = requestTimeoutMs * 3
  const metrics = createDispatcherMetrics(deps.metrics)

  let running = false
  let stopping: Promise<void> | undefined
  let pollTimer: NodeJS.Timeout | undefined
  let stopController = new AbortController()
  /** Keep-alive connections to the receivers, reused across deliveries, opened only where allowed. */
  const newAgent = () =>
    createOutboundAgent(deps.outboundPolicy, {
      connectTimeoutMs: requestTimeoutMs,
      keepAliveTimeoutMs: 30_000,
    })
  let agent = newAgent()
  let claiming: Promise<void> | undefined
  let claimAgain = false
  const endpoints = createEndpointDeliveries({
    database,
    secretBox,
    logger,
    agent: () => agent,
    running: () => running,
    stopSignal: () => stopController.signal,
    onSettled: () => requestEndpointClaim(),
    onOutcome: (outcome) => metrics?.deliveries.inc({ outcome }),
    options: {
      maxAttempts,
      requestTimeoutMs,
      claimLeaseMs,
      claimBatchSize,
      maxInFlight,
      retryDelayMs: (attempt) => webhookRetryDelayMs(attempt, backoff),
    },
  })
  const sinks = createSinkDeliveries({
    database,
    logger: logger.child({ component: 'sinks' }),
    sinks: deps.sinks?.configs ?? [],
    authoritative: deps.sinks?.authoritative ?? false,
    running: () => running,
    onSettled: () => requestSinkClaim(),
    metrics: deps.metrics,
    options: {
      timeoutMs: requestTimeoutMs,
      claimLeaseMs,
      claimBatchSize,
      maxInFlight,
      retryDelayMs: (attempt) =>
        webhookRetryDelayMs(attempt, {
          backoffBaseMs: backoff.backoffBaseMs,
          backoffCapMs: deps.options?.sinkBackoffCapMs ?? 30_000,
        }),
    },
  })
  let claimingSinks: Promise<void> | undefined
  let claimSinksAgain = false

  /** Broker sinks are claimed by a loop of their own too: a broker outage never slows the webhooks. */
  function requestSinkClaim(): void {
    if (!running || sinks.size === 0) return
    if (claimingSinks) {
      claimSinksAgain = true
      return
    }
    claimingSinks = (async () => {
      do {
        claimSinksAgain = false
        try {
          await sinks.claimAndSend()
        } catch (error) {
          logger.error({ err: (error as Error).message }, 'sink claim failed; retrying at the next poll')
          return
        }
      } while (claimSinksAgain && running)
    })().finally(() => {
      claimingSinks = undefined
    })
  }
  /** Session runs in progress = requests in flight (a run sends one request at a time). */
  const runs = new Set<Promise<void>>()
  const runsPerTenant = new Map<string, number>()

  let claimingEndpoints: Promise<void> | undefined
  let claimEndpointsAgain = false

  /**
   * The endpoints of /v1/webhooks are claimed by a loop of their own (their own rows, their own
   * slots), so the default endpoint's claims never wait behind theirs.
   */
  function requestEndpointClaim(): void {
    if (!running) return
    if (claimingEndpoints) {
      claimEndpointsAgain = true
      return
    }
    claimingEndpoints = (async () => {
      do {
        claimEndpointsAgain = false
        try {
          await endpoints.claimAndSend()
        } catch (error) {
          logger.error({ err: (error as Error).message }, 'endpoint claim failed; retrying at the next poll')
          return
        }
      } while (claimEndpointsAgain && running)
    })().finally(() => {
      claimingEndpoints = undefined
    })
  }

  /**
   * Whether any tenant has an enabled /v1/webhooks endpoint, re-read at every poll. While none does, a
   * commit does not cost an endpoint claim query (most events go to default webhooks only); a new
   * endpoint's first deliveries then wait for the next poll at most.
   */
  let endpointsExist = true
  async function pollClaims(): Promise<void> {
    try {
      const [row] = await database.rows<{ exist: boolean }>(
        sql`SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) AS exist`,
      )
      endpointsExist = row?.exist !== false
    } catch (error) {
      endpointsExist = true
      logger.warn({ err: (error as Error).message }, 'could not check for webhook endpoints')
    }
    requestClaim()
  }

  function requestClaim(): void {
    if (!running) return
    if (endpointsExist) requestEndpointClaim()
    requestSinkClaim()
    if (claiming) {
      claimAgain = true
      return
    }
    claiming = claimLoop().finally(() => {
      claiming = undefined
    })
  }

  async function claimLoop(): Promise<void> {
    do {
      claimAgain = false
      if (runs.size >= maxInFlight) return // a finishing run asks again
      let claimed: ClaimedEventRow[]
      try {
        claimed = await claimDueEvents()
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'webhook claim failed; retrying at the next poll')
        return
      }
      const started = await startRuns(claimed)
      // A full batch that started something suggests more is due; one that started nothing must not spin.
      if (claimed.length >= claimBatchSize && started > 0) claimAgain = true
    } while (claimAgain && running)
  }

  async function claimDueEvents(): Promise<ClaimedEventRow[]> {
    const saturated = [...runsPerTenant]
      .filter(([, count]) => count >= maxInFlightPerTenant)
      .map(([tenantId]) => tenantId)
    return runStatement<ClaimedEventRow>(database, CLAIM_DUE_EVENTS, [
      saturated,
      claimBatchSize,
      claimLeaseMs,
    ])
  }

  /** Starts a run per session of the claim and hands back what cannot go now; returns runs started. */
  async function startRuns(claimed: ClaimedEventRow[]): Promise<number> {
    let started = 0
    const bySession = new Map<string, ClaimedEvent[]>()
    for (const row of claimed) {
      const run = bySession.get(row.session_id) ?? []
      run.push({ row, attempt: Number(row.attempts) })
      bySession.set(row.session_id, run)
    }
    const handBack: ClaimedEvent[] = []
    for (const events of bySession.values()) {
      events.sort((a, b) => Number(a.row.seq) - Number(b.row.seq))
      // Deliverable prefix: the i-th event of the run has exactly i earlier pending events, all of them
      // in this run. Past that an earlier event is pending but not ours (cut by LIMIT, or skipped while
      // another dispatcher held its lock); those wait and are claimed again behind it.
      let deliverable = 0
      while (deliverable < events.length && Number(events[deliverable]!.row.earlier_pending) === deliverable)
        deliverable++
      const tenantId = events[0]!.row.tenant_id
      const tenantRuns = runsPerTenant.get(tenantId) ?? 0
      if (!running || deliverable === 0 || runs.size >= maxInFlight || tenantRuns >= maxInFlightPerTenant) {
        handBack.push(...events)
        continue
      }
      handBack.push(...events.slice(deliverable))
      runsPerTenant.set(tenantId, tenantRuns + 1)
      const run = deliverRun(events.slice(0, deliverable), Date.now())
        .catch((error) => logger.error({ err: (error as Error).message, tenantId }, 'webhook run failed'))
        .finally(() => {
          runs.delete(run)
          const left = (runsPerTenant.get(tenantId) ?? 1) - 1
          if (left > 0) runsPerTenant.set(tenantId, left)
          else runsPerTenant.delete(tenantId)
          requestClaim()
        })
      runs.add(run)
      started++
    }
    if (handBack.length > 0) await releaseClaims(handBack, sql`now()`)
    return started
  }

  /** Sends one session's claimed events in seq order; stops at the first failure. */
  async function deliverRun(events: ClaimedEvent[], claimedAt: number): Promise<void> {
    // Successes are recorded without holding up the next POST of the run (the receiver already has the
    // event); the run waits for them before it ends, so the next claim of the session sees them.
    const settling: Promise<void>[] = []
    try {
      for (let index = 0; index < events.length; index++) {
        const event = events[index]!
        if (!running || (index > 0 && Date.now() - claimedAt > requestTimeoutMs)) {
          await releaseClaims(events.slice(index), sql`now()`)
          return
        }
        const outcome = await deliverEvent(event)
        if (outcome.kind === 'failed' && stopController.signal.aborted) {
          // Stopped mid-request: hand the event back uncounted; the receiver may still get it twice.
          await releaseClaims(events.slice(index), sql`now()`)
          return
        }
        if (outcome.kind !== 'failed') {
          settling.push(recordSettled(event, outcome))
          continue
        }
        const retryAt = await recordFailure(event, outcome.error)
        await releaseClaims(events.slice(index + 1), retryAt ?? sql`now()`)
        return
      }
    } finally {
      await Promise.all(settling)
    }
  }

  async function deliverEvent(event: ClaimedEvent): Promise<Outcome> {
    const { row } = event
    if (!row.url || !row.secret_sealed) return { kind: 'skipped', reason: 'no webhook configured' }
    const filter = jsonValue(row.webhook_events) as string[] | null
    if (Array.isArray(filter) && !filter.includes(row.type))
      return { kind: 'skipped', reason: 'event type filtered out' }
    let secret: string
    // A rotated-out secret signs too while its grace period lasts (two signatures in one header).
    const previousSecrets: string[] = []
    try {
      const sealing = webhookSecretSealContext(row.tenant_id)
      secret = secretBox.open(row.secret_sealed, sealing).toString('utf8')
      if (row.previous_secret_sealed && row.previous_secret_valid)
        previousSecrets.push(secretBox.open(row.previous_secret_sealed, sealing).toString('utf8'))
    } catch {
      return { kind: 'failed', error: 'the webhook secret cannot be opened (wrong AUTH_STATE_KEY?)' }
    }
    const body = JSON.stringify(toEventEnvelope(row))
    const headers = {
      ...signWebhook({ secret, previousSecrets, messageId: row.id, timestamp: new Date(), body }),
      'content-type': 'application/json',
      'user-agent': 'wa-cluster-webhooks/1',
    }
    const startedAt = performance.now()
    try {
      const result = await postWebhook({
        agent,
        url: row.url,
        body,
        headers,
        timeoutMs: requestTimeoutMs,
        signal: stopController.signal,
      })
      // Only the status and a fixed reason are kept: never the receiver's body (issue 13).
      return result.ok ? { kind: 'delivered' } : { kind: 'failed', error: result.reason }
    } finally {
      metrics?.requestSeconds.observe((performance.now() - startedAt) / 1000)
    }
  }

  function eventContext(event: ClaimedEvent) {
    return {
      tenantId: event.row.tenant_id,
      sessionId: event.row.session_id,
      eventId: event.row.id,
      attempt: event.attempt,
    }
  }

  async function recordSettled(event: ClaimedEvent, outcome: Outcome): Promise<void> {
    const delivered = outcome.kind === 'delivered'
    // Fenced by the attempt number: a dispatcher whose lease ran out cannot overwrite the new owner's result.
    await runStatement(database, RECORD_SETTLED, [
      event.row.id,
      event.attempt,
      delivered ? 'delivered' : 'none',
      outcome.kind === 'skipped' ? outcome.reason : null,
    ])
    if (delivered) {
      metrics?.deliveries.inc({ outcome: 'delivered' })
      metrics?.latencySeconds.observe(Math.max(0, Date.now() - Date.parse(event.row.occurred_at)) / 1000)
      logger.debug(eventContext(event), 'webhook delivered')
    } else {
      metrics?.deliveries.inc({ outcome: 'skipped' })
    }
  }

  /** Schedules the retry (or dead-letters) and returns the retry time as SQL, or undefined when dead. */
  async function recordFailure(event: ClaimedEvent, error: string): Promise<SQL | undefined> {
    const lastError = error.slice(0, MAX_ERROR_LENGTH)
    if (event.attempt >= maxAttempts) {
      await database.rows(sql`
        UPDATE events SET delivery = 'dead', last_error = ${lastError}
        WHERE id = ${event.row.id} AND delivery = 'pending' AND attempts = ${event.attempt} AND ${SKIP_WAL_FLUSH}`)
      metrics?.deliveries.inc({ outcome: 'dead' })
      logger.warn(
        { ...eventContext(event), error: lastError },
        'webhook dead-lettered after its last attempt',
      )
      return undefined
    }
    const delayMs = webhookRetryDelayMs(event.attempt, backoff)
    // The session's later pending events wait behind this one: pushing them to its retry time keeps
    // every claim from scanning them again while it backs off.
    const [row] = await database.rows<{ retry_at: string }>(sql`
      WITH failed AS (
        UPDATE events SET next_attempt_at = now() + ${delayMs} * interval '1 millisecond', last_error = ${lastError}
        WHERE id = ${event.row.id} AND delivery = 'pending' AND attempts = ${event.attempt} AND ${SKIP_WAL_FLUSH}
        RETURNING session_id, seq, next_attempt_at
      ), deferred AS (
        UPDATE events later SET next_attempt_at = failed.next_attempt_at
        FROM failed
        WHERE later.session_id = failed.session_id AND later.delivery = 'pending' AND later.seq > failed.seq
          AND later.next_attempt_at < failed.next_attempt_at
      )
      SELECT to_json(next_attempt_at) #>> '{}' AS retry_at FROM failed`)
    metrics?.deliveries.inc({ outcome: 'failed' })
    logger.warn({ ...eventContext(event), error: lastError, retryInMs: delayMs }, 'webhook delivery failed')
    return row ? sql`${row.retry_at}::timestamptz` : undefined
  }

  /** Returns claims unsent: the attempt is not counted and the event is due again at `dueAt`. */
  async function releaseClaims(events: ClaimedEvent[], dueAt: SQL): Promise<void> {
    if (events.length === 0) return
    const claims = sql.join(
      events.map((event) => sql`(${event.row.id}::text, ${event.attempt}::int)`),
      sql`, `,
    )
    await database.rows(sql`
      UPDATE events SET attempts = attempts - 1, next_attempt_at = ${dueAt}
      WHERE delivery = 'pending' AND (id, attempts) IN (${claims}) AND ${SKIP_WAL_FLUSH}`)
  }

  return {
    async start() {
      if (running) return
      if (stopping) await stopping
      // Registers the broker sinks (event_sinks) before anything is claimed; a second start() that
      // overlapped this one finds the dispatcher running.
      await sinks.start()
      if (running) return
      running = true
      stopController = new AbortController()
      if (agent.closed || agent.destroyed) agent = newAgent()
      pollTimer = setInterval(() => void pollClaims(), pollIntervalMs)
      pollTimer.unref()
      // Catch up at once on whatever came due while nothing was dispatching.
      void pollClaims()
    },
    async stop() {
      if (!running) return stopping
      running = false
      clearInterval(pollTimer)
      pollTimer = undefined
      // A request in flight may already be answered: aborting it would hand back an event the receiver
      // has, to be sent again after the restart (issue 13). Let it finish and record it; abort only
      // what is still waiting when the drain time is up.
      const abortLeftovers = setTimeout(() => stopController.abort(), drainTimeoutMs)
      stopping = (async () => {
        await claiming
        await claimingEndpoints
        await claimingSinks
        // Runs hand back what they did not send; wait so no write lands after the database closes.
        await Promise.allSettled([...runs, ...endpoints.inFlight, ...sinks.inFlight])
        clearTimeout(abortLeftovers)
        await sinks.close()
        await agent
          .close()
          .catch((error: unknown) =>
            logger.warn({ err: (error as Error).message }, 'could not close the webhook connections'),
          )
      })()
      await stopping
      stopping = undefined
    },
    notify: requestClaim,
    deliverClaimed(claimed) {
      if (claimed.length === 0) return
      void startRuns(claimed).catch((error) =>
        logger.error({ err: (error as Error).message }, 'webhook fast-path delivery failed to start'),
      )
    },
    claimLeaseMs,
  }
}
