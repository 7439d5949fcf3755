import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { type WebSocket, WebSocketServer } from 'ws'
import type { ControlPlaneContext } from '../context.js'
import type { WebSocketUpgradeBinding } from '../http/env.js'
import type { PlannedStream } from '../services/event-streams.js'
import { type StreamEndReason, type StreamTransport, textBytesOf } from './event-stream.js'

export const EVENT_WEBSOCKET_PATH = '/v1/events/ws'

/** What an upgrade request is run through: the app itself, so it is authenticated and validated like any GET. */
type FetchApp = {
  fetch(
    request: Request,
    env: { incoming: IncomingMessage; wsUpgrade: WebSocketUpgradeBinding },
  ): Response | Promise<Response>
}

/** Close codes: 1001 going away (shutdown, token expired), 1011 server error. */
function closeCodeOf(reason: StreamEndReason): number {
  return reason === 'error' ? 1011 : 1001
}

/**
 * Takes WebSocket upgrades of `server` for `/v1/events/ws`. The upgrade request goes through the app
 * (auth, validation, rate limit, the route's own checks); only when the route accepts it does `ws`
 * complete the handshake. Any other answer is written back as a plain HTTP response.
 */
export function acceptEventWebSockets(server: Server, app: FetchApp): void {
  // Clients send nothing we read; a tiny limit keeps them from making us buffer anything.
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 4096 })
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    void handleUpgrade(request, socket, head).catch(() => socket.destroy())
  })

  async function handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`)
    if (url.pathname !== EVENT_WEBSOCKET_PATH) {
      refuse(socket, 404, JSON.stringify({ error: { code: 'not_found', message: 'no WebSocket here' } }))
      return
    }
    const headers = new Headers()
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined) continue
      headers.set(name, Array.isArray(value) ? value.join(', ') : value)
    }
    const binding: WebSocketUpgradeBinding = {}
    const response = await app.fetch(new Request(url, { method: 'GET', headers }), {
      incoming: request,
      wsUpgrade: binding,
    })
    const accept = binding.accept
    if (!accept || response.status !== 200) {
      refuse(socket, response.status, await response.text(), response.headers)
      return
    }
    sockets.handleUpgrade(request, socket, head, (webSocket) => accept(webSocket))
  }
}

function refuse(socket: Duplex, status: number, body: string, headers?: Headers): void {
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`]
  for (const name of ['content-type', 'retry-after', 'x-request-id']) {
    const value = headers?.get(name)
    if (value) lines.push(`${name}: ${value}`)
  }
  if (!headers?.get('content-type')) lines.push('content-type: application/json')
  lines.push(`content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', body)
  socket.end(lines.join('\r\n'))
}

/** Runs one WebSocket stream until it ends: one text message per event, pings as heartbeats. */
export function serveWebSocketStream(ctx: ControlPlaneContext, plan: PlannedStream, socket: WebSocket): void {
  // A client that did not answer the previous ping is gone (or frozen): end it at the next heartbeat.
  let answeredPing = true
  socket.on('pong', () => {
    answeredPing = true
  })
  const transport: StreamTransport = {
    sendEvents: (events) =>
      new Promise<void>((resolve, reject) => {
        // One message per event. The last callback comes once every frame is handed to the kernel: a
        // client that stops reading holds it.
        events.forEach((event, index) => {
          const last = index === events.length - 1
          socket.send(
            textBytesOf(event),
            { binary: false },
            last ? (error) => (error ? reject(error) : resolve()) : undefined,
          )
        })
      }),
    heartbeat: () => {
      if (!answeredPing) {
        socket.terminate()
        return
      }
      answeredPing = false
      socket.ping()
    },
    end: (reason) => {
      if (reason === 'slow_consumer') socket.terminate()
      else socket.close(closeCodeOf(reason), reason)
    },
  }
  const stream = ctx.eventStreams.open({
    tenantId: plan.tenantId,
    filter: plan.filter,
    start: plan.start,
    transport,
  })
  socket.on('close', () => stream.end('client_closed'))
  socket.on('error', () => stream.end('client_closed'))
  if (plan.expiresAt) {
    const expiry = setTimeout(
      () => stream.end('token_expired'),
      Math.max(0, plan.expiresAt.getTime() - Date.now()),
    )
    void stream.done().then(() => clearTimeout(expiry))
  }
}
