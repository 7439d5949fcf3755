import {
  recordChatRead,
  type SessionCommand,
  type SessionCommandHandler,
  unreadMessagesOf,
} from '@wa-cluster/core'
import type { DatabaseHandle } from '@wa-cluster/db'
import type { SessionRunner } from './session-runner.js'

/** At most this many messages get a read receipt in one chat read (the newest unread ones). */
const MAX_READ_RECEIPTS = 500

/**
 * Runs the API's session commands (core/src/coordination/session-commands.ts) on the connections this
 * node owns. A session with no live, connected runner here is `not_connected`: the API answers 409.
 */
export function sessionCommandHandler(deps: {
  database: DatabaseHandle
  runnerOf: (sessionId: string) => SessionRunner | undefined
}): SessionCommandHandler {
  return async (sessionId, command) => {
    const runner = deps.runnerOf(sessionId)
    const actions = runner?.liveActions
    if (!runner || !actions)
      return { ok: false, failure: { reason: 'not_connected', message: 'the session is not connected' } }
    return { ok: true, result: await run(command) }

    async function run(command: SessionCommand): Promise<unknown> {
      switch (command.kind) {
        case 'checkNumbers':
          return actions!.checkNumbers(command.jids)
        case 'sendPresence':
          await actions!.sendPresence(command.chatId, command.state)
          return {}
        case 'listGroups':
          return actions!.listGroups()
        case 'markChatRead': {
          // A person's chat may be stored under their phone number and under their LID.
          let read = 0
          for (const chatId of command.chatIds) {
            const unread = await unreadMessagesOf(deps.database, {
              sessionId,
              chatId,
              limit: MAX_READ_RECEIPTS,
            })
            const group = chatId.endsWith('@g.us')
            await actions!.markRead(
              unread.map((message) => ({
                chatId,
                waMessageId: message.waMessageId,
                ...(group && message.sender ? { participant: message.sender } : {}),
              })),
            )
            await recordChatRead(deps.database, {
              sessionId,
              epoch: runner!.epoch,
              chatId,
              read: unread.length,
            })
            read += unread.length
          }
          return { read }
        }
      }
    }
  }
}
