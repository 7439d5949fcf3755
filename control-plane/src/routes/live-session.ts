import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { activeTenantOf, requireTenant } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import {
  ChatReadSchema,
  ContactCheckListSchema,
  ContactsCheckBody,
  GroupListSchema,
  PresenceBody,
  PresenceSchema,
} from '../http/live-session-schemas.js'
import { acceptJsonBody } from '../http/request-body.js'
import { ChatParams, errorResponses, jsonBody, jsonResponse, SessionParams } from '../http/schemas.js'
import { checkContacts, listGroups, markChatRead, sendPresence } from '../services/live-session.js'

const tenant = { security: [{ bearer: [] }], middleware: [requireTenant, acceptJsonBody] }
const LIVE =
  ' Done at once on the live WhatsApp connection by the node that owns the session: 409 `session_not_connected` unless the session is CONNECTED, 504 when that node does not answer in time.'

const markChatReadRoute = createRoute({
  ...tenant,
  tags: ['Chats'],
  method: 'post',
  operationId: 'markChatRead',
  path: '/v1/sessions/{sessionId}/chats/{chatId}/read',
  summary: 'Mark a chat read (blue ticks for the senders)',
  description: `Sends read receipts for the chat's unread received messages (the newest 500 at most) and sets its unread count to 0. A chat with nothing unread answers \`read: 0\`.${LIVE}`,
  request: { params: ChatParams },
  responses: {
    200: jsonResponse(ChatReadSchema, 'The chat and how many messages were marked read'),
    ...errorResponses(400, 401, 403, 404, 409, 504),
  },
})

const presenceRoute = createRoute({
  ...tenant,
  tags: ['Chats'],
  method: 'post',
  operationId: 'sendPresence',
  path: '/v1/sessions/{sessionId}/presence',
  summary: 'Show typing or recording in a chat',
  description: `\`typing\` and \`recording\` show in the chat until \`paused\`, a message from the session, or WhatsApp's own time-out (about 25 s): send again to keep showing it. Not stored, not retried.${LIVE}`,
  request: { params: SessionParams, body: jsonBody(PresenceBody) },
  responses: {
    200: jsonResponse(PresenceSchema, 'Sent to WhatsApp'),
    ...errorResponses(400, 401, 403, 404, 409, 415, 504),
  },
})

const checkContactsRoute = createRoute({
  ...tenant,
  tags: ['Contacts'],
  method: 'post',
  operationId: 'checkContacts',
  path: '/v1/sessions/{sessionId}/contacts/check',
  summary: 'Which numbers are on WhatsApp',
  description: `Asks WhatsApp about 1–50 numbers (read like \`to\` of a send). Answers one entry per number, in the order given.${LIVE}`,
  request: { params: SessionParams, body: jsonBody(ContactsCheckBody) },
  responses: {
    200: jsonResponse(ContactCheckListSchema, 'One entry per number asked'),
    ...errorResponses(400, 401, 403, 404, 409, 415, 504),
  },
})

const listGroupsRoute = createRoute({
  ...tenant,
  tags: ['Groups'],
  method: 'get',
  operationId: 'listGroups',
  path: '/v1/sessions/{sessionId}/groups',
  summary: "The groups the session's account is in",
  description: `As WhatsApp lists them now. Send to a group with \`to\` = its \`id\`; a group's messages arrive with \`chatId\` = the group and \`from\` = the member.${LIVE}`,
  request: { params: SessionParams },
  responses: {
    200: jsonResponse(GroupListSchema, 'The groups'),
    ...errorResponses(401, 403, 404, 409, 504),
  },
})

export function registerLiveSessionRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(markChatReadRoute, async (c) => {
    const { sessionId, chatId } = c.req.valid('param')
    const { tenantId } = activeTenantOf(c)
    return c.json(await markChatRead({ ctx: c.get('ctx'), tenantId, sessionId, chatId }), 200)
  })
  app.openapi(presenceRoute, async (c) => {
    const { tenantId, defaultCountry } = activeTenantOf(c)
    const input = c.req.valid('json')
    const sent = await sendPresence({
      ctx: c.get('ctx'),
      tenantId,
      sessionId: c.req.valid('param').sessionId,
      input,
      defaultCountry,
    })
    return c.json(sent, 200)
  })
  app.openapi(checkContactsRoute, async (c) => {
    const { tenantId, defaultCountry } = activeTenantOf(c)
    const checked = await checkContacts({
      ctx: c.get('ctx'),
      tenantId,
      sessionId: c.req.valid('param').sessionId,
      input: c.req.valid('json'),
      defaultCountry,
    })
    return c.json(checked, 200)
  })
  app.openapi(listGroupsRoute, async (c) => {
    const { tenantId } = activeTenantOf(c)
    return c.json(
      await listGroups({ ctx: c.get('ctx'), tenantId, sessionId: c.req.valid('param').sessionId }),
      200,
    )
  })
}
