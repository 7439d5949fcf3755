import { sessions } from '@wa-cluster/db'
import { eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSendableSession,
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  type TestApi,
} from '../support/test-context.js'

/**
 * What the API answers when the node that owns a session cannot be asked: a control-plane with no
 * session-node at all, and a session whose row says CONNECTED on a node that is gone.
 */
describe('live session operations without an answering owner', () => {
  let api: TestApi
  let key: string
  let sessionId: string

  beforeAll(async () => {
    api = await createTestApi('live-owner', { SESSION_COMMAND_TIMEOUT_MS: 300 })
    key = (await createTenantThroughApi(api, 'Apotek')).apiKey
    sessionId = await createSendableSession(api, key)
    await api.ctx.database.db
      .update(sessions)
      .set({ state: 'CONNECTED', nodeId: 'node-that-is-gone' })
      .where(eq(sessions.id, sessionId))
  })
  afterAll(() => api?.close())

  it('answers 504 naming the owner when it does not answer, and stores nothing', async () => {
    const before = await snapshotDatabase(api)
    for (const [method, path, body] of [
      ['POST', `/v1/sessions/${sessionId}/contacts/check`, { phones: ['081234567890'] }],
      ['POST', `/v1/sessions/${sessionId}/presence`, { chatId: '081234567890', state: 'recording' }],
      ['POST', `/v1/sessions/${sessionId}/chats/081234567890/read`, undefined],
      ['GET', `/v1/sessions/${sessionId}/groups`, undefined],
    ] as const) {
      const answer = await api.call(method, path, { key, ...(body ? { body } : {}) })
      expect(answer.status, `${method} ${path}`).toBe(504)
      expect(answer.body.error.code).toBe('timeout')
      expect(answer.body.error.message).toMatch(/node that owns this session did not answer/)
    }
    expect(await snapshotDatabase(api)).toEqual(before)
  })

  it('refuses bad input before asking anyone, naming the field', async () => {
    const cases = [
      [`/v1/sessions/${sessionId}/presence`, { chatId: '081234567890' }, 'body.state'],
      [`/v1/sessions/${sessionId}/presence`, { chatId: 'abc@nowhere', state: 'typing' }, 'body.chatId'],
      [`/v1/sessions/${sessionId}/presence`, { chatId: '0812', state: 'typing', extra: 1 }, 'body'],
      [`/v1/sessions/${sessionId}/contacts/check`, { phones: [] }, 'body.phones'],
      [`/v1/sessions/${sessionId}/contacts/check`, { phones: ['120363000000000000@g.us'] }, 'body.phones.0'],
    ] as const
    for (const [path, body, field] of cases) {
      const answer = await api.call('POST', path, { key, body })
      expect(answer.status, JSON.stringify(body)).toBe(400)
      expect(answer.body.error.details.field, JSON.stringify(body)).toBe(field)
    }
    const unknown = await api.call('GET', '/v1/sessions/ses_unknown0000000000000000/groups', { key })
    expect(unknown.status).toBe(404)
  })
})
