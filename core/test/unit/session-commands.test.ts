import { afterEach, describe, expect, it } from 'vitest'
import type { Unsubscribe } from '../../src/coordination/coordinator.js'
import { createMemoryCoordinator } from '../../src/coordination/memory-coordinator.js'
import {
  requestSessionCommand,
  type SessionCommand,
  SessionCommandRefused,
  SessionCommandTimeout,
  serveSessionCommands,
} from '../../src/coordination/session-commands.js'

// The request/reply between the API and a session's owning node, over the in-process coordinator
// (the Redis one carries the same messages over its pub/sub).

describe('session commands', () => {
  const coordinator = createMemoryCoordinator()
  const stops: Unsubscribe[] = []
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop()
  })

  it("carries a command to the node it names and brings that node's answer back", async () => {
    const seen: [string, SessionCommand][] = []
    stops.push(
      await serveSessionCommands(
        coordinator,
        'node-a',
        async (sessionId, command) => {
          seen.push([sessionId, command])
          return { ok: true, result: [{ jid: '6281@s.whatsapp.net', exists: true }] }
        },
        () => {},
      ),
    )
    stops.push(
      await serveSessionCommands(
        coordinator,
        'node-b',
        async () => ({ ok: false, failure: { reason: 'not_connected', message: 'not mine' } }),
        () => {},
      ),
    )
    const answer = await requestSessionCommand(coordinator, {
      nodeId: 'node-a',
      sessionId: 'ses_1',
      command: { kind: 'checkNumbers', jids: ['6281@s.whatsapp.net'] },
      timeoutMs: 5_000,
    })
    expect(answer).toEqual([{ jid: '6281@s.whatsapp.net', exists: true }])
    expect(seen).toEqual([['ses_1', { kind: 'checkNumbers', jids: ['6281@s.whatsapp.net'] }]])
  })

  it("reports the node's refusal, and a handler that throws as a failure", async () => {
    stops.push(
      await serveSessionCommands(
        coordinator,
        'node-c',
        async (_sessionId, command) => {
          if (command.kind === 'listGroups') throw new Error('socket closed')
          return { ok: false, failure: { reason: 'not_connected', message: 'the session is not connected' } }
        },
        () => {},
      ),
    )
    const refused = requestSessionCommand(coordinator, {
      nodeId: 'node-c',
      sessionId: 'ses_2',
      command: { kind: 'sendPresence', chatId: '6281@s.whatsapp.net', state: 'typing' },
      timeoutMs: 5_000,
    })
    await expect(refused).rejects.toBeInstanceOf(SessionCommandRefused)
    await expect(refused).rejects.toMatchObject({ failure: { reason: 'not_connected' } })
    await expect(
      requestSessionCommand(coordinator, {
        nodeId: 'node-c',
        sessionId: 'ses_2',
        command: { kind: 'listGroups' },
        timeoutMs: 5_000,
      }),
    ).rejects.toMatchObject({ failure: { reason: 'failed', message: 'socket closed' } })
  })

  it('gives up after the timeout when no node answers', async () => {
    await expect(
      requestSessionCommand(coordinator, {
        nodeId: 'nobody',
        sessionId: 'ses_3',
        command: { kind: 'listGroups' },
        timeoutMs: 50,
      }),
    ).rejects.toBeInstanceOf(SessionCommandTimeout)
  })
})
