import { randomUUID } from 'node:crypto'
import type { Coordinator, Unsubscribe } from './coordinator.js'
import { coordinationKeys } from './keys.js'

/**
 * Synchronous operations on a session's live connection (chat read, presence, number check, group
 * list). The connection lives on the session's owning node while the API may run in another process,
 * so the API publishes a request on the owner's command channel and waits, with a timeout, for the
 * owner's reply on its own reply channel. Nothing is stored: a request that meets no owner fails and
 * the caller may try again.
 */

export type PresenceState = 'typing' | 'recording' | 'paused'

export type SessionCommand =
  /** Is each number on WhatsApp? `jids` are person JIDs (`628…@s.whatsapp.net`). */
  | { kind: 'checkNumbers'; jids: string[] }
  /** Read receipts for the chat's unread inbound messages; `chatIds` are the JIDs it is stored under. */
  | { kind: 'markChatRead'; chatIds: string[] }
  | { kind: 'sendPresence'; chatId: string; state: PresenceState }
  | { kind: 'listGroups' }

export type NumberCheck = { jid: string; exists: boolean }
export type GroupSummary = { id: string; subject: string; participants: number }

/** What each command answers with. */
export type SessionCommandResult = {
  checkNumbers: NumberCheck[]
  markChatRead: { read: number }
  sendPresence: Record<string, never>
  listGroups: GroupSummary[]
}

/** Why an owner could not carry a command out: not connected (now), or the connection failed it. */
export type SessionCommandFailure = { reason: 'not_connected' | 'failed'; message: string }

type CommandRequest = { requestId: string; replyTo: string; sessionId: string; command: SessionCommand }
type CommandReply =
  | { requestId: string; ok: true; result: unknown }
  | { requestId: string; ok: false; failure: SessionCommandFailure }

/** The owner did not answer in time (gone, or busy past the timeout). */
export class SessionCommandTimeout extends Error {
  override name = 'SessionCommandTimeout'
}

/** The owner answered that it could not carry the command out. */
export class SessionCommandRefused extends Error {
  override name = 'SessionCommandRefused'
  constructor(readonly failure: SessionCommandFailure) {
    super(failure.message)
  }
}

type Pending = { resolve: (reply: CommandReply) => void; timer: NodeJS.Timeout }

/** One reply channel per process and coordinator, subscribed on first use. */
type CommandClient = { replyTo: string; pending: Map<string, Pending>; ready: Promise<Unsubscribe> }
const clients = new WeakMap<Coordinator, CommandClient>()

function clientOf(coordinator: Coordinator): CommandClient {
  let client = clients.get(coordinator)
  if (client) return client
  const replyTo = coordinationKeys.commandReplyChannel(randomUUID())
  const pending = new Map<string, Pending>()
  const ready = coordinator.subscribe(replyTo, (message) => {
    let reply: CommandReply
    try {
      reply = JSON.parse(message) as CommandReply
    } catch {
      return
    }
    const waiting = pending.get(reply.requestId)
    if (!waiting) return
    pending.delete(reply.requestId)
    clearTimeout(waiting.timer)
    waiting.resolve(reply)
  })
  client = { replyTo, pending, ready }
  // A failed subscription is retried on the next request instead of being kept for good.
  ready.catch(() => clients.delete(coordinator))
  clients.set(coordinator, client)
  return client
}

/**
 * Asks the node `nodeId` to run `command` on session `sessionId`'s connection and waits at most
 * `timeoutMs` for its answer. Throws SessionCommandTimeout when none came, SessionCommandRefused when
 * the owner could not do it.
 */
export async function requestSessionCommand<K extends SessionCommand['kind']>(
  coordinator: Coordinator,
  input: {
    nodeId: string
    sessionId: string
    command: Extract<SessionCommand, { kind: K }>
    timeoutMs: number
  },
): Promise<SessionCommandResult[K]> {
  const client = clientOf(coordinator)
  await client.ready
  const requestId = randomUUID()
  const reply = await new Promise<CommandReply | undefined>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.pending.delete(requestId)
      resolve(undefined)
    }, input.timeoutMs)
    client.pending.set(requestId, { resolve, timer })
    const request: CommandRequest = {
      requestId,
      replyTo: client.replyTo,
      sessionId: input.sessionId,
      command: input.command,
    }
    coordinator
      .publish(coordinationKeys.nodeCommandChannel(input.nodeId), JSON.stringify(request))
      .catch((error: unknown) => {
        clearTimeout(timer)
        client.pending.delete(requestId)
        reject(error)
      })
  })
  if (!reply)
    throw new SessionCommandTimeout(`the session's node did not answer within ${input.timeoutMs} ms`)
  if (!reply.ok) throw new SessionCommandRefused(reply.failure)
  return reply.result as SessionCommandResult[K]
}

/** What a node runs a command with: the result, or a failure it reports back. */
export type SessionCommandHandler = (
  sessionId: string,
  command: SessionCommand,
) => Promise<{ ok: true; result: unknown } | { ok: false; failure: SessionCommandFailure }>

/** A node serves the commands addressed to it until the returned function is called. */
export function serveSessionCommands(
  coordinator: Coordinator,
  nodeId: string,
  handle: SessionCommandHandler,
  onError: (error: unknown) => void,
): Promise<Unsubscribe> {
  return coordinator.subscribe(coordinationKeys.nodeCommandChannel(nodeId), (message) => {
    let request: CommandRequest
    try {
      request = JSON.parse(message) as CommandRequest
    } catch {
      return
    }
    void (async () => {
      const outcome = await handle(request.sessionId, request.command).catch(
        (error: unknown): { ok: false; failure: SessionCommandFailure } => ({
          ok: false,
          failure: { reason: 'failed', message: (error as Error).message },
        }),
      )
      const reply: CommandReply = { requestId: request.requestId, ...outcome }
      await coordinator.publish(request.replyTo, JSON.stringify(reply))
    })().catch(onError)
  })
}
