import { z } from '@hono/zod-openapi'
import { EVENT_TYPES, type EventType, MESSAGE_STATUSES, SESSION_STATES } from '@wa-cluster/shared'

// The request and response shapes of the public API. Every route declares its schemas from here, so
// the OpenAPI document at /openapi.json is the complete contract.

/** Ids we generate are `prefix_` + lowercase base36; anything else cannot name a resource. */
export const idOf = (prefix: string, example: string) =>
  z
    .string()
    .regex(new RegExp(`^${prefix}_[0-9a-z]{1,64}$`))
    .openapi({ example })

/** Printable text without control characters (Postgres refuses NUL, and names are shown in UIs). */
const displayName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  // The control characters (\p{Cc}) spelled as ranges: a regex flag cannot travel into the OpenAPI
  // `pattern`, and this one must hold in any client that validates against the document.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  .regex(/^[^\x00-\x1f\x7f-\x9f]*$/, 'must not contain control characters')

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_failed' }),
      message: z.string().openapi({ example: 'body.to is too short to be a phone number' }),
      requestId: z.string().openapi({ example: 'req_4f0c2b9d8e6a4c1b9a7d3e5f6a8b0c2d' }),
      field: z.string().optional().openapi({ example: 'body.to' }),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi('Error')

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid JSON or a field failed validation (`field` names it)',
  401: 'Missing, unknown or revoked API key',
  403: 'The key may not call this endpoint (admin vs tenant)',
  404: 'Unknown id (or one that belongs to another tenant)',
  409: 'The resource is not in a state that allows this',
  413: 'Request body larger than 1 MiB',
  415: 'Request body is not application/json',
  422: 'Understood but cannot be done (`field` names what)',
  429: 'Rate limited; see the Retry-After header',
  503: 'A dependency (node capacity, database) is unavailable',
}

/** Error responses a route can give; each uses the one error body. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error',
        content: { 'application/json': { schema: ErrorSchema } },
      },
    ]),
  )
}

/**
 * An integer in the query string: plain decimal digits only. `0x10`, `1e1`, `+10`, ` 10` and `10.0`
 * are refused rather than read as 16, 10, 10, 10 and 10.
 */
export const queryInteger = (schema: z.ZodNumber) =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value),
    schema,
  )

/** Page size of every list: 1–200, default 50. */
const pageLimit = queryInteger(
  z
    .number({ error: 'must be a whole number written in decimal digits' })
    .int('must be an integer')
    .min(1, 'must be between 1 and 200')
    .max(200, 'must be between 1 and 200'),
)
  .default(50)
  .openapi({ param: { name: 'limit', in: 'query' }, example: 50 })

/**
 * `limit` and `after` of a list endpoint. `after` is the `nextCursor` of the previous page: the last
 * item it held, in the list's order.
 */
export const pageQuery = (cursor: z.ZodString, example: string) =>
  z.object({
    limit: pageLimit,
    after: cursor.optional().openapi({
      param: { name: 'after', in: 'query' },
      example,
      description: 'nextCursor of the previous page',
    }),
  })

/** `{data, nextCursor}`: nextCursor is null on the last page. */
export const pageOf = <T extends z.ZodType>(item: T, name: string) =>
  z
    .object({
      data: z.array(item),
      nextCursor: z
        .string()
        .nullable()
        .openapi({ description: 'Pass it as `after` for the next page; null on the last page' }),
    })
    .openapi(name)

const idCursor = (prefix: string, what: string) =>
  z
    .string()
    .regex(
      new RegExp(`^${prefix}_[0-9a-z]{1,64}$`),
      `must be ${what} id (the nextCursor of the previous page)`,
    )

export const jsonBody = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { 'application/json': { schema } },
})

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

// --- tenants and keys (operator) ---

export const TenantParams = z.object({
  tenantId: idOf('ten', 'ten_0lq2x3y4z5abcdefghijkl').openapi({ param: { name: 'tenantId', in: 'path' } }),
})
export const ApiKeyParams = TenantParams.extend({
  apiKeyId: idOf('key', 'key_0lq2x3y4z5abcdefghijkl').openapi({ param: { name: 'apiKeyId', in: 'path' } }),
})

export const CreateTenantBody = z
  .strictObject({ name: displayName.openapi({ example: 'Klinik Sehat' }) })
  .openapi('CreateTenant')
/** Limits in force for a tenant: its own where the operator set one, the configured default otherwise. */
export const TenantLimitsSchema = z
  .object({
    sessions: z.number().int().openapi({
      description: 'Sessions the tenant may have (default TENANT_MAX_SESSIONS); creating one more is 409',
      example: 100,
    }),
    requestsPerMinute: z.number().int().openapi({
      description:
        'API requests per minute, all control-planes together (default TENANT_REQUESTS_PER_MINUTE)',
      example: 1200,
    }),
  })
  .openapi('TenantLimits')
export const TenantSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    limits: TenantLimitsSchema,
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Tenant')
export const TenantDetailSchema = TenantSchema.extend({
  usage: z
    .object({ sessions: z.number().int().openapi({ description: 'Sessions the tenant has now' }) })
    .openapi({ description: 'What the tenant uses of its limits' }),
}).openapi('TenantDetail')

const limitValue = (max: number) =>
  z
    .number()
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(max, `must be at most ${max}`)
    .nullable()

export const UpdateTenantBody = z
  .strictObject({
    limits: z
      .strictObject({
        sessions: limitValue(1_000_000).optional().openapi({
          description: 'Sessions the tenant may have; null goes back to the default',
          example: 100,
        }),
        requestsPerMinute: limitValue(1_000_000).optional().openapi({
          description: 'API requests per minute; null goes back to the default',
          example: 600,
        }),
      })
      .optional()
      .openapi({ description: 'Only the limits named change' }),
  })
  .openapi('UpdateTenant')
export const TenantCreatedSchema = TenantSchema.extend({
  apiKey: z.string().openapi({ description: 'The tenant API key (`wak_…`). Shown once; store it now.' }),
}).openapi('TenantCreated')
export const TenantListSchema = pageOf(TenantSchema, 'TenantList')
export const TenantListQuery = pageQuery(idCursor('ten', 'a tenant'), 'ten_0lq2x3y4z5abcdefghijkl')

export const CreateApiKeyBody = z.strictObject({ name: displayName.optional() }).openapi('CreateApiKey')
export const ApiKeySchema = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    name: z.string().nullable(),
    prefix: z
      .string()
      .openapi({ description: 'First characters of the key, to tell keys apart', example: 'wak_Xy3kP0aQ' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    revokedAt: z.string().nullable().openapi({ format: 'date-time' }),
  })
  .openapi('ApiKey')
export const ApiKeyCreatedSchema = ApiKeySchema.extend({
  apiKey: z.string().openapi({ description: 'The key (`wak_…`). Shown once.' }),
}).openapi('ApiKeyCreated')
export const ApiKeyListSchema = pageOf(ApiKeySchema, 'ApiKeyList')
export const ApiKeyListQuery = pageQuery(idCursor('key', 'an API key'), 'key_0lq2x3y4z5abcdefghijkl')

// --- nodes (operator) ---

export const NodeParams = z.object({
  nodeId: z
    .string()
    .regex(/^[a-zA-Z0-9_.-]{1,64}$/)
    .openapi({ param: { name: 'nodeId', in: 'path' }, example: 'node-a' }),
})
export const NodeSchema = z
  .object({
    id: z.string(),
    status: z.string().openapi({ description: '`active` | `draining` | `stopping` | `dead` | `stopped`' }),
    capacity: z.number().int(),
    sessions: z.number().int(),
    lastHeartbeatAt: z.string().nullable(),
    startedAt: z.string(),
  })
  .openapi('Node')
export const NodeListSchema = pageOf(NodeSchema, 'NodeList')
export const NodeListQuery = pageQuery(
  z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'must be a node id (the nextCursor of the previous page)'),
  'node-a',
)
export const DrainResultSchema = NodeSchema.extend({
  sessionsToMove: z.number().int().openapi({
    description: 'Sessions being handed over to other nodes, a few at a time, in the background',
  }),
}).openapi('DrainResult')
export const RebalanceBody = z.strictObject({ dryRun: z.boolean().optional() }).openapi('Rebalance')
export const RebalancePlanSchema = z
  .object({
    dryRun: z.boolean(),
    moves: z.array(z.object({ sessionId: z.string(), from: z.string(), to: z.string() })),
    before: z.record(z.string(), z.number()),
    after: z.record(z.string(), z.number()),
  })
  .openapi('RebalancePlan')
export const MoveSessionBody = z
  .strictObject({ nodeId: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'must be a node id') })
  .openapi('MoveSession')

// --- sessions ---

export const SessionParams = z.object({
  sessionId: idOf('ses', 'ses_0lq2x3y4z5abcdefghijkl').openapi({ param: { name: 'sessionId', in: 'path' } }),
})
export const MessageParams = SessionParams.extend({
  messageId: idOf('msg', 'msg_0lq2x3y4z5abcdefghijkl').openapi({ param: { name: 'messageId', in: 'path' } }),
})

const sessionState = z.enum(SESSION_STATES)
export const CreateSessionBody = z.strictObject({ name: displayName.optional() }).openapi('CreateSession')
export const SessionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    state: sessionState,
    desiredState: z.enum(['connected', 'disconnected', 'logged_out']),
    phone: z.string().nullable(),
    nodeId: z.string().nullable(),
    reason: z.string().nullable(),
    qrExpiresAt: z.string().nullable(),
    connectedAt: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Session')
export const SessionListSchema = pageOf(SessionSchema, 'SessionList')
export const SessionListQuery = pageQuery(idCursor('ses', 'a session'), 'ses_0lq2x3y4z5abcdefghijkl')

export const ConnectBody = z
  .strictObject({
    pairingPhone: z.string().max(64).optional().openapi({
      description: 'Link with an 8-character pairing code on this phone instead of a QR',
      example: '0812 3456 7890',
    }),
  })
  .openapi('Connect')
export const ConnectResultSchema = z
  .object({
    state: sessionState,
    qr: z.string().optional().openapi({ description: 'The QR payload; render it or use qrImage' }),
    qrImage: z.string().optional().openapi({ description: 'PNG data URL of the QR' }),
    expiresAt: z.string().optional(),
    pairingCode: z.string().optional(),
  })
  .openapi('ConnectResult')

// --- messages ---

/** What `type` a sent message may have; `list` and `buttons` are refused (see the route). */
export const SEND_MESSAGE_TYPES = ['text', 'location', 'contact', 'reaction', 'list', 'buttons'] as const

export const MessageLocationSchema = z
  .object({
    latitude: z.number().min(-90).max(90).openapi({ example: -6.2 }),
    longitude: z.number().min(-180).max(180).openapi({ example: 106.816666 }),
    name: z.string().max(1000).optional().openapi({ example: 'Monas' }),
    address: z.string().max(1000).optional().openapi({ example: 'Gambir, Jakarta Pusat' }),
  })
  .openapi('MessageLocation')
export const MessageContactSchema = z
  .object({
    name: z.string().min(1).max(256).openapi({ example: 'Budi' }),
    phone: z
      .string()
      .regex(/^\d{6,20}$/, 'must be digits with the country code')
      .openapi({ description: 'Digits with the country code', example: '6281234567890' }),
  })
  .openapi('MessageContact')
export const MessageReactionSchema = z
  .object({
    messageId: z.string().min(1).max(128).openapi({ description: 'The id of the message reacted to' }),
    emoji: z.string().max(16).openapi({ description: 'The emoji; `""` removes the reaction', example: '👍' }),
  })
  .openapi('MessageReaction')

export const SendMessageBody = z
  .strictObject({
    to: z.string().max(128, 'must be at most 128 characters').openapi({
      description: '`+62812…`, `62812…`, `0812…` (default country), `…@s.whatsapp.net`, `…@g.us`',
      example: '0812 3456 7890',
    }),
    type: z.enum(SEND_MESSAGE_TYPES).optional().openapi({
      description:
        '`text` (the default when `text` is given), `location`, `contact` or `reaction`. `list` and `buttons` answer 422: WhatsApp no longer delivers them to personal accounts from linked devices.',
    }),
    text: z
      .string()
      .min(1, 'must not be empty')
      .max(4096, 'must be at most 4096 characters')
      .regex(/^[^\0]*$/, 'must not contain NUL characters')
      .optional()
      .openapi({
        description: 'The text; required when `type` is `text`',
        example: 'Your lab results are ready.',
      }),
    // Required when `type` is `location` (a reference cannot carry its own description here).
    location: MessageLocationSchema.optional(),
    contacts: z
      .array(MessageContactSchema)
      .min(1, 'must not be empty')
      .max(20, 'must have at most 20 contacts')
      .optional()
      .openapi({
        description: 'Required when `type` is `contact`: the cards to share (a vCard is built for each)',
      }),
    // Required when `type` is `reaction`.
    reaction: MessageReactionSchema.optional(),
    replyTo: z
      .string()
      .regex(/^msg_[0-9a-z]+$/, 'must be a message id (msg_…)')
      .optional()
      .openapi({
        description: 'Quote an earlier message of this session',
        example: 'msg_0lq2x3y4z5abcdefghijkl',
      }),
    mentions: z
      .array(z.string().regex(/^\d{6,20}$/, 'must be digits with the country code'))
      .max(100, 'must have at most 100 phones')
      .optional()
      .openapi({ description: 'Phones mentioned in the text (digits with the country code)' }),
  })
  .openapi('SendMessage')
export const IdempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x20-\x7e]{1,255}$/, 'must be 1-255 printable ASCII characters')
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description: 'Retries with the same key return the same message',
    }),
})
export const MessageSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    direction: z.enum(['in', 'out']),
    to: z.string().openapi({ description: 'Normalised JID', example: '6281234567890@s.whatsapp.net' }),
    status: z.enum(MESSAGE_STATUSES),
    waMessageId: z.string().nullable(),
    type: z.string().openapi({ description: '`text`, `location`, `contact` or `reaction`' }),
    text: z.string().nullable(),
    location: MessageLocationSchema.optional(),
    contacts: z.array(MessageContactSchema).optional(),
    reaction: MessageReactionSchema.optional(),
    replyTo: z.string().optional().openapi({ description: 'The quoted message (`msg_…`)' }),
    mentions: z.array(z.string()).optional(),
    error: z.string().nullable(),
    statusHistory: z.array(z.object({ status: z.string(), at: z.string() })),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Message')

// --- webhook ---

const webhookUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .refine((value) => {
    try {
      const url = new URL(value)
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0
    } catch {
      return false
    }
  }, 'must be an absolute http:// or https:// URL')
export const PutWebhookBody = z
  .strictObject({
    url: webhookUrl.openapi({ example: 'https://example.com/wa-webhook' }),
    events: z
      .array(z.enum(EVENT_TYPES))
      .min(1, 'must list at least one event type (omit it for all)')
      .nullable()
      .optional()
      .openapi({ description: 'Event types to deliver; omitted or null = all' }),
    rotateSecret: z.boolean().optional().openapi({ description: 'Generate a new signing secret' }),
  })
  .openapi('PutWebhook')
export const WebhookSchema = z
  .object({
    url: z.string(),
    events: z.array(z.enum(EVENT_TYPES)).nullable(),
    secret: z.string().openapi({ description: 'Standard Webhooks signing secret (`whsec_…`)' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Webhook')

// --- events ---

export const EventParams = z.object({
  eventId: idOf('evt', 'evt_0lq2x3y4z5abcdefghijkl').openapi({ param: { name: 'eventId', in: 'path' } }),
})
export const EventsQuery = z.object({
  after: z
    .string()
    .regex(/^evt_[0-9a-z]{1,64}$/, 'must be an event id (the nextCursor of the previous page)')
    .optional()
    .openapi({ param: { name: 'after', in: 'query' } }),
  limit: pageLimit,
  sessionId: z
    .string()
    .regex(/^ses_[0-9a-z]{1,64}$/, 'must be a session id')
    .optional()
    .openapi({ param: { name: 'sessionId', in: 'query' } }),
  type: z
    .enum(EVENT_TYPES)
    .optional()
    .openapi({ param: { name: 'type', in: 'query' } }),
})
// The envelope every webhook delivery and every listed event has, discriminated by `type`. `data` is what
// session-node writes: connection.update from sessions/session-record.ts, messages.* from
// messages/message-events.ts.

const timestamp = z.string().openapi({ format: 'date-time', example: '2025-01-01T00:00:00.000Z' })

export const ConnectionUpdateDataSchema = z
  .object({
    state: sessionState,
    previousState: sessionState,
    reason: z.string().optional().openapi({ example: 'disconnected by API' }),
    statusCode: z
      .number()
      .int()
      .optional()
      .openapi({ description: "WhatsApp's close code when the change came from a closed socket" }),
    qr: z.string().optional().openapi({ description: 'The QR payload while QR_READY' }),
    qrImage: z.string().optional().openapi({ description: 'PNG data URL of the QR' }),
    qrExpiresAt: timestamp.optional(),
    pairingCode: z.string().optional().openapi({ description: 'The 8-character code while PAIRING' }),
    phone: z.string().optional().openapi({ description: 'The linked number, once known' }),
  })
  .openapi('ConnectionUpdateData')

export const InboundMessageSchema = z
  .object({
    id: z.string().openapi({ description: "WhatsApp's message id" }),
    waMessageId: z.string().openapi({ description: "WhatsApp's message id" }),
    chatId: z.string().openapi({ example: '6281234567890@s.whatsapp.net' }),
    from: z.string().openapi({ description: 'JID of the sender (the session itself when fromMe)' }),
    fromMe: z.boolean(),
    timestamp: z.number().int().openapi({ description: 'Unix seconds' }),
    pushName: z.string().optional(),
    type: z.string().openapi({
      description:
        '`text`, `location`, `contact`, `reaction`, `image`, `video`, `document`, `audio`, `sticker`…',
    }),
    text: z.string().optional().openapi({ description: 'The text, or the caption of a media message' }),
    location: MessageLocationSchema.optional().openapi({ description: 'When `type` is `location`' }),
    contacts: z
      .array(MessageContactSchema)
      .optional()
      .openapi({ description: 'When `type` is `contact`: the shared cards' }),
    reaction: MessageReactionSchema.optional().openapi({
      description: 'When `type` is `reaction`: the WhatsApp id of the message reacted to and the emoji',
    }),
    replyTo: z.string().optional().openapi({ description: "The quoted message's WhatsApp id" }),
    mentions: z.array(z.string()).optional().openapi({ description: 'Phones mentioned in the text' }),
  })
  .openapi('InboundMessage')
export const MessagesUpsertDataSchema = z
  .object({ messages: z.array(InboundMessageSchema) })
  .openapi('MessagesUpsertData')

export const MessageStatusUpdateSchema = z
  .object({
    id: z
      .string()
      .openapi({ description: 'Our message id (`msg_…`)', example: 'msg_0lq2x3y4z5abcdefghijkl' }),
    waMessageId: z.string().openapi({ description: "WhatsApp's message id" }),
    chatId: z.string(),
    status: z.enum(MESSAGE_STATUSES),
  })
  .openapi('MessageStatusUpdate')
export const MessagesUpdateDataSchema = z
  .object({ updates: z.array(MessageStatusUpdateSchema) })
  .openapi('MessagesUpdateData')

const envelopeOf = <T extends EventType, D extends z.ZodType>(type: T, data: D) =>
  z.object({
    id: z.string().openapi({
      description: 'The event id, also sent as `webhook-id`',
      example: 'evt_0lq2x3y4z5abcdefghijkl',
    }),
    type: z.literal(type),
    tenantId: z.string(),
    sessionId: z.string(),
    seq: z.number().int().openapi({ description: "Order of the session's events" }),
    occurredAt: timestamp,
    data,
  })
export const ConnectionUpdateEventSchema = envelopeOf(
  'connection.update',
  ConnectionUpdateDataSchema,
).openapi('ConnectionUpdateEvent')
export const MessagesUpsertEventSchema = envelopeOf('messages.upsert', MessagesUpsertDataSchema).openapi(
  'MessagesUpsertEvent',
)
export const MessagesUpdateEventSchema = envelopeOf('messages.update', MessagesUpdateDataSchema).openapi(
  'MessagesUpdateEvent',
)
/** The body of every webhook delivery, by event type. */
export const WEBHOOK_EVENT_SCHEMAS = {
  'connection.update': ConnectionUpdateEventSchema,
  'messages.upsert': MessagesUpsertEventSchema,
  'messages.update': MessagesUpdateEventSchema,
} as const satisfies Record<EventType, z.ZodType>
export const WebhookEventSchema = z
  .discriminatedUnion('type', [
    ConnectionUpdateEventSchema,
    MessagesUpsertEventSchema,
    MessagesUpdateEventSchema,
  ])
  .openapi('WebhookEvent')

export const EventDeliverySchema = z
  .object({
    status: z.enum(['pending', 'delivered', 'dead', 'none']).openapi({
      description:
        '`none`: there was no webhook, or its filter left this type out, when the event was written',
    }),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable().openapi({ description: 'Only while pending' }),
    lastError: z.string().nullable(),
    deliveredAt: z.string().nullable(),
  })
  .openapi('EventDelivery')
const withDelivery = <T extends z.ZodObject>(event: T) => event.extend({ delivery: EventDeliverySchema })
/** An event as `GET /v1/events` lists it: the webhook body plus where its delivery stands. */
export const EventSchema = z
  .discriminatedUnion('type', [
    withDelivery(ConnectionUpdateEventSchema).openapi('ListedConnectionUpdateEvent'),
    withDelivery(MessagesUpsertEventSchema).openapi('ListedMessagesUpsertEvent'),
    withDelivery(MessagesUpdateEventSchema).openapi('ListedMessagesUpdateEvent'),
  ])
  .openapi('Event')
export const EventPageSchema = z
  .object({ data: z.array(EventSchema), nextCursor: z.string().nullable() })
  .openapi('EventPage')
export const BulkRedeliverBody = z
  .strictObject({ status: z.literal('dead').openapi({ description: 'Redeliver every dead-lettered event' }) })
  .openapi('BulkRedeliver')
export const RedeliverResultSchema = z.object({ redelivered: z.number().int() }).openapi('RedeliverResult')

// --- live event streams ---

const EVENT_TYPE_LIST = new RegExp(
  `^(${EVENT_TYPES.map((type) => type.replace('.', '\\.')).join('|')})(,(${EVENT_TYPES.map((type) => type.replace('.', '\\.')).join('|')}))*$`,
)
const streamCursor = z
  .string()
  .regex(/^evt_[0-9a-z]{1,64}$/, 'must be an event id (the id of the last event received)')

export const EventStreamQuery = z.object({
  after: streamCursor.optional().openapi({
    param: { name: 'after', in: 'query' },
    description:
      'Replay the events after this one, then go live. `Last-Event-ID` wins over it (EventSource sends it on reconnect). Without either, the stream starts now.',
    example: 'evt_0lq2x3y4z5abcdefghijkl',
  }),
  sessionId: z
    .string()
    .regex(/^ses_[0-9a-z]{1,64}$/, 'must be a session id')
    .optional()
    .openapi({ param: { name: 'sessionId', in: 'query' }, description: 'Only this session’s events' }),
  types: z
    .string()
    .regex(EVENT_TYPE_LIST, `must be a comma-separated list of ${EVENT_TYPES.join(', ')}`)
    .optional()
    .openapi({
      param: { name: 'types', in: 'query' },
      description: 'Only these event types, comma-separated',
      example: 'messages.upsert,messages.update',
    }),
  token: z
    .string()
    .max(2048, 'is too long to be a stream token')
    .optional()
    .openapi({
      param: { name: 'token', in: 'query' },
      description:
        'A stream token from `POST /v1/stream-tokens`, for clients that cannot send an Authorization header (browsers’ EventSource). Valid on the stream endpoints only.',
    }),
})
export const EventStreamHeaders = z.object({
  'last-event-id': streamCursor.optional().openapi({
    param: { name: 'last-event-id', in: 'header' },
    description:
      'The `id:` of the last event received: the stream resumes after it, with no gap and no duplicate',
  }),
})

export const CreateStreamTokenBody = z
  .strictObject({
    sessionId: z
      .string()
      .regex(/^ses_[0-9a-z]{1,64}$/, 'must be a session id')
      .optional()
      .openapi({
        description: 'Limit the token to this session’s events; omitted = every session of the tenant',
      }),
    ttlSeconds: z
      .number({ error: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(1, 'must be between 1 and 3600')
      .max(3600, 'must be between 1 and 3600')
      .optional()
      .openapi({ description: 'Lifetime in seconds, 1–3600; default 300', example: 300 }),
  })
  .openapi('CreateStreamToken')
export const StreamTokenSchema = z
  .object({
    token: z.string().openapi({
      description: 'Pass it as `?token=` to `/v1/events/stream` or `/v1/events/ws`; it opens nothing else',
      example: 'wst_AbC…',
    }),
    sessionId: z.string().nullable().openapi({ description: 'The one session it reads, or null for all' }),
    expiresAt: timestamp,
  })
  .openapi('StreamToken')
