import net from 'node:net'

// Integration tests run against real services. When one is down, say which and how to start it,
// instead of letting every test time out or skip.
const required = [
  {
    name: 'PostgreSQL',
    url: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  },
  {
    name: 'Redis',
    url: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    start: 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
  },
  {
    name: 'RabbitMQ',
    url: process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    start: 'rabbitmq-server -detached',
  },
  {
    name: 'NATS (with JetStream)',
    url: process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222',
    start:
      'start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server',
  },
]

/** The URL without its password: these lines end up in CI logs. */
function shown(url: string): string {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = '***'
  return parsed.href
}

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.end()
      resolve(true)
    })
    socket.setTimeout(2000, () => {
      socket.destroy()
      resolve(false)
    })
    socket.on('error', () => resolve(false))
  })
}

export default async function setup(): Promise<void> {
  const missing: string[] = []
  for (const service of required) {
    if (!(await reachable(service.url)))
      missing.push(
        `${service.name} is not reachable at ${shown(service.url)}; start it with: ${service.start}`,
      )
  }
  if (missing.length > 0) throw new Error(`integration tests need real services:\n  ${missing.join('\n  ')}`)
}
