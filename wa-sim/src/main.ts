import { parseSimConfig } from './config.js'
import { listenSimulator } from './sim-server.js'

// Standalone simulator: one JSON line with the addresses on stdout, JSON logs on stderr.
const config = (() => {
  try {
    return parseSimConfig(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`wa-sim: ${(err as Error).message}\n`)
    process.exit(2)
  }
})()

const running = await listenSimulator({
  port: config.port,
  host: config.host,
  stateFile: config.stateFile,
  phoneBootstrap: config.phoneBootstrap,
  logLevel: config.logLevel,
})
process.stdout.write(
  `${JSON.stringify({
    url: running.url,
    control: running.controlUrl,
    rootPublicKey: running.rootPublicKey,
    // What a gateway needs to use this simulator: `npm run sim` + this environment + `npm start`.
    // The gateway downloads received media from the media server through its outbound guard, which
    // refuses this (loopback or private) host unless allowed.
    env: {
      WA_WS_URL: running.url,
      WA_TRUSTED_ROOT_KEY: running.rootPublicKey,
      WA_MEDIA_CA: running.mediaCa,
      ALLOW_PRIVATE_NETWORKS: running.mediaHost.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''),
    },
  })}\n`,
)

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    void running.stop().then(() => process.exit(0))
  })
}
