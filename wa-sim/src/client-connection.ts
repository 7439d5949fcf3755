import { type BinaryNode, decodeBinaryNode, encodeBinaryNode } from '@whiskeysockets/baileys'
import type { WebSocket } from 'ws'
import type { ClientHello, NoiseSession } from './noise-session.js'

/** 'WA', protocol 6, dictionary version 3: the header Baileys prefixes to its first frame. */
const INTRO_HEADER = Buffer.from([0x57, 0x41, 6, 3])

/** What the simulator does with a connection's handshake result, nodes and end. */
export interface ConnectionHandler {
  onHandshake(connection: ClientConnection, hello: ClientHello): void
  onNode(connection: ClientConnection, node: BinaryNode): void
  onClose(connection: ClientConnection): void
}

/** Who is on the other end once known: a device logging in, or a new companion registering. */
export type ConnectionRole =
  | { kind: 'handshake' }
  | { kind: 'registration'; clientStaticKey: Buffer; registration: RegistrationData }
  | { kind: 'device'; pn: string; deviceId: number; deviceJid: string }

/** Key material a new companion sends in its registration ClientPayload. */
export interface RegistrationData {
  registrationId: number
  identityKey: Buffer
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer }
  platform: string
}

/**
 * One Baileys websocket: frame reassembly, the Noise handshake, then encrypted WABinary nodes in both
 * directions. It knows nothing about accounts; the handler decides what nodes mean.
 */
export class ClientConnection {
  role: ConnectionRole = { kind: 'handshake' }
  /** Silence fault: nothing is sent and nothing received is acted on, as if the network went quiet. */
  silenced = false
  closed = false
  private inBytes: Buffer = Buffer.alloc(0)
  private sawIntro = false
  private inbound: Promise<void> = Promise.resolve()

  constructor(
    readonly id: number,
    private readonly ws: WebSocket,
    private readonly noise: NoiseSession,
    private readonly handler: ConnectionHandler,
    private readonly frameDelayMs: () => number,
    private readonly onError: (err: unknown) => void,
  ) {
    ws.on('message', (data: Buffer) => this.receive(data))
    ws.on('close', () => this.markClosed())
    ws.on('error', () => this.markClosed())
  }

  /** Encrypts and sends one node; dropped when silenced or closed. */
  send(node: BinaryNode): void {
    if (this.closed || this.silenced || !this.noise.isTransport) return
    // Encrypt now, even when the write is delayed, so the GCM counter follows send order.
    this.writeFrame(this.noise.encrypt(encodeBinaryNode(node)))
  }

  /** Sends a final node (stream:error, failure) if given, then closes the websocket. */
  end(finalNode?: BinaryNode): void {
    if (this.closed) return
    if (finalNode) this.send(finalNode)
    const delay = this.frameDelayMs()
    const close = () => this.ws.close()
    if (delay > 0) setTimeout(close, delay)
    else close()
  }

  /** Drops the TCP connection without a close handshake. */
  terminate(): void {
    this.ws.terminate()
    this.markClosed()
  }

  private markClosed(): void {
    if (this.closed) return
    this.closed = true
    this.handler.onClose(this)
  }

  private writeFrame(payload: Buffer): void {
    const frame = Buffer.allocUnsafe(3 + payload.length)
    frame.writeUIntBE(payload.length, 0, 3)
    payload.copy(frame, 3)
    const delay = this.frameDelayMs()
    if (delay > 0) setTimeout(() => this.ws.send(frame), delay)
    else this.ws.send(frame)
  }

  private receive(data: Buffer): void {
    if (this.closed || this.silenced) return
    this.inBytes = this.inBytes.length === 0 ? data : Buffer.concat([this.inBytes, data])
    if (!this.sawIntro) {
      if (this.inBytes.length < INTRO_HEADER.length) return
      if (!this.inBytes.subarray(0, 4).equals(INTRO_HEADER)) {
        this.onError(new Error('unexpected intro header (edge routing is not simulated)'))
        this.terminate()
        return
      }
      this.inBytes = this.inBytes.subarray(4)
      this.sawIntro = true
    }
    while (this.inBytes.length >= 3) {
      const size = this.inBytes.readUIntBE(0, 3)
      if (this.inBytes.length < size + 3) return
      const frame = this.inBytes.subarray(3, size + 3)
      this.inBytes = this.inBytes.subarray(size + 3)
      this.receiveFrame(frame)
    }
  }

  private receiveFrame(frame: Buffer): void {
    try {
      if (this.noise.isTransport) {
        // Decrypt synchronously (counter order), decode in order, hand over without awaiting handlers.
        const plaintext = this.noise.decrypt(frame)
        this.inbound = this.inbound
          .then(() => decodeBinaryNode(plaintext))
          .then((node) => {
            if (!this.closed && !this.silenced) this.handler.onNode(this, node)
          })
          .catch((err) => this.onError(err))
      } else if (this.role.kind === 'handshake' && !this.helloDone) {
        this.helloDone = true
        this.writeFrame(this.noise.respondToHello(INTRO_HEADER, frame))
      } else {
        const hello = this.noise.acceptFinish(frame)
        this.handler.onHandshake(this, hello)
      }
    } catch (err) {
      this.onError(err)
      this.terminate()
    }
  }

  private helloDone = false
}
