import { hostname } from 'node:os'
import { type DatabaseHandle, openDatabase } from '@wa-cluster/db'
import {
  type Config,
  ConfigError,
  createSecretBox,
  parseSecretBoxKey,
  type SecretBox,
} from '@wa-cluster/shared'
import pino, { type Logger } from 'pino'
import { Counter, collectDefaultMetrics, Registry } from 'prom-client'
import type { Coordinator } from '../coordination/coordinator.js'
import { createMemoryCoordinator } from '../coordination/memory-coordinator.js'
import { createRedisCoordinator } from '../coordination/redis-coordinator.js'

/** The pieces every wa-cluster process is built from. */
export type RuntimeBase = {
  config: Config
  logger: Logger
  database: DatabaseHandle
  coordinator: Coordinator
  secretBox: SecretBox
  metrics: Registry
}

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>, base: Record<string, unknown>): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { ...base, pid: process.pid },
    // Secrets never reach a log line, even by accident through a logged request or config object.
    redact: {
      paths: [
        '*.authorization',
        '*.apiKey',
        '*.secret',
        '*.AUTH_STATE_KEY',
        '*.AUTH_STATE_PREVIOUS_KEYS',
        '*.ADMIN_API_KEY',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
  })
}

export function generateNodeId(): string {
  return `node-${hostname()
    .replace(/[^a-zA-Z0-9_.-]/g, '')
    .slice(0, 24)}-${Math.random().toString(36).slice(2, 8)}`
}

/**
 * Opens the database (Postgres when DATABASE_URL is set, else PGlite under `pgliteDir`) and the
 * coordinator (Redis when REDIS_URL is set, else in-process).
 */
export function createRuntimeBase(input: {
  config: Config
  logger: Logger
  authStateKey: string
  /** Keys the primary replaced: they open older values until a re-seal (AUTH_STATE_PREVIOUS_KEYS). */
  previousAuthStateKeys?: string[]
  pgliteDir?: string
}): RuntimeBase {
  const { config, logger } = input
  const database = config.DATABASE_URL
    ? openDatabase({ url: config.DATABASE_URL })
    : openDatabase({ dataDir: input.pgliteDir })
  const coordinator = config.REDIS_URL
    ? createRedisCoordinator({
        url: config.REDIS_URL,
        namespace: config.REDIS_KEY_PREFIX,
        logger: logger.child({ component: 'coordinator' }),
      })
    : createMemoryCoordinator()
  const metrics = new Registry()
  collectDefaultMetrics({ register: metrics })
  logUnhandledRejections(logger, metrics)
  return {
    config,
    logger,
    database,
    coordinator,
    secretBox: createSecretBox(
      parseSecretBoxKey(input.authStateKey),
      (input.previousAuthStateKeys ?? config.AUTH_STATE_PREVIOUS_KEYS).map(parseSecretBoxKey),
    ),
    metrics,
  }
}

let rejectionsLogged = false

/**
 * A promise rejected with nobody to handle it is a bug of ours, but one stray rejection (a database
 * call during an outage, say) must not take every session of the process down with it: the state
 * that matters is in Postgres behind fencing, and a crash would only add a failover. It is logged at
 * error level with its stack and counted (`wa_unhandled_rejections_total`), once per process.
 */
function logUnhandledRejections(logger: Logger, metrics: Registry): void {
  if (rejectionsLogged) return
  rejectionsLogged = true
  const counter = new Counter({
    name: 'wa_unhandled_rejections_total',
    help: 'Promise rejections nothing handled (logged; each one is a bug to fix)',
    registers: [metrics],
  })
  process.on('unhandledRejection', (reason) => {
    counter.inc()
    logger.error({ err: reason }, 'unhandled promise rejection')
  })
}

/** Parses the configuration; a bad value ends the process with its one-line message, nothing else. */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    process.exit(1)
  }
}

/**
 * Runs `steps` once on the first SIGTERM or SIGINT (logged), then exits. Steps go in order: stop taking
 * work, hand sessions over, stop background loops, close the coordinator and the database last.
 */
export function onShutdownSignal(logger: Logger, steps: () => Promise<void>): void {
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'shutting down')
    await steps()
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}
