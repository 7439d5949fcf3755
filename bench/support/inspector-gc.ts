// A full garbage collection inside a child process, through the V8 inspector protocol: the child is
// started with NODE_OPTIONS from `inspectorEnv()` (it prints its inspector URL), and
// `collectGarbage(lines)` asks it for HeapProfiler.collectGarbage. Nothing in the child's own code is
// involved, so the gateway is measured exactly as it runs.
import { WebSocket } from 'undici'
import { sleep } from './common.js'

export function inspectorEnv(): Record<string, string> {
  return { NODE_OPTIONS: '--inspect=127.0.0.1:0' }
}

/** Runs two full GCs in the child whose output `lines` carry "Debugger listening on ws://…". */
export async function collectGarbage(lines: string[]): Promise<void> {
  const url = lines.map((line) => /ws:\/\/\S+/.exec(line)?.[0]).find((found) => found !== undefined)
  if (!url) throw new Error('the child printed no inspector URL (start it with inspectorEnv())')
  const socket = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true })
    socket.addEventListener('error', () => reject(new Error(`cannot reach the inspector at ${url}`)), {
      once: true,
    })
  })
  try {
    for (const id of [1, 2]) {
      const answered = new Promise<void>((resolve) => {
        const onMessage = (event: { data: unknown }) => {
          if ((JSON.parse(String(event.data)) as { id?: number }).id !== id) return
          socket.removeEventListener('message', onMessage)
          resolve()
        }
        socket.addEventListener('message', onMessage)
      })
      socket.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }))
      await answered
    }
  } finally {
    socket.close()
  }
  // Let the allocator hand freed pages back before RSS is read.
  await sleep(1000)
}
