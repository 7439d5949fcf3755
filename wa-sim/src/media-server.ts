import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { SimLogger } from './logger.js'
import type { MediaTls } from './media-ca.js'

/** An upload larger than this is refused (WhatsApp's own ceiling is 2 GB; tests need far less). */
export const MAX_MEDIA_UPLOAD_BYTES = 128 * 1024 * 1024

/**
 * The encrypted media files the simulated media server holds, by direct path. Clients upload
 * ciphertext (what a Baileys client or a simulated phone encrypted) and download it again; the server
 * never sees a key, as on WhatsApp.
 */
export class MediaStore {
  private readonly files = new Map<string, Buffer>()
  /** `host:port` the server listens on (set when it does). */
  host = '127.0.0.1'
  /** Counters for /stats. */
  uploads = 0
  downloads = 0

  /** Stores ciphertext and returns its direct path (`/v/t62.7118-24/<id>.enc`). */
  put(ciphertext: Buffer): string {
    const directPath = `/v/t62.7118-24/${randomBytes(12).toString('hex')}.enc`
    this.files.set(directPath, ciphertext)
    this.uploads++
    return directPath
  }

  get(directPath: string): Buffer | undefined {
    return this.files.get(directPath)
  }
}

/** The running HTTPS media server: the host `media_conn` names and the CA a client must trust. */
export interface RunningMediaServer {
  /** `127.0.0.1:<port>`: what `media_conn` answers as the upload host and what URLs point at. */
  host: string
  caPem: string
  stop(): Promise<void>
}

/**
 * WhatsApp's media servers (mmg.whatsapp.net) in miniature, over HTTPS: `POST /mms/<type>/<token>`
 * takes the encrypted file (the token is the base64url SHA-256 of the ciphertext, as the client
 * computes it) and answers `{url, direct_path}`; `GET <direct_path>` gives the ciphertext back.
 */
export async function listenMediaServer(options: {
  host: string
  tls: MediaTls
  store: MediaStore
  logger: SimLogger
}): Promise<RunningMediaServer> {
  const { store, logger } = options
  let origin = ''
  const server: Server = createServer({ key: options.tls.keyPem, cert: options.tls.certPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://media')
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
      res.end(text)
    }
    if (req.method === 'GET') {
      const file = store.get(url.pathname)
      if (!file) return reply(404, { error: 'not found' })
      store.downloads++
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length })
      res.end(file)
      return
    }
    const upload = /^\/mms\/(image|video|audio|document)\/([\w-]+)$/.exec(url.pathname)
    if (req.method !== 'POST' || !upload) return reply(404, { error: 'not found' })
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_MEDIA_UPLOAD_BYTES) {
        reply(413, { error: 'too large' })
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (size > MAX_MEDIA_UPLOAD_BYTES) return
      const ciphertext = Buffer.concat(chunks, size)
      const token = createHash('sha256').update(ciphertext).digest('base64url')
      if (token !== upload[2]!.replace(/=+$/, '')) return reply(400, { error: 'hash mismatch' })
      const directPath = store.put(ciphertext)
      reply(200, { url: `${origin}${directPath}`, direct_path: directPath })
    })
    req.on('error', (err) => logger.warn({ err }, 'media upload failed'))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, options.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const host = `${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`
  origin = `https://${host}`
  store.host = host
  return {
    host,
    caPem: options.tls.caPem,
    stop: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
