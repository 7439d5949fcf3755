import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SSEStreamingApi } from 'hono/streaming'
import type { ControlPlaneContext } from '../context.js'
import type { PlannedStream } from '../services/event-streams.js'
import { type LiveStream, type StreamTransport, sseFrameOf } from './event-stream.js'

// One SSE stream: each event is `id: <event id>` + `data: <envelope JSON>`; idle heartbeats and the
// "replay done" marker are comment lines, which EventSource ignores.

const HEARTBEAT = Buffer.from(': heartbeat\n\n')
const READY = Buffer.from(': ready\n\n')

/** The headers of every stream response; proxies must neither buffer nor cache it. */
export function sseHeaders(requestId: string): Record<string, string> {
  return {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': requestId,
  }
}

/** Runs the stream until it ends, then ends the token timer. */
async function runStream(stream: LiveStream, plan: PlannedStream, sendReady: () => void): Promise<void> {
  const expiry = plan.expiresAt
    ? setTimeout(() => stream.end('token_expired'), Math.max(0, plan.expiresAt.getTime() - Date.now()))
    : undefined
  try {
    await stream.live()
    // After the replayed events, so a client that sees it has everything up to "now".
    await stream.whenDrained()
    if (!stream.endReason) sendReady()
    await stream.done()
  } finally {
    clearTimeout(expiry)
  }
}

/**
 * On @hono/node-server: writes straight to the Node response, each event a buffer shared by every
 * stream of the tenant. A write past the response's high-water mark waits for `drain`, which is how a
 * client that stops reading makes its queue grow. This path costs one `write` per batch and stream;
 * the web-stream path below costs several promise hops more per write, which at 100 streams × 200
 * events/s is most of a core.
 */
export async function serveNodeSse(
  ctx: ControlPlaneContext,
  plan: PlannedStream,
  outgoing: ServerResponse,
  requestId: string,
): Promise<void> {
  outgoing.writeHead(200, sseHeaders(requestId))
  outgoing.flushHeaders()
  const whenWritable = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        outgoing.off('drain', done)
        outgoing.off('close', done)
        resolve()
      }
      outgoing.on('drain', done)
      outgoing.on('close', done)
    })
  const transport: StreamTransport = {
    sendEvents: (events) => {
      // One write, one HTTP chunk, whatever the batch: the shared frame of a lone event as it is, the
      // frames of several copied together (a chunk per frame would cost the client a parse step each).
      outgoing.write(events.length === 1 ? sseFrameOf(events[0]!) : Buffer.concat(events.map(sseFrameOf)))
      return outgoing.writableNeedDrain ? whenWritable() : Promise.resolve()
    },
    heartbeat: () => {
      outgoing.write(HEARTBEAT)
    },
    end: (reason) => {
      // What is queued for a client that stopped reading is dropped with its socket, not flushed.
      if (reason === 'slow_consumer' || reason === 'error') outgoing.destroy()
      else outgoing.end()
    },
  }
  const stream = ctx.eventStreams.open({
    tenantId: plan.tenantId,
    filter: plan.filter,
    start: plan.start,
    transport,
  })
  outgoing.once('close', () => stream.end('client_closed'))
  await runStream(stream, plan, () => outgoing.write(READY))
}

/** Anywhere else (`app.request` in-process): hono's SSE helper over a web stream. */
export async function serveWebSse(
  ctx: ControlPlaneContext,
  plan: PlannedStream,
  sse: SSEStreamingApi,
  incoming: IncomingMessage | undefined,
): Promise<void> {
  const transport: StreamTransport = {
    sendEvents: (events) => sse.write(Buffer.concat(events.map(sseFrameOf))).then(() => undefined),
    heartbeat: () => {
      void sse.write(HEARTBEAT).catch(() => {})
    },
    end: (reason) => {
      if (reason === 'slow_consumer' || reason === 'error') {
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
  await runStream(stream, plan, () => {
    void sse.write(READY).catch(() => {})
  })
}
