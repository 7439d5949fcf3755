import http from 'node:http'
import { eventually } from '../../../test-support/wait.js'

/** One event as the SSE stream sent it: the `id:` field and the parsed `data:` envelope. */
export type SseEvent = {
  id: string
  /** Which body chunk completed the event (0, 1, …): events the server wrote in one write share it. */
  read: number
  data: { id: string; seq: number; sessionId: string; type: string; tenantId: string } & Record<string, any>
}

/** A raw SSE reader over node:http (no EventSource): the test sees every frame and can stop reading. */
export type SseClient = {
  status: number
  /** The error body of a refused stream. */
  body: any
  events: SseEvent[]
  /** Comment lines (`heartbeat`, `ready`). */
  comments: string[]
  /** Resolves once the server said the replay is done and the stream is live. */
  ready(): Promise<void>
  /** Waits until `count` events arrived. */
  waitForEvents(count: number, label?: string, timeoutMs?: number): Promise<SseEvent[]>
  /** Stops reading from the socket (a slow consumer), and starts again. */
  pause(): void
  resume(): void
  close(): void
  /** Resolves when the server ended the response or the connection dropped. */
  ended: Promise<void>
  isEnded(): boolean
}

export async function openSse(
  url: string,
  options: { key?: string; headers?: Record<string, string> } = {},
): Promise<SseClient> {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers }
  if (options.key) headers.authorization = `Bearer ${options.key}`
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      const events: SseEvent[] = []
      const comments: string[] = []
      let buffer = ''
      let endedFlag = false
      let resolveEnded!: () => void
      const ended = new Promise<void>((done) => {
        resolveEnded = done
      })
      const finish = () => {
        endedFlag = true
        resolveEnded()
      }
      response.on('end', finish)
      response.on('close', finish)
      response.on('error', finish)
      response.on('aborted', finish)
      response.setEncoding('utf8')
      const status = response.statusCode ?? 0
      if (status !== 200) {
        let text = ''
        response.on('data', (chunk: string) => {
          text += chunk
        })
        response.on('end', () =>
          resolve({
            status,
            body: text ? JSON.parse(text) : undefined,
            events,
            comments,
            ready: async () => {},
            waitForEvents: async () => events,
            pause() {},
            resume() {},
            close() {},
            ended,
            isEnded: () => true,
          }),
        )
        return
      }
      let reads = 0
      response.on('data', (chunk: string) => {
        const read = reads++
        buffer += chunk
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let id: string | undefined
          const data: string[] = []
          for (const line of frame.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim())
            else if (line.startsWith('id: ')) id = line.slice(4)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (id !== undefined) events.push({ id, read, data: JSON.parse(data.join('\n')) })
        }
      })
      resolve({
        status,
        body: undefined,
        events,
        comments,
        ready: async () => {
          await eventually('stream ready', () => comments.includes('ready'), 15_000)
        },
        async waitForEvents(count, label = `${count} events`, timeoutMs = 20_000) {
          await eventually(label, () => events.length >= count, timeoutMs)
          return events
        },
        pause: () => response.pause(),
        resume: () => response.resume(),
        close: () => request.destroy(),
        ended,
        isEnded: () => endedFlag,
      })
    })
    request.on('error', reject)
  })
}
