import { createOutboundPolicy, type RuntimeBase } from '@wa-cluster/core'
import { type Config, configuredEventSinks } from '@wa-cluster/shared'
import { WA_CERT_DETAILS } from '@whiskeysockets/baileys'
import type { Logger } from 'pino'
import { installLeanAsyncContext } from './providers/baileys/async-context.js'
import { assertBaileysPatched } from './providers/baileys/baileys-provider.js'
import type { CommitNotice } from './runner/fenced-writes.js'
import { createWebhookDispatcher, type WebhookDispatcher } from './webhooks/dispatcher.js'

// What a process that runs sessions sets up beyond the shared runtime kit. Each global patch is a
// function the entry point calls, so a process that runs no sessions never pays for one.

/**
 * libsignal (under Baileys) prints whole session records — private keys included — with console.log
 * ("Closing session: SessionEntry {…}"). Nothing of ours uses the console, so its chatter is kept to one
 * line without arguments, at debug level.
 */
const LIBSIGNAL_CHATTER =
  /^(Closing session|Closing open session|Removing old closed session|Session already|Decrypted message with closed session|Migrating session|V1 session storage|Failed to decrypt|Session error)/

export function silenceLibsignalConsole(logger: Logger): void {
  for (const level of ['log', 'info', 'warn', 'error'] as const) {
    const original = console[level].bind(console)
    console[level] = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && LIBSIGNAL_CHATTER.test(args[0])) {
        logger.debug({ component: 'libsignal' }, args[0].slice(0, 80))
        return
      }
      original(...args)
    }
  }
}

/**
 * Process-wide set-up for running Baileys sockets, called once by every entry point that runs a
 * session-node: the async-context patch (see providers/baileys/async-context.ts), libsignal's console kept quiet,
 * and, against a simulator, its certificate root trusted.
 */
export function prepareSessionProcess(config: Pick<Config, 'WA_TRUSTED_ROOT_KEY'>, logger: Logger): void {
  assertBaileysPatched()
  installLeanAsyncContext()
  silenceLibsignalConsole(logger)
  if (config.WA_TRUSTED_ROOT_KEY) {
    // Mutates the one Baileys module instance this process uses.
    ;(WA_CERT_DETAILS as { PUBLIC_KEY: Uint8Array }).PUBLIC_KEY = Buffer.from(
      config.WA_TRUSTED_ROOT_KEY,
      'base64',
    )
  }
}

/** The webhook dispatcher every session-node runs over the shared outbox. */
export function createDispatcherFor(base: RuntimeBase): WebhookDispatcher {
  return createWebhookDispatcher({
    database: base.database,
    secretBox: base.secretBox,
    logger: base.logger.child({ component: 'webhooks' }),
    metrics: base.metrics,
    outboundPolicy: createOutboundPolicy(base.config.ALLOW_PRIVATE_NETWORKS),
    options: {
      maxAttempts: base.config.WEBHOOK_MAX_ATTEMPTS,
      requestTimeoutMs: base.config.WEBHOOK_TIMEOUT_MS,
    },
    sinks: {
      configs: configuredEventSinks(base.config),
      authoritative:
        base.config.EVENT_SINKS !== undefined || !!base.config.AMQP_URL || !!base.config.NATS_URL,
    },
  })
}

/**
 * What a session-node hands its local dispatcher after each commit: events the append claimed go out
 * at once; anything pending and unclaimed wakes a claim.
 */
export function dispatcherHooks(dispatcher: WebhookDispatcher) {
  return {
    webhookClaimLeaseMs: dispatcher.claimLeaseMs,
    deliverCommitted(notice: CommitNotice): void {
      dispatcher.deliverClaimed(notice.claimed)
      if (notice.unclaimed) dispatcher.notify()
    },
  }
}
