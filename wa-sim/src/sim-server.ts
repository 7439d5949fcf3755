import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { handleControlRequest } from './control-api.js'
import { type LogLevel, SimLogger } from './logger.js'
import { createMediaTls } from './media-ca.js'
import { listenMediaServer } from './media-server.js'
import { createServerIdentity } from './server-identity.js'
import { Simulator } from './simulator.js'
import { readStateFile, StateFileWriter } from './state-file.js'

/** Options of startSimulator(). */
export interface StartSimulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number
  /** Interface to bind; default 127.0.0.1. */
  host?: string
  /** Persist accounts and keys here (atomic, debounced writes) and load them on start; default none. */
  stateFile?: string
  /** Simulated phone sends app-state keys + inline history after a companion's first login; default true. */
  phoneBootstrap?: boolean
  /** Log level of the JSON logs on stderr; default 'warn' (the CLI uses 'info'). */
  logLevel?: LogLevel
  /** Where log lines go; default stderr. */
  logWrite?: (line: string) => void
}

/** A running simulator: its addresses and the in-process Simulator. */
export interface RunningSimulator {
  /** `ws://host:port/ws/chat`, for Baileys' `waWebSocketUrl`. */
  url: string
  /** `http://host:port`, the control API. */
  controlUrl: string
  /** Base64 Curve25519 root key; set `WA_CERT_DETAILS.PUBLIC_KEY` to it. */
  rootPublicKey: string
  /** PEM of the CA that signed the HTTPS media server's certificate (a gateway's WA_MEDIA_CA). */
  mediaCa: string
  /** `host:port` of the HTTPS media server. */
  mediaHost: string
  simulator: Simulator
  /** Closes every socket and the server, and flushes the state file. */
  stop(): Promise<void>
}

/** Starts the HTTP control API and the WhatsApp websocket endpoint on one port. */
export async function listenSimulator(options: StartSimulatorOptions = {}): Promise<RunningSimulator> {
  const logger = new SimLogger(options.logLevel ?? 'warn', {}, options.logWrite)
  const state = options.stateFile ? readStateFile(options.stateFile) : undefined
  let writer: StateFileWriter | undefined
  const simulator = new Simulator({
    identity: state?.identity ?? createServerIdentity(),
    accounts: state?.accounts ?? [],
    phoneBootstrap: options.phoneBootstrap ?? true,
    logger,
    onStateChange: () => writer?.schedule(),
  })
  if (options.stateFile) {
    writer = new StateFileWriter(
      options.stateFile,
      () => simulator.persistedState(),
      250,
      (err) => logger.error({ err }, 'state file write failed'),
    )
    // Persist the identity right away, so a restart before any pairing keeps the same root key.
    await writer.flush()
  }
  const host = options.host ?? '127.0.0.1'
  let info = { url: '', controlUrl: '', rootPublicKey: simulator.rootPublicKey }
  let mediaCaPem = ''
  const server: Server = createServer((req, res) => {
    void handleControlRequest(
      simulator,
      { rootKey: () => ({ rootPublicKey: info.rootPublicKey, url: info.url, mediaCa: mediaCaPem }) },
      logger,
      req,
      res,
    )
  })
  // Baileys sends small frames; compression would only cost CPU at 5,000 sockets.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 })
  server.on('upgrade', (req, socket, head) => {
    if (!req.url?.startsWith('/ws/chat')) {
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => simulator.accept(ws))
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  // A fresh CA at every start: nothing trusts it but a client configured with it.
  const media = await listenMediaServer({ host, tls: await createMediaTls(), store: simulator.media, logger })
  simulator.mediaHost = media.host
  mediaCaPem = media.caPem
  info = {
    url: `ws://${host}:${port}/ws/chat`,
    controlUrl: `http://${host}:${port}`,
    rootPublicKey: simulator.rootPublicKey,
  }
  logger.info(info, 'simulator listening')
  let stopped: Promise<void> | undefined
  return {
    ...info,
    mediaCa: media.caPem,
    mediaHost: media.host,
    simulator,
    stop: () => {
      stopped ??= (async () => {
        simulator.closeAll()
        wss.close()
        await media.stop()
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
        await writer?.flush()
      })()
      return stopped
    },
  }
}
