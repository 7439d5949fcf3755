import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import { requireTenant, tenantIdOf } from '../http/auth.js'
import type { AppEnv } from '../http/env.js'
import { acceptJsonBody } from '../http/request-body.js'
import {
  ChatListQuery,
  ChatMessagesQuery,
  ChatPageSchema,
  ChatParams,
  ContactListQuery,
  ContactPageSchema,
  errorResponses,
  jsonResponse,
  MessageHistoryQuery,
  MessagePageSchema,
  SessionParams,
} from '../http/schemas.js'
import { listChats, listContacts } from '../services/chats.js'
import {
  listMessageHistory,
  type MessageHistoryFilters,
  metadataFiltersOf,
} from '../services/message-history.js'

const tenant = { security: [{ bearer: [] }], middleware: [requireTenant, acceptJsonBody] }

const FILTERS_DESCRIPTION =
  'Newest first. Filters combine: `direction`, `status`, `type`, `chatId` (a number in any format or a JID; a chat WhatsApp named by LID is found by its phone number once the mapping is known), `from`/`until` (when the message was stored), and any number (up to 16) of `metadata.<key>=<value>` (the send’s metadata must hold each pair, e.g. `metadata.customerId=123`). Pass `nextCursor` as `after` for the next page. A bad filter is 400 naming it.'

const listMessagesRoute = createRoute({
  ...tenant,
  tags: ['History'],
  method: 'get',
  operationId: 'listMessages',
  path: '/v1/messages',
  summary: 'The message history of every session of the tenant, inbound and outbound',
  description: FILTERS_DESCRIPTION,
  request: { query: MessageHistoryQuery },
  responses: { 200: jsonResponse(MessagePageSchema, 'A page of messages'), ...errorResponses(400, 401, 403) },
})

const listSessionMessagesRoute = createRoute({
  ...tenant,
  tags: ['History'],
  method: 'get',
  operationId: 'listSessionMessages',
  path: '/v1/sessions/{sessionId}/messages',
  summary: 'The message history of one session, inbound and outbound',
  description: FILTERS_DESCRIPTION,
  request: { params: SessionParams, query: MessageHistoryQuery },
  responses: {
    200: jsonResponse(MessagePageSchema, 'A page of messages'),
    ...errorResponses(400, 401, 403, 404),
  },
})

const listChatsRoute = createRoute({
  ...tenant,
  tags: ['History'],
  method: 'get',
  operationId: 'listChats',
  path: '/v1/sessions/{sessionId}/chats',
  summary: 'The session’s chats, newest activity first',
  description:
    'Fed by WhatsApp’s history sync and chat events, and by the traffic: a received message counts as unread and becomes the last message; a sent one becomes the last message and clears the unread count.',
  request: { params: SessionParams, query: ChatListQuery },
  responses: { 200: jsonResponse(ChatPageSchema, 'A page of chats'), ...errorResponses(400, 401, 403, 404) },
})

const listChatMessagesRoute = createRoute({
  ...tenant,
  tags: ['History'],
  method: 'get',
  operationId: 'listChatMessages',
  path: '/v1/sessions/{sessionId}/chats/{chatId}/messages',
  summary: 'The messages of one chat, newest first',
  description:
    'The same filters as `/v1/sessions/{sessionId}/messages` but `chatId`, which is the path: a number in any format or a JID (URL-encoded). A chat that is not a number or JID is 400.',
  request: { params: ChatParams, query: ChatMessagesQuery },
  responses: {
    200: jsonResponse(MessagePageSchema, 'A page of messages'),
    ...errorResponses(400, 401, 403, 404),
  },
})

const listContactsRoute = createRoute({
  ...tenant,
  tags: ['History'],
  method: 'get',
  operationId: 'listContacts',
  path: '/v1/sessions/{sessionId}/contacts',
  summary: 'The session’s contacts: phone, JID, LID, push name and saved name',
  description:
    'One entry per person, under the phone-number JID when WhatsApp gave one (else the LID); `phone` is shown whenever the LID↔phone mapping is known. In JID order.',
  request: { params: SessionParams, query: ContactListQuery },
  responses: {
    200: jsonResponse(ContactPageSchema, 'A page of contacts'),
    ...errorResponses(400, 401, 403, 404),
  },
})

/** The validated filters plus the `metadata.<key>` ones, which a fixed schema cannot declare. */
function filtersOf(
  query: Omit<MessageHistoryFilters, 'metadata'> & { limit: number; after?: string },
  raw: Record<string, string[]>,
): { filters: MessageHistoryFilters; page: { limit: number; after?: string } } {
  const { limit, after, ...filters } = query
  return {
    filters: { ...filters, metadata: metadataFiltersOf(raw) },
    page: { limit, ...(after !== undefined ? { after } : {}) },
  }
}

export function registerHistoryRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(listMessagesRoute, async (c) => {
    const { filters, page } = filtersOf(c.req.valid('query'), c.req.queries())
    return c.json(
      await listMessageHistory({ ctx: c.get('ctx'), tenantId: tenantIdOf(c), filters, page }),
      200,
    )
  })
  app.openapi(listSessionMessagesRoute, async (c) => {
    const { filters, page } = filtersOf(c.req.valid('query'), c.req.queries())
    const { sessionId } = c.req.valid('param')
    return c.json(
      await listMessageHistory({ ctx: c.get('ctx'), tenantId: tenantIdOf(c), sessionId, filters, page }),
      200,
    )
  })
  app.openapi(listChatMessagesRoute, async (c) => {
    const { filters, page } = filtersOf(c.req.valid('query'), c.req.queries())
    const { sessionId, chatId } = c.req.valid('param')
    return c.json(
      await listMessageHistory({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        sessionId,
        filters: { ...filters, chatId },
        page,
        chatField: 'path.chatId',
      }),
      200,
    )
  })
  app.openapi(listChatsRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    const { sessionId } = c.req.valid('param')
    return c.json(
      await listChats({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        sessionId,
        page: { limit, ...(after !== undefined ? { after } : {}) },
      }),
      200,
    )
  })
  app.openapi(listContactsRoute, async (c) => {
    const { limit, after } = c.req.valid('query')
    const { sessionId } = c.req.valid('param')
    return c.json(
      await listContacts({
        ctx: c.get('ctx'),
        tenantId: tenantIdOf(c),
        sessionId,
        page: { limit, ...(after !== undefined ? { after } : {}) },
      }),
      200,
    )
  })
}
