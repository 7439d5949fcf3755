import { z } from 'zod'
import { parseNetworkAllowList } from './network-allow-list.js'
import { countryOfSetting } from './phone.js'

/**
 * The whole environment contract, parsed once at start-up. Apps call `parseConfig(process.env, role)`
 * from their own config.ts; nothing else reads process.env.
 */
const base64Key = (what: string) =>
  z
    .string()
    .refine(
      (value) => Buffer.from(value, 'base64').length === 32,
      `must be ${what}: 32 bytes, base64-encoded`,
    )

const positiveInt = z.coerce.number().int().positive()

const sinkTenants = z.array(z.string().min(1)).min(1).optional()
/** First segment of every routing key / subject. */
const sinkPrefix = z
  .string()
  .regex(
    /^[a-zA-Z0-9_-]{1,32}(\.[a-zA-Z0-9_-]{1,32}){0,3}$/,
    'must be 1-4 dot-separated words of [a-zA-Z0-9_-]',
  )
  .default('wa')
const sinkName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 of [a-zA-Z0-9_-]')
const amqpUrl = z.string().regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL')
const natsUrl = z
  .string()
  .regex(/^(nats|tls):\/\/[^,]+(,(nats|tls):\/\/[^,]+)*$/, 'must be nats:// URLs, comma-separated')

/** One broker sink of EVENT_SINKS. */
export const eventSinkSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('amqp'),
    name: sinkName,
    url: amqpUrl,
    /** A durable topic exchange, declared when missing. */
    exchange: z.string().min(1).max(255).default('wa.events'),
    prefix: sinkPrefix,
    /** Tenants whose events go to this sink; absent = every tenant. */
    tenants: sinkTenants,
  }),
  z.strictObject({
    kind: z.literal('nats'),
    name: sinkName,
    url: natsUrl,
    /** A JetStream stream over `<prefix>.>`, created when missing. */
    stream: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 of [a-zA-Z0-9_-]')
      .default('WA_EVENTS'),
    prefix: sinkPrefix,
    tenants: sinkTenants,
  }),
])

export type EventSinkConfig = z.output<typeof eventSinkSchema>

const eventSinksSchema = z
  .string()
  .transform((value, context) => {
    try {
      return JSON.parse(value) as unknown
    } catch {
      context.addIssue({ code: 'custom', message: 'must be a JSON array of sinks' })
      return z.NEVER
    }
  })
  .pipe(
    z
      .array(eventSinkSchema, 'must be a JSON array of sinks')
      .refine(
        (sinks) => new Set(sinks.map((sink) => sink.name)).size === sinks.length,
        'must give every sink a different name',
      ),
  )

export const configSchema = z.object({
  /** HTTP port of the public API. Default 8080. */
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Host to bind. Default 127.0.0.1 (this machine only); the container images set 0.0.0.0. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * The gateway's address as browsers reach it (`https://wa.example.com`), for the link pages it hands
   * out and their same-origin check. Unset: the origin of the request that asks for the link.
   */
  PUBLIC_URL: z
    .string()
    .regex(/^https?:\/\/[^/?#]+\/?$/, 'must be an http:// or https:// origin, without a path')
    .transform((value) => new URL(value).origin)
    .optional(),
  /**
   * Port of a separate operator listener that serves only Prometheus `/metrics` (on HOST). Unset: no
   * such listener. The public API port never serves /metrics. A session-node keeps /metrics on PORT.
   */
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Embedded mode: where PGlite data and generated keys live. Default ./.wa-cluster */
  DATA_DIR: z.string().min(1).default('./.wa-cluster'),
  /** Postgres URL; when absent the embedded PGlite in DATA_DIR is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  /** Redis URL; when absent coordination is in-process (single process only). */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  /** Prefix of every Redis key and channel, so several clusters can share one Redis. Default `wa`. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'must be 1-64 of [a-zA-Z0-9_.-]')
    .default('wa'),
  /** Operator key for /v1/tenants and /v1/nodes. Generated and persisted in embedded mode when absent. */
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** 32-byte base64 key sealing credentials at rest. Generated in embedded mode; required otherwise. */
  AUTH_STATE_KEY: base64Key('an AES-256 key').optional(),
  /**
   * Keys AUTH_STATE_KEY replaced, comma-separated: they still open values sealed before the rotation
   * until `npm run secrets:reseal` has re-sealed everything with AUTH_STATE_KEY. Empty by default.
   */
  AUTH_STATE_PREVIOUS_KEYS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((key) => key.trim())
        .filter(Boolean),
    )
    .pipe(z.array(base64Key('an AES-256 key'))),
  /**
   * Country of numbers written without a country code (0812…, 812…) for tenants that set no
   * `defaultCountry`: an ISO 3166 alpha-2 code (`ID`) or a calling code (`62`, read as its main
   * country: `1` is US). Parsed to the ISO code. Default 62 (Indonesia).
   */
  DEFAULT_COUNTRY_CODE: z
    .string()
    .default('62')
    .transform((value, context) => {
      const country = countryOfSetting(value)
      if (country) return country
      context.addIssue({
        code: 'custom',
        message: 'must be an ISO 3166 alpha-2 country (ID) or a calling code (62)',
      })
      return z.NEVER
    }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Log level of the Baileys client inside each session (it is chatty). Default warn. */
  BAILEYS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  /** WhatsApp websocket URL (point it at wa-sim in tests). Default WhatsApp's own. */
  WA_WS_URL: z
    .string()
    .regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL')
    .optional(),
  /** Base64 root public key of a simulator's noise certificate. */
  WA_TRUSTED_ROOT_KEY: base64Key('a Curve25519 public key').optional(),
  /**
   * A certificate authority WhatsApp's media servers are trusted through besides the system's: a PEM
   * (`-----BEGIN CERTIFICATE-----…`) or the path of a PEM file. A simulator prints its own. Default none.
   */
  WA_MEDIA_CA: z.string().min(1).optional(),
  /** Run an in-process wa-sim and point the gateway at it (demo mode). */
  WA_SIM: z
    .enum(['0', '1', 'true', 'false'])
    .default('0')
    .transform((value) => value === '1' || value === 'true'),
  /** Session-node id. Default: a generated one. */
  NODE_ID: z
    .string()
    .regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'must be 1-64 of [a-zA-Z0-9_.-]')
    .optional(),
  /** Sessions one node may hold. Default 500. */
  SESSION_NODE_CAPACITY: positiveInt.default(500),
  /** Session ownership lease TTL. Default 15000 ms. */
  LEASE_TTL_MS: positiveInt.min(1000).default(15_000),
  /** Node heartbeat interval. Default 2000 ms. */
  HEARTBEAT_INTERVAL_MS: positiveInt.min(100).default(2_000),
  /** A node whose heartbeat is older than this is dead. Default 10000 ms. */
  NODE_TTL_MS: positiveInt.min(500).default(10_000),
  /** How often a node re-reads its assignments (a lost nudge only delays). Default 5000 ms. */
  RECONCILE_INTERVAL_MS: positiveInt.min(100).default(5_000),
  /**
   * Hand-overs in flight at once during a drain, a rebalance or a graceful shutdown; each waits for its
   * session to be CONNECTED on the new node. Fewer means a shorter gap per session. Default 4.
   */
  HAND_OVER_CONCURRENCY: positiveInt.max(64).default(4),
  /** Failover pacing: sessions re-placed per second by the leader. Default 50. */
  FAILOVER_RATE_PER_SECOND: positiveInt.default(50),
  /**
   * A queued message whose session is not connected fails after this long (\`messages.update\` failed,
   * error \`session_not_connected\`), instead of going out hours later or never. Default 30 minutes.
   */
  QUEUED_SEND_TIMEOUT_MS: positiveInt.min(1_000).default(30 * 60_000),
  /**
   * How long the API waits for a session's owning node to carry out a request on the live connection
   * (chat read, presence, number check, group list) before answering 504. Default 15 s.
   */
  SESSION_COMMAND_TIMEOUT_MS: positiveInt.min(100).max(120_000).default(15_000),
  /**
   * How often the retention job (on the failover leader) deletes messages older than their tenant's
   * `retentionDays`. Default 1 hour.
   */
  RETENTION_INTERVAL_MS: positiveInt.min(1_000).default(60 * 60_000),
  /** Messages (or events) the retention job deletes per statement. Default 1000. */
  RETENTION_BATCH_SIZE: positiveInt.max(100_000).default(1_000),
  /** The retention job's pause between batches, so it never hogs Postgres. Default 200 ms. */
  RETENTION_PAUSE_MS: z.coerce.number().int().min(0).default(200),
  /**
   * The least `delayMs` a broadcast may ask for. Default 1000: faster than one a second is how numbers
   * get banned. Lower it only where a number is known to bear it, or in tests.
   */
  BROADCAST_MIN_DELAY_MS: positiveInt.default(1000),
  /** Messages a tenant may send per session per minute (429 with Retry-After past it). Default 100. */
  SEND_RATE_LIMIT_PER_MINUTE: positiveInt.default(100),
  /** Sessions a tenant may have, unless the operator set its `limits.sessions`. Default 100. */
  TENANT_MAX_SESSIONS: positiveInt.default(100),
  /**
   * API requests a tenant may make per minute, all control-planes together, unless the operator set
   * its `limits.requestsPerMinute` (429 with Retry-After past it). Default 1200.
   */
  TENANT_REQUESTS_PER_MINUTE: positiveInt.default(1200),
  /**
   * Private targets webhooks may reach after all: comma-separated CIDRs, addresses or host names
   * (`10.20.0.0/16,hooks.corp.example`). Loopback, private, link-local, CGNAT, unique-local and
   * metadata targets are refused unless listed. Default empty (none).
   */
  ALLOW_PRIVATE_NETWORKS: z
    .string()
    .default('')
    .superRefine((value, context) => {
      try {
        parseNetworkAllowList(value)
      } catch (error) {
        context.addIssue({
          code: 'custom',
          message: `must list CIDRs or host names: ${(error as Error).message}`,
        })
      }
    }),
  /** Webhook delivery attempts before an event is dead-lettered. Default 12. */
  WEBHOOK_MAX_ATTEMPTS: positiveInt.default(12),
  /**
   * How long a webhook receiver has to answer. A dispatcher's claim on an event lasts three times this,
   * which is also how long a crashed node's claimed events wait before another dispatcher sends them.
   * Default 10 s.
   */
  WEBHOOK_TIMEOUT_MS: positiveInt.min(500).max(120_000).default(10_000),
  /**
   * Live event streams (SSE and WebSocket): a heartbeat (SSE comment / WS ping) this often keeps proxies
   * from closing an idle stream. Default 15000 ms.
   */
  STREAM_HEARTBEAT_MS: positiveInt.min(10).default(15_000),
  /**
   * Bytes of events one stream may have waiting for its client; a client that stops reading for longer
   * is disconnected (it resumes with Last-Event-ID). Default 1 MiB.
   */
  STREAM_BUFFER_BYTES: positiveInt.min(1024).default(1024 * 1024),
  /**
   * Safety re-read of the outbox by every tenant feed with a live stream, in case an announcement was
   * lost (database connection dropped). Announcements wake streams at once; this only bounds a delay.
   * Default 5000 ms.
   */
  STREAM_REREAD_INTERVAL_MS: positiveInt.min(50).default(5_000),
  /**
   * The shortest time between two outbox reads of one tenant's feed. An event that finds the feed idle
   * is read at once; under a steady flow, events committed within this time go to every stream in one
   * read and one write per stream instead of one each (fewer queries and writes, the client woken
   * fewer times), at a cost of at most this much added latency. 0 reads after every commit. Default 10 ms.
   */
  STREAM_BATCH_MS: z.coerce.number().int().min(0).max(1_000).default(10),
  /**
   * Broker sinks (RabbitMQ, NATS JetStream) that receive every event of all or chosen tenants, as a
   * JSON array: `[{"kind":"amqp","name":"bus","url":"amqp://…","exchange":"wa.events","tenants":["t1"]},
   * {"kind":"nats","name":"js","url":"nats://…","stream":"WA_EVENTS"}]`. Default none. See OPERATIONS.md.
   */
  EVENT_SINKS: eventSinksSchema.optional(),
  /** Shorthand for one RabbitMQ sink named `amqp` (with AMQP_EXCHANGE, SINK_TENANTS). */
  AMQP_URL: amqpUrl.optional(),
  AMQP_EXCHANGE: z.string().min(1).max(255).default('wa.events'),
  /** Shorthand for one NATS JetStream sink named `nats` (with NATS_STREAM, SINK_TENANTS). */
  NATS_URL: natsUrl.optional(),
  NATS_STREAM: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 of [a-zA-Z0-9_-]')
    .default('WA_EVENTS'),
  /** Tenants the AMQP_URL / NATS_URL sinks receive, comma-separated; empty = every tenant. */
  SINK_TENANTS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((tenant) => tenant.trim())
        .filter(Boolean),
    ),
})

export type Config = z.infer<typeof configSchema>
export type Role = 'all-in-one' | 'control-plane' | 'session-node'

/** Zod's messages are written for developers; say what the operator must change. */
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.expected === 'array') return 'must be a JSON array'
      return issue.expected === 'number' ? 'must be a number' : `must be a ${issue.expected}`
    case 'invalid_union':
      return 'must be "amqp" or "nats"'
    case 'too_small':
      if (issue.origin === 'array') return `must list at least ${issue.minimum}`
      return issue.inclusive === false
        ? `must be greater than ${issue.minimum}`
        : `must be at least ${issue.minimum}`
    case 'too_big':
      return issue.inclusive === false
        ? `must be less than ${issue.maximum}`
        : `must be at most ${issue.maximum}`
    case 'invalid_value':
      return `must be one of ${issue.values.join(', ')}`
    default:
      return issue.message
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Parses the environment; throws a ConfigError whose message is one readable line. */
export function parseConfig(env: Record<string, string | undefined>, role: Role): Config {
  // Empty strings are how shells and compose files say "unset".
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  )
  const result = configSchema.safeParse(cleaned)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const name = String(issue.path[0] ?? 'environment')
    const given = cleaned[name]
    // Broker URLs carry credentials: never echo them.
    const secret = /KEY|SECRET|PASSWORD|SINKS|_URL/.test(name)
    const shown = given === undefined || secret ? '' : ` (got "${given}")`
    const where = issue.path
      .slice(1)
      .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
      .join('')
    throw new ConfigError(`invalid configuration: ${name}${where} ${describeIssue(issue)}${shown}`)
  }
  const config = result.data
  const sinkNames = new Set((config.EVENT_SINKS ?? []).map((sink) => sink.name))
  if (config.AMQP_URL && sinkNames.has('amqp'))
    throw new ConfigError('invalid configuration: AMQP_URL names a sink "amqp" that EVENT_SINKS also names')
  if (config.NATS_URL && sinkNames.has('nats'))
    throw new ConfigError('invalid configuration: NATS_URL names a sink "nats" that EVENT_SINKS also names')
  if (config.METRICS_PORT !== undefined && config.METRICS_PORT === config.PORT)
    throw new ConfigError('invalid configuration: METRICS_PORT must differ from PORT')
  if (role !== 'all-in-one') {
    if (!config.DATABASE_URL)
      throw new ConfigError(`invalid configuration: DATABASE_URL is required for the ${role}`)
    if (!config.REDIS_URL)
      throw new ConfigError(`invalid configuration: REDIS_URL is required for the ${role}`)
    // Both roles seal secrets: the node WhatsApp credentials, the control-plane webhook secrets.
    if (!config.AUTH_STATE_KEY)
      throw new ConfigError(`invalid configuration: AUTH_STATE_KEY is required for the ${role}`)
    if (!config.ADMIN_API_KEY && role === 'control-plane')
      throw new ConfigError('invalid configuration: ADMIN_API_KEY is required for the control-plane')
  }
  return config
}

/** Every broker sink the configuration names: EVENT_SINKS, then the AMQP_URL / NATS_URL shorthands. */
export function configuredEventSinks(config: Config): EventSinkConfig[] {
  const sinks = [...(config.EVENT_SINKS ?? [])]
  const tenants = config.SINK_TENANTS.length > 0 ? config.SINK_TENANTS : undefined
  if (config.AMQP_URL)
    sinks.push({
      kind: 'amqp',
      name: 'amqp',
      url: config.AMQP_URL,
      exchange: config.AMQP_EXCHANGE,
      prefix: 'wa',
      tenants,
    })
  if (config.NATS_URL)
    sinks.push({
      kind: 'nats',
      name: 'nats',
      url: config.NATS_URL,
      stream: config.NATS_STREAM,
      prefix: 'wa',
      tenants,
    })
  return sinks
}

/** A broker or receiver URL fit for logs: the password (and a user's token) replaced by `***`. */
export function maskUrlCredentials(url: string): string {
  return url
    .split(',')
    .map((one) =>
      one.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_, scheme: string, auth: string) => {
        const colon = auth.indexOf(':')
        return `${scheme}${colon >= 0 ? `${auth.slice(0, colon)}:***` : '***'}@`
      }),
    )
    .join(',')
}
