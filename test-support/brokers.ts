import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './processes.js'
import { eventually } from './wait.js'

const run = promisify(execFile)

/** True once something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/**
 * A NATS server with JetStream of the test's own (its own port and store directory), so the test may
 * restart it without touching the machine's. The store survives a restart, as a real one's disk does.
 */
export async function startPrivateNats(binary = '/usr/sbin/nats-server') {
  const port = await freePort()
  const storeDir = await mkdtemp(path.join(tmpdir(), 'wa-nats-'))
  const start = () => {
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
      stdio: 'ignore',
    })
    child.once('error', () => {})
    return child
  }
  let child = start()
  const ready = () =>
    eventually(`private nats-server (${binary}) listening on ${port}`, () => listening(port), 15_000)
  await ready()
  return {
    url: `nats://127.0.0.1:${port}`,
    /**
     * Stops the server as an operator's restart does (SIGTERM), runs `whileDown` and waits `downMs`,
     * then starts it again.
     */
    async restart(downMs = 1000, whileDown: () => Promise<void> = async () => {}) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      try {
        await Promise.all([whileDown(), new Promise((resolve) => setTimeout(resolve, downMs))])
      } finally {
        child = start()
        await ready()
      }
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      await rm(storeDir, { recursive: true, force: true })
    },
  }
}

/**
 * Restarts the RabbitMQ application of the machine's broker (`rabbitmqctl stop_app`, `whileDown` and
 * `downMs`, then `start_app`): every connection is closed by the broker, the listener goes away and
 * comes back, durable exchanges and queues remain. The Erlang node itself keeps running.
 */
export async function restartRabbitApp(
  amqpPort: number,
  downMs = 1000,
  whileDown: () => Promise<void> = async () => {},
): Promise<void> {
  const ctl = 'rabbitmqctl'
  const invoke = (command: string) =>
    run(ctl, [command], { timeout: 60_000 }).catch((error: Error) => {
      throw new Error(`${ctl} ${command} failed (the broker restart needs rabbitmqctl): ${error.message}`)
    })
  await invoke('stop_app')
  try {
    await Promise.all([whileDown(), new Promise((resolve) => setTimeout(resolve, downMs))])
  } finally {
    // Always started again: the machine's broker serves other tests.
    await invoke('start_app')
    await eventually(`RabbitMQ listening on ${amqpPort} again`, () => listening(amqpPort), 30_000)
  }
}
