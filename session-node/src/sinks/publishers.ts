import { type EventSinkConfig, maskUrlCredentials } from '@wa-cluster/shared'
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib'
import {
  type JetStreamClient,
  type NatsConnection,
  connect as natsConnect,
  headers as natsHeaders,
  StorageType,
} from 'nats'
import type { Logger } from 'pino'

/**
 * Publishes one event to a broker and resolves only once the broker has taken responsibility for it
 * (a RabbitMQ publisher confirm, a JetStream publish ack). Connections are opened lazily and reopened
 * after any failure, so a broker outage is just a series of failed publishes until it returns. close()
 * ends the connection; a later publish opens a new one.
 */
export type SinkPublisher = {
  readonly name: string
  /** The routing key (AMQP) or subject (NATS) of an event. */
  address(event: { tenantId: string; sessionId: string; type: string }): string
  publish(message: { address: string; body: string; eventId: string; type: string }): Promise<void>
  close(): Promise<void>
}

/** A routing key / subject word: anything but [A-Za-z0-9_-] (dots, wildcards, spaces) becomes `_`. */
export function sinkWord(value: string): string {
  const word = value.replace(/[^A-Za-z0-9_-]/g, '_')
  return word.length > 0 ? word : '_'
}

/** `<prefix>.<tenantId>.<sessionId>.<type>`, every part but the prefix made one safe word. */
export function sinkAddress(
  prefix: string,
  event: { tenantId: string; sessionId: string; type: string },
): string {
  return `${prefix}.${sinkWord(event.tenantId)}.${sinkWord(event.sessionId)}.${sinkWord(event.type)}`
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export function createSinkPublisher(
  sink: EventSinkConfig,
  options: { timeoutMs: number; logger: Logger },
): SinkPublisher {
  return sink.kind === 'amqp' ? amqpPublisher(sink, options) : natsPublisher(sink, options)
}

function amqpPublisher(
  sink: Extract<EventSinkConfig, { kind: 'amqp' }>,
  { timeoutMs, logger }: { timeoutMs: number; logger: Logger },
): SinkPublisher {
  const where = { sink: sink.name, url: maskUrlCredentials(sink.url), exchange: sink.exchange }
  let connection: ChannelModel | undefined
  let channel: ConfirmChannel | undefined
  let opening: Promise<ConfirmChannel> | undefined

  function drop(): void {
    const old = connection
    connection = undefined
    channel = undefined
    old?.close().catch(() => {})
  }

  async function open(): Promise<ConfirmChannel> {
    const model = await amqp.connect(sink.url, { timeout: timeoutMs })
    model.on('error', (error: Error) =>
      logger.warn({ ...where, err: error.message }, 'AMQP connection error'),
    )
    model.on('close', () => {
      if (connection === model) {
        connection = undefined
        channel = undefined
      }
    })
    try {
      const confirm = await model.createConfirmChannel()
      confirm.on('error', (error: Error) =>
        logger.warn({ ...where, err: error.message }, 'AMQP channel error'),
      )
      confirm.on('close', () => {
        if (channel === confirm) drop()
      })
      await confirm.assertExchange(sink.exchange, 'topic', { durable: true })
      connection = model
      channel = confirm
      logger.info(where, 'AMQP sink connected')
      return confirm
    } catch (error) {
      await model.close().catch(() => {})
      throw error
    }
  }

  async function ready(): Promise<ConfirmChannel> {
    if (channel) return channel
    opening ??= withTimeout(open(), timeoutMs, 'AMQP connect').finally(() => {
      opening = undefined
    })
    return opening
  }

  return {
    name: sink.name,
    address: (event) => sinkAddress(sink.prefix, event),
    async publish({ address, body, eventId, type }) {
      const confirm = await ready()
      try {
        await withTimeout(
          new Promise<void>((resolve, reject) => {
            confirm.publish(
              sink.exchange,
              address,
              Buffer.from(body),
              {
                persistent: true,
                messageId: eventId,
                type,
                contentType: 'application/json',
                timestamp: Math.floor(Date.now() / 1000),
              },
              (error: unknown) =>
                error ? reject(error instanceof Error ? error : new Error('nacked')) : resolve(),
            )
          }),
          timeoutMs,
          'AMQP publisher confirm',
        )
      } catch (error) {
        // Nack, timeout or lost connection: start over on a fresh connection next time.
        drop()
        throw error
      }
    },
    async close() {
      await opening?.catch(() => {})
      const old = connection
      connection = undefined
      channel = undefined
      await old?.close().catch(() => {})
    },
  }
}

function natsPublisher(
  sink: Extract<EventSinkConfig, { kind: 'nats' }>,
  { timeoutMs, logger }: { timeoutMs: number; logger: Logger },
): SinkPublisher {
  const where = { sink: sink.name, url: maskUrlCredentials(sink.url), stream: sink.stream }
  let connection: NatsConnection | undefined
  let jetstream: JetStreamClient | undefined
  let opening: Promise<JetStreamClient> | undefined

  async function open(): Promise<JetStreamClient> {
    const nc = await natsConnect({
      servers: sink.url.split(','),
      timeout: timeoutMs,
      // Reconnects forever while open; publishes fail (and are retried from the outbox) meanwhile.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      name: `wa-cluster sink ${sink.name}`,
    })
    void nc.closed().then((error) => {
      if (connection === nc) {
        connection = undefined
        jetstream = undefined
      }
      if (error) logger.warn({ ...where, err: error.message }, 'NATS connection closed')
    })
    try {
      const manager = await nc.jetstreamManager({ timeout: timeoutMs })
      const subjects = [`${sink.prefix}.>`]
      try {
        await manager.streams.info(sink.stream)
      } catch {
        await manager.streams.add({ name: sink.stream, subjects, storage: StorageType.File })
      }
      const client = nc.jetstream({ timeout: timeoutMs })
      connection = nc
      jetstream = client
      logger.info(where, 'NATS sink connected')
      return client
    } catch (error) {
      await nc.close().catch(() => {})
      throw error
    }
  }

  async function ready(): Promise<JetStreamClient> {
    if (jetstream) return jetstream
    opening ??= withTimeout(open(), timeoutMs, 'NATS connect').finally(() => {
      opening = undefined
    })
    return opening
  }

  return {
    name: sink.name,
    address: (event) => sinkAddress(sink.prefix, event),
    async publish({ address, body, eventId, type }) {
      const client = await ready()
      const messageHeaders = natsHeaders()
      messageHeaders.set('Content-Type', 'application/json')
      messageHeaders.set('Wa-Event-Type', type)
      // The event id is JetStream's Nats-Msg-Id: a retry inside the duplicate window is stored once.
      await client.publish(address, new TextEncoder().encode(body), {
        msgID: eventId,
        headers: messageHeaders,
        timeout: timeoutMs,
      })
    },
    async close() {
      await opening?.catch(() => {})
      const old = connection
      connection = undefined
      jetstream = undefined
      await old?.close().catch(() => {})
    },
  }
}
