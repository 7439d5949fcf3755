import type { IncomingMessage } from 'node:http'
import type { SSEStreamingApi } from 'hono/streaming'
import type { ControlPlaneContext } from '../context.js'
import type { PlannedStream } from '../services/event-streams.js'
import type { StreamTransport } from './event-stream.js'

/**
 * Runs one SSE stream until it ends. Each event is `id: <event id>` + `data: <envelope JSON>`; idle
 * heartbeats and the "replay done" marker are comment lines, which EventSource ignores.
 */
export async function sseTransport(
  ctx: ControlPlaneContext,
  plan: PlannedStream,
  sse: SSEStreamingApi,
  incoming: IncomingMessage | undefined,
): Promise<void> {
  const transport: StreamTransport = {
    sendEvent: (event) => sse.writeSSE({ id: event.envelope.id, data: event.json }),
    heartbeat: () => {
      void sse.write(': heartbeat\n\n').catch(() => {})
    },
    end: (reason) => {
      if (reason === 'slow_consumer' || reason === 'error') {
        // What is queued for a client that stopped reading is dropped with its socket, not flushed.
        incoming?.socket.destroy()
        void sse.abort()
        return
      }
      void sse.close().catch(() => {})
    },
  }
  const stream = ctx.eventStreams.open({
    tenantId: plan.tenantId,
    filter: plan.filter,
    start: plan.start,
    transport,
  })
  sse.onAbort(() => stream.end('client_closed'))
  const expiry = plan.expiresAt
    ? setTimeout(() => stream.end('token_expired'), Math.max(0, plan.expiresAt.getTime() - Date.now()))
    : undefined
  try {
    await stream.live()
    // After the replayed events, so a client that sees it has everything up to "now".
    await stream.whenDrained()
    if (!stream.endReason) await sse.write(': ready\n\n').catch(() => {})
    await stream.done()
  } finally {
    clearTimeout(expiry)
  }
}
