import { type ChildProcess, spawn } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

// Callers still importing it from here; new code imports test-support/wait.ts.
export { eventually } from './wait.js'

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

export type ManagedProcess = {
  readonly name: string
  readonly child: ChildProcess
  /** Every stdout/stderr line so far (JSON log lines and plain text). */
  readonly lines: string[]
  /** Resolves with the first line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>
  signal(signal: NodeJS.Signals): void
  /** Sends SIGTERM (or the given signal) and waits for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>
  readonly exited: Promise<number | null>
}

/**
 * Starts a TypeScript entry point of this repo as a real child process with its own environment.
 * `node --import tsx` keeps it one process: the tsx CLI would put a wrapper in between, and a SIGKILL
 * or SIGSTOP sent to the wrapper would never reach the process under test.
 */
export function startProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  args: string[] = [],
): ManagedProcess {
  // PROCESS_NODE_ARGS adds node flags to every child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to
  // profile a benchmark's processes (NODE_OPTIONS refuses --cpu-prof).
  const nodeArgs = (process.env.PROCESS_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry, ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const watchers = new Set<(line: string) => void>()
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue
      lines.push(line)
      if (process.env.TEST_PROCESS_LOGS) process.stderr.write(`[${name}] ${line}\n`)
      for (const watcher of watchers) watcher(line)
    }
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    name,
    child,
    lines,
    exited,
    waitForLine(pattern, timeoutMs = 60_000) {
      const found = lines.find((line) => pattern.test(line))
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.delete(watcher)
          reject(
            new Error(
              `${name}: no line matching ${pattern} within ${timeoutMs} ms. Last lines:\n${lines.slice(-15).join('\n')}`,
            ),
          )
        }, timeoutMs)
        const watcher = (line: string) => {
          if (!pattern.test(line)) return
          clearTimeout(timer)
          watchers.delete(watcher)
          resolve(line)
        }
        watchers.add(watcher)
        void exited.then((code) => {
          if (!watchers.has(watcher)) return
          clearTimeout(timer)
          watchers.delete(watcher)
          reject(
            new Error(
              `${name} exited (${code}) before printing ${pattern}. Last lines:\n${lines.slice(-15).join('\n')}`,
            ),
          )
        })
      })
    },
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}
