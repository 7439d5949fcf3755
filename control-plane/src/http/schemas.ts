import { z } from '@hono/zod-openapi'
import {
  BROADCAST_STATUSES,
  countryOfSetting,
  EVENT_TYPES,
  type EventType,
  isKnownTimeZone,
  MEDIA_MESSAGE_TYPES,
  MESSAGE_CHANGES,
  MESSAGE_ERROR_CODES,
  MESSAGE_STATUSES,
  type MessageErrorCode,
  SESSION_STATES,
  STORED_MESSAGE_STATUSES,
  TENANT_STATUSES,
} from '@wa-cluster/shared'

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

/** An absolute http(s) URL; where it may point is checked by the service (the outbound guard). */
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
  504: "The session's node did not answer in time; try again shortly",
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
    messagesPerMinutePerSession: z.number().int().openapi({
      description:
        'Sends per minute per session (default SEND_RATE_LIMIT_PER_MINUTE); a send past it is 429, a broadcast slows down to it',
      example: 100,
    }),
    messagesPerDay: z.number().int().nullable().openapi({
      description:
        'Messages per day for the tenant (a 24 h window), single sends and broadcasts together: a send past it is 429, a broadcast waits; null = no quota',
      example: 10000,
    }),
  })
  .openapi('TenantLimits')
export const TenantSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(TENANT_STATUSES).openapi({
      description: '`suspended`: sends and connects answer 403 `tenant_suspended`; broadcasts wait',
    }),
    limits: TenantLimitsSchema,
    retentionDays: z.number().int().openapi({
      description: 'Days message bodies are kept (history, received message events); older ones are deleted',
      example: 90,
    }),
    defaultCountry: z.string().openapi({
      description:
        "ISO 3166 alpha-2 country of numbers written without a country code (`0812…`, `812…`): the tenant's own, else DEFAULT_COUNTRY_CODE",
      example: 'ID',
    }),
    timeZone: z.string().openapi({
      description: 'IANA time zone `groupBy=day` statistics use (default UTC)',
      example: 'Asia/Jakarta',
    }),
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
        messagesPerMinutePerSession: limitValue(100_000).optional().openapi({
          description: 'Sends per minute per session; null goes back to the default',
          example: 100,
        }),
        messagesPerDay: limitValue(100_000_000).optional().openapi({
          description: 'Messages per day for the tenant; null removes the quota',
          example: 10000,
        }),
      })
      .optional()
      .openapi({ description: 'Only the limits named change' }),
    status: z.enum(TENANT_STATUSES).optional().openapi({
      description:
        '`suspended` refuses sends and connects (403 `tenant_suspended`); `active` allows them again',
    }),
    retentionDays: z
      .number()
      .int('must be an integer')
      .min(1, 'must be between 1 and 3650')
      .max(3650, 'must be between 1 and 3650')
      .optional()
      .openapi({ description: 'Days message bodies are kept (default 90)', example: 30 }),
    defaultCountry: z
      .string()
      .max(8, 'must be an ISO 3166 alpha-2 country (ID) or a calling code (62)')
      .refine((value) => countryOfSetting(value) !== undefined, {
        message: 'must be an ISO 3166 alpha-2 country (ID) or a calling code (62)',
      })
      .nullable()
      .optional()
      .openapi({
        description:
          'Country of numbers written without a country code: ISO 3166 alpha-2 (`ID`), or a calling code (`62`, stored as its main country); null goes back to DEFAULT_COUNTRY_CODE',
        example: 'ID',
      }),
    timeZone: z
      .string()
      .max(64, 'must be an IANA time zone such as Asia/Jakarta')
      .refine(isKnownTimeZone, { message: 'must be an IANA time zone such as Asia/Jakarta' })
      .nullable()
      .optional()
      .openapi({
        description: 'IANA time zone of `groupBy=day` statistics; null goes back to UTC',
        example: 'Asia/Jakarta',
      }),
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
/** A tenant's own key for a session: printable, no spaces at the ends. */
const externalId = z
  .string()
  .regex(/^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/, 'must be 1-128 printable ASCII characters')
  .openapi({
    description: 'Your own key for the session (your customer id…), unique among your sessions',
    example: 'customer-123',
  })
export const CreateSessionBody = z
  .strictObject({
    name: displayName.optional(),
    externalId: externalId.optional().openapi({
      description:
        'Your own key for the session (your customer id…), unique among your sessions (a duplicate is `409 external_id_taken`); echoed in every webhook event of the session as `data.externalId`',
    }),
    webhookUrl: webhookUrl.optional().openapi({
      description:
        "Creates a webhook endpoint for this session only (its events, every type); the response's `webhookEndpoint` holds its id and secret",
      example: 'https://example.com/wa-webhook/session-1',
    }),
  })
  .openapi('CreateSession')
export const SessionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    externalId: z.string().nullable().openapi({ description: 'Your own key for the session, when given' }),
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
export const SessionListQuery = pageQuery(idCursor('ses', 'a session'), 'ses_0lq2x3y4z5abcdefghijkl').extend({
  externalId: externalId.optional().openapi({
    param: { name: 'externalId', in: 'query' },
    description: 'Only the session with this externalId',
  }),
})

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
export const SEND_MESSAGE_TYPES = [
  'text',
  'location',
  'contact',
  'reaction',
  'poll',
  'list',
  'buttons',
  ...MEDIA_MESSAGE_TYPES,
] as const

/** A file the gateway fetches. */
const mediaUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .regex(/^https?:\/\//, 'must be an http(s) URL')

/** A media file as a send gives it: fetched from `url`, or the bytes in base64 (`data`). */
export const SendMediaSchema = z
  .strictObject({
    url: mediaUrl.optional().openapi({
      description:
        'Fetched by the gateway when the message is accepted (http or https; no private, loopback or link-local address unless ALLOW_PRIVATE_NETWORKS lists it; 30 s to answer, 120 s in all; redirects are not followed)',
      example: 'https://example.com/invoice.pdf',
    }),
    data: z.string().optional().openapi({
      description:
        'The file in base64 (standard alphabet). A JSON body is at most 24 MiB: send larger files with `url` or as multipart/form-data',
    }),
    mimeType: z.string().max(255, 'must be at most 255 characters').optional().openapi({
      description: "The file's type; sniffed from its first bytes when absent",
      example: 'application/pdf',
    }),
    fileName: z
      .string()
      .min(1, 'must not be empty')
      .max(255, 'must be at most 255 characters')
      .optional()
      .openapi({
        description: "A document's file name, shown by WhatsApp",
        example: 'invoice.pdf',
      }),
  })
  .openapi('SendMedia')

/** A media message's file as the API shows it (never the bytes). */
export const MessageMediaSchema = z
  .object({
    mimeType: z.string().openapi({ example: 'image/jpeg' }),
    size: z.number().int().openapi({ description: 'Bytes', example: 48213 }),
    sha256: z.string().openapi({ description: 'Hex SHA-256 of the file' }),
    fileName: z.string().optional().openapi({ description: "A document's file name" }),
  })
  .openapi('MessageMedia')

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
    phone: z.string().max(128, 'must be at most 128 characters').openapi({
      description:
        'A phone number in any form `to` takes (a person, not a group); stored and shown as digits with the country code',
      example: '6281234567890',
    }),
  })
  .openapi('MessageContact')
export const MessageReactionSchema = z
  .object({
    messageId: z.string().min(1).max(128).openapi({ description: 'The id of the message reacted to' }),
    emoji: z.string().max(16).openapi({ description: 'The emoji; `""` removes the reaction', example: '👍' }),
  })
  .openapi('MessageReaction')
export const MAX_POLL_OPTIONS = 12
const pollText = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(/^[^\0]*$/, 'must not contain NUL characters')
export const MessagePollInputSchema = z
  .strictObject({
    question: pollText(255).openapi({ example: 'Which day suits you?' }),
    options: z
      .array(pollText(100))
      .min(2, 'must have at least 2 options')
      .max(MAX_POLL_OPTIONS, `must have at most ${MAX_POLL_OPTIONS} options`)
      .openapi({ description: '2 to 12 distinct options', example: ['Monday', 'Tuesday'] }),
    selectableCount: z.number().int('must be an integer').min(0, 'must be at least 0').optional().openapi({
      description:
        'How many options a voter may pick: `1` for a single choice, up to the number of options; `0` (the default) for any number',
      example: 1,
    }),
  })
  .openapi('MessagePollInput')
export const PollOptionVotesSchema = z
  .object({
    option: z.string(),
    voters: z
      .array(z.string())
      .openapi({ description: 'Phones (digits with the country code) that picked it' }),
  })
  .openapi('PollOptionVotes')
export const MessagePollSchema = z
  .object({
    question: z.string(),
    options: z.array(z.string()),
    selectableCount: z.number().int().openapi({ description: '`0`: any number of options' }),
    votes: z.array(PollOptionVotesSchema).optional().openapi({
      description: 'The tally of every option (each voter’s latest vote), once someone voted',
    }),
  })
  .openapi('MessagePoll')
export const MessageReactionBySchema = z
  .object({
    from: z.string().openapi({ description: 'The phone (digits with the country code) that reacted' }),
    emoji: z.string().openapi({ example: '👍' }),
  })
  .openapi('MessageReactionBy')

/** An instant: ISO 8601 with a time zone (`Z` or `+07:00`). */
const isoInstant = z
  .string()
  .max(64, 'must be at most 64 characters')
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/,
    'must be an ISO 8601 time with a zone, e.g. 2025-01-31T09:00:00+07:00',
  )

export const TEMPLATE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/
const templateName = z
  .string()
  .regex(TEMPLATE_NAME_PATTERN, 'must be 1-64 letters, digits, _ or -')
  .openapi({ example: 'payment_notification' })
const templateVariables = z
  .record(
    z.string().max(64, 'names must be at most 64 characters'),
    z.union([z.string().max(4096, 'must be at most 4096 characters'), z.number(), z.boolean()]),
  )
  .openapi({
    description: 'Values of the template placeholders (`{{name}}`)',
    example: { name: 'Budi', invoice: 'INV-2025-001', amount: 'Rp150.000' },
  })

/** The fields of one message, as the send endpoint and each broadcast recipient take them. */
const messageFields = {
  to: z.string().max(128, 'must be at most 128 characters').openapi({
    description:
      "`+62 812-…`, `62812…`, `0812…`, `812…`, `(021) …` (the tenant's `defaultCountry`), `…@s.whatsapp.net` (with or without `:device`), `…@c.us`, `…@g.us`, `…@lid`",
    example: '0812 3456 7890',
  }),
  type: z.enum(SEND_MESSAGE_TYPES).optional().openapi({
    description:
      '`text` (the default when `text` is given), `image`, `video`, `audio`, `document`, `sticker` (with `media`), `location`, `contact`, `reaction` or `poll`. `list` and `buttons` answer 422: WhatsApp no longer delivers them to personal accounts from linked devices.',
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
  // Required when `type` is `poll`; votes come back as `messages.update` with `change: "poll"`.
  poll: MessagePollInputSchema.optional(),
  replyTo: z
    .string()
    .regex(/^msg_[0-9a-z]+$/, 'must be a message id (msg_…)')
    .optional()
    .openapi({
      description: 'Quote an earlier message of this session',
      example: 'msg_0lq2x3y4z5abcdefghijkl',
    }),
  mentions: z
    .array(z.string().max(128, 'must be at most 128 characters'))
    .max(100, 'must have at most 100 phones')
    .optional()
    .openapi({
      description:
        'Phones mentioned in the text, in any form `to` takes (a person, not a group); stored as digits with the country code',
    }),
  metadata: z
    .record(z.string(), z.string({ error: 'must be a string' }))
    .optional()
    .openapi({
      description:
        'Your own keys for this message (`customerId`, `invoiceId`…): at most 16, each key at most 64 characters and each value at most 512 bytes (UTF-8). Stored, shown on the message and in every webhook event about it.',
      example: { customerId: 'c-123', invoiceId: 'INV-2025-001' },
    }),
  template: templateName.optional().openapi({
    description:
      "One of the tenant's templates (`PUT /v1/templates/{name}`): its body, with `variables` filled in, is the text (instead of `text`), or the caption of a media template (which gives `type` and `media`)",
  }),
  variables: templateVariables.optional(),
  media: SendMediaSchema.optional().openapi({
    description:
      'Required when `type` is `image`, `video`, `audio`, `document` or `sticker`: `url` or `data`',
  }),
  caption: z
    .string()
    .min(1, 'must not be empty')
    .max(1024, 'must be at most 1024 characters')
    .optional()
    .openapi({ description: 'An image, video or document caption' }),
  voiceNote: z.boolean().optional().openapi({
    description: 'An `audio` sent as a push-to-talk voice note (audio/ogg Opus)',
  }),
}

export const SendMessageBody = z
  .strictObject({
    ...messageFields,
    sendAt: isoInstant.optional().openapi({
      description:
        'Send at this time instead of now (ISO 8601 with a zone). A time already past sends now; at most 365 days ahead. The message waits as `queued` with its `sendAt`.',
      example: '2025-01-31T09:00:00+07:00',
    }),
  })
  .openapi('SendMessage')
export const EditMessageBody = z
  .strictObject({
    text: z
      .string()
      .min(1, 'must not be empty')
      .max(4096, 'must be at most 4096 characters')
      .regex(/^[^\0]*$/, 'must not contain NUL characters')
      .openapi({ description: 'The new text (or caption)', example: 'Your lab results are ready at 10:00.' }),
  })
  .openapi('EditMessage')
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
export const MessageErrorSchema = z
  .object({
    code: z.enum(Object.keys(MESSAGE_ERROR_CODES) as [MessageErrorCode, ...MessageErrorCode[]]).openapi({
      description: 'Stable: branch on it',
      example: 'not_on_whatsapp',
    }),
    message: z.string().openapi({
      description: 'For people; may change',
      example: 'the recipient has no WhatsApp account',
    }),
  })
  .openapi('MessageError')
export const MessageSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    direction: z.enum(['in', 'out']),
    to: z.string().openapi({ description: 'Normalised JID', example: '6281234567890@s.whatsapp.net' }),
    status: z.enum(STORED_MESSAGE_STATUSES).openapi({
      description: 'An outbound message’s progress; `received` for an inbound one',
    }),
    waMessageId: z.string().nullable(),
    chatId: z.string().openapi({
      description: 'The chat (the same as `to`): a phone-number JID, a group (`…@g.us`) or a `…@lid`',
      example: '6281234567890@s.whatsapp.net',
    }),
    from: z.string().optional().openapi({ description: 'Inbound: the sender’s JID' }),
    pushName: z.string().optional().openapi({ description: 'Inbound: the name the sender set on WhatsApp' }),
    sentAt: z.string().optional().openapi({ description: 'Inbound: when WhatsApp says it was sent' }),
    type: z.string().openapi({
      description:
        '`text`, `location`, `contact`, `reaction`, `poll`, `edit`, `revoke` (the rows of PATCH and DELETE); inbound also `image`, `video`, `document`…',
    }),
    text: z.string().nullable(),
    location: MessageLocationSchema.optional(),
    contacts: z.array(MessageContactSchema).optional(),
    reaction: MessageReactionSchema.optional(),
    poll: MessagePollSchema.optional().openapi({ description: 'When `type` is `poll`, with its votes' }),
    target: z
      .string()
      .optional()
      .openapi({ description: 'An `edit` or `revoke`: the message it changes (`msg_…`)' }),
    edited: z.literal(true).optional().openapi({ description: 'The text was edited; `text` is the latest' }),
    revoked: z
      .literal(true)
      .optional()
      .openapi({ description: 'Deleted for everyone; its text and content are gone' }),
    reactions: z
      .array(MessageReactionBySchema)
      .optional()
      .openapi({ description: 'The reactions the message has, one per phone' }),
    replyTo: z.string().optional().openapi({ description: 'The quoted message (`msg_…`)' }),
    replyToWaMessageId: z
      .string()
      .optional()
      .openapi({ description: "A received message's quote: the quoted message's WhatsApp id" }),
    mentions: z.array(z.string()).optional(),
    media: MessageMediaSchema.optional().openapi({
      description:
        'A media message: its file (`GET …/messages/{messageId}/media` gives the bytes of a received one)',
    }),
    caption: z.string().optional(),
    voiceNote: z.boolean().optional(),
    sendAt: z.string().optional().openapi({ description: 'A scheduled message: when it is sent' }),
    broadcastId: z.string().optional().openapi({ description: 'The broadcast this message belongs to' }),
    metadata: z
      .record(z.string(), z.string())
      .optional()
      .openapi({ description: 'The `metadata` the send gave' }),
    error: MessageErrorSchema.nullable().openapi({ description: 'Why it failed; null unless `failed`' }),
    statusHistory: z.array(z.object({ status: z.string(), at: z.string() })),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Message')

const messageCursor = idCursor('msg', 'a message')
/** The filters of a history read (`metadata.<key>=<value>` are read from the raw query, see the route). */
export const MessageHistoryFilters = {
  direction: z
    .enum(['in', 'out'])
    .optional()
    .openapi({ param: { name: 'direction', in: 'query' }, description: '`in` (received) or `out` (sent)' }),
  status: z
    .enum(STORED_MESSAGE_STATUSES)
    .optional()
    .openapi({ param: { name: 'status', in: 'query' } }),
  type: z
    .string()
    .regex(/^[A-Za-z]{1,32}$/, 'must be a message type such as text, image or location')
    .optional()
    .openapi({ param: { name: 'type', in: 'query' }, example: 'text' }),
  from: isoInstant.optional().openapi({
    param: { name: 'from', in: 'query' },
    description: 'Only messages stored at or after this time',
    example: '2025-01-01T00:00:00Z',
  }),
  until: isoInstant.optional().openapi({
    param: { name: 'until', in: 'query' },
    description: 'Only messages stored before this time',
    example: '2025-02-01T00:00:00Z',
  }),
}
export const MessageHistoryQuery = pageQuery(messageCursor, 'msg_0lq2x3y4z5abcdefghijkl').extend({
  ...MessageHistoryFilters,
  chatId: z
    .string()
    .max(128, 'must be at most 128 characters')
    .optional()
    .openapi({
      param: { name: 'chatId', in: 'query' },
      description:
        'Only this chat: a number in any format (`0812…`, `+62 812-…`, `62812…`), `…@s.whatsapp.net`, `…@g.us` or `…@lid`',
      example: '0812 3456 7890',
    }),
})
export const ChatMessagesQuery = pageQuery(messageCursor, 'msg_0lq2x3y4z5abcdefghijkl').extend(
  MessageHistoryFilters,
)
export const MessagePageSchema = pageOf(MessageSchema, 'MessagePage')

// --- chats and contacts ---

export const ChatParams = SessionParams.extend({
  chatId: z
    .string()
    .max(128)
    .openapi({
      param: { name: 'chatId', in: 'path' },
      description: 'A number in any format, `…@s.whatsapp.net`, `…@g.us` or `…@lid` (URL-encoded)',
      example: '6281234567890@s.whatsapp.net',
    }),
})
export const ChatSchema = z
  .object({
    chatId: z.string().openapi({ example: '6281234567890@s.whatsapp.net' }),
    phone: z.string().nullable().openapi({
      description: 'The phone number of a one-to-one chat, also for a `…@lid` chat whose mapping is known',
      example: '6281234567890',
    }),
    name: z
      .string()
      .nullable()
      .openapi({ description: 'The chat’s name, else the contact’s saved or push name' }),
    unreadCount: z.number().int(),
    lastActivityAt: z.string().nullable().openapi({ description: 'The time of its last message' }),
    lastMessage: z
      .object({
        id: z.string(),
        direction: z.enum(['in', 'out']),
        type: z.string(),
        text: z.string().nullable(),
        status: z.enum(STORED_MESSAGE_STATUSES),
      })
      .nullable()
      .openapi({
        description: 'The last message stored for this chat; null when none is (or retention removed it)',
      }),
  })
  .openapi('Chat')
export const ChatPageSchema = pageOf(ChatSchema, 'ChatPage')
export const ChatListQuery = pageQuery(
  z.string().regex(/^[A-Za-z0-9_-]{1,400}$/, 'must be the nextCursor of the previous page'),
  'MTcwMDAwMDAwMDAwMDAwMHw2MjgxMjM0NTY3ODkwQHMud2hhdHNhcHAubmV0',
)
export const ContactSchema = z
  .object({
    jid: z.string().openapi({ example: '6281234567890@s.whatsapp.net' }),
    phone: z
      .string()
      .nullable()
      .openapi({ description: 'Known when WhatsApp gave the number or its LID mapping' }),
    lid: z.string().nullable().openapi({ example: '123456789012345@lid' }),
    pushName: z.string().nullable().openapi({ description: 'The name the contact set on WhatsApp' }),
    savedName: z.string().nullable().openapi({ description: 'The name the account saved the contact under' }),
  })
  .openapi('Contact')
export const ContactPageSchema = pageOf(ContactSchema, 'ContactPage')
export const ContactListQuery = pageQuery(
  z
    .string()
    .regex(
      /^[0-9a-z.:_-]{1,64}@(s\.whatsapp\.net|lid)$/,
      'must be a contact jid (the nextCursor of the previous page)',
    ),
  '6281234567890@s.whatsapp.net',
)

// --- templates ---

export const TemplateParams = z.object({
  name: templateName.openapi({ param: { name: 'name', in: 'path' } }),
})
export const TEMPLATE_TYPES = ['text', ...MEDIA_MESSAGE_TYPES] as const
/** A media template's file: always a URL, fetched at each send that uses the template. */
export const TemplateMediaSchema = z
  .strictObject({
    url: mediaUrl.openapi({
      description:
        "Fetched by the gateway at each send that uses the template (once per broadcast), under the same rules as a send's `media.url`",
      example: 'https://example.com/promo.jpg',
    }),
    mimeType: z.string().max(255, 'must be at most 255 characters').optional().openapi({
      description: "The file's type; sniffed from its bytes when absent",
    }),
    fileName: z
      .string()
      .min(1, 'must not be empty')
      .max(255, 'must be at most 255 characters')
      .optional()
      .openapi({ description: "A document's file name" }),
  })
  .openapi('TemplateMedia')
export const PutTemplateBody = z
  .strictObject({
    body: z
      .string()
      .max(4096, 'must be at most 4096 characters')
      .regex(/^[^\0]*$/, 'must not contain NUL characters')
      .optional()
      .openapi({
        description:
          'The text, with `{{variable}}` placeholders filled in at send time; required for a text template, the caption of an image, video or document template (at most 1024 characters once rendered), absent for audio and sticker',
        example: 'Halo {{name}}, tagihan {{invoice}} sebesar {{amount}} sudah terbit.',
      }),
    type: z.enum(TEMPLATE_TYPES).optional().openapi({
      description: '`text` (the default), or the kind of media message the template sends with `media`',
    }),
    media: TemplateMediaSchema.optional().openapi({
      description: 'Required when `type` is a media kind: the file every send of the template carries',
    }),
  })
  .openapi('PutTemplate')
export const TemplateSchema = z
  .object({
    name: z.string(),
    type: z.enum(TEMPLATE_TYPES),
    body: z.string().openapi({ description: "The text, or a media template's caption (empty for none)" }),
    media: TemplateMediaSchema.optional(),
    variables: z.array(z.string()).openapi({ description: 'The placeholders the body uses' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Template')
export const TemplateListSchema = pageOf(TemplateSchema, 'TemplateList')
export const TemplateListQuery = pageQuery(
  z.string().regex(TEMPLATE_NAME_PATTERN, 'must be a template name (the nextCursor of the previous page)'),
  'payment_notification',
)

// --- broadcasts ---

/** The most recipients one broadcast may have. */
export const MAX_BROADCAST_RECIPIENTS = 10_000

export const BroadcastParams = z.object({
  broadcastId: idOf('brd', 'brd_0lq2x3y4z5abcdefghijkl').openapi({
    param: { name: 'broadcastId', in: 'path' },
  }),
})
export const SendWindowSchema = z
  .strictObject({
    days: z
      .array(z.number().int().min(1).max(7))
      .min(1, 'must name at least one day')
      .max(7)
      .openapi({ description: 'ISO weekdays: 1 = Monday … 7 = Sunday', example: [1, 2, 3, 4, 5] }),
    from: z.string().max(5).openapi({ description: 'Local opening time, HH:MM', example: '08:00' }),
    until: z
      .string()
      .max(5)
      .openapi({ description: 'Local closing time, HH:MM, after from', example: '17:00' }),
    timeZone: z.string().max(64).openapi({ description: 'IANA time zone', example: 'Asia/Jakarta' }),
  })
  .openapi('SendWindow')
/** A recipient of a broadcast: whom, and the body of a send. */
export const BroadcastRecipientInput = z.strictObject({ ...messageFields }).openapi('BroadcastRecipientInput')
export const CreateBroadcastBody = z
  .strictObject({
    recipients: z
      .array(BroadcastRecipientInput)
      .min(1, 'must not be empty')
      .max(MAX_BROADCAST_RECIPIENTS, `must have at most ${MAX_BROADCAST_RECIPIENTS} recipients`)
      .openapi({
        description:
          'Each with `to` and the body of a send (`text`, any `type`, or `template` + `variables`). Every row is checked before anything is queued; a 400 lists the bad rows by index (`details.rows`).',
      }),
    template: templateName.optional().openapi({
      description: 'The template of every recipient that gives neither a body nor its own template',
    }),
    delayMs: z
      .number()
      .int('must be an integer')
      .min(1, 'must be positive')
      .max(86_400_000, 'must be at most 86400000')
      .optional()
      .openapi({
        description:
          'Least time between two sends of the session while this broadcast sends (default 3000); at least `BROADCAST_MIN_DELAY_MS` (1000 unless the operator changed it)',
        example: 3000,
      }),
    jitterMs: z
      .number()
      .int('must be an integer')
      .min(0)
      .max(600_000, 'must be at most 600000')
      .optional()
      .openapi({ description: 'A random 0..jitterMs added to each delay (default 0)', example: 1000 }),
    sendAt: isoInstant.optional().openapi({ description: 'Start at this time instead of now' }),
    window: SendWindowSchema.optional().openapi({
      description: 'Send only on these days between these local hours; outside it the broadcast waits',
    }),
  })
  .openapi('CreateBroadcast')
const broadcastStatus = z.enum(BROADCAST_STATUSES)
export const BroadcastCreatedSchema = z
  .object({ id: z.string(), status: broadcastStatus, total: z.number().int() })
  .openapi('BroadcastCreated')
const broadcastCounts = {
  total: z.number().int(),
  queued: z.number().int().openapi({ description: 'Not sent yet' }),
  sent: z.number().int().openapi({ description: 'Sent, delivered or read' }),
  delivered: z.number().int().openapi({ description: 'Delivered or read' }),
  read: z.number().int(),
  failed: z.number().int().openapi({ description: 'Failed, including recipients a cancel left unsent' }),
  cancelled: z.number().int().openapi({ description: 'Left unsent by a cancel' }),
}
export const BroadcastSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    status: broadcastStatus,
    ...broadcastCounts,
    delayMs: z.number().int(),
    jitterMs: z.number().int(),
    sendAt: z.string().nullable(),
    window: SendWindowSchema.nullable(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    nextSendAt: z
      .string()
      .nullable()
      .openapi({ description: 'The earliest time the next recipient may go (null when none is left)' }),
    createdAt: z.string(),
  })
  .openapi('Broadcast')
export const BroadcastListSchema = pageOf(BroadcastSchema, 'BroadcastList')
export const BroadcastListQuery = pageQuery(idCursor('brd', 'a broadcast'), 'brd_0lq2x3y4z5abcdefghijkl')
export const BroadcastRecipientSchema = z
  .object({
    index: z.number().int().openapi({ description: "The recipient's position in the request" }),
    messageId: z.string(),
    to: z.string(),
    status: z.enum(MESSAGE_STATUSES),
    text: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    error: MessageErrorSchema.nullable().openapi({ description: 'Why it failed; null unless `failed`' }),
    sentAt: z.string().nullable(),
  })
  .openapi('BroadcastRecipient')
export const BroadcastRecipientListSchema = pageOf(BroadcastRecipientSchema, 'BroadcastRecipientList')
export const BroadcastRecipientListQuery = z.object({
  limit: pageLimit,
  after: z
    .string()
    .regex(/^\d{1,5}$/, 'must be a recipient index (the nextCursor of the previous page)')
    .optional()
    .openapi({
      param: { name: 'after', in: 'query' },
      example: '49',
      description: 'nextCursor of the previous page',
    }),
})

// --- webhook ---

export const PutWebhookBody = z
  .strictObject({
    url: webhookUrl.openapi({ example: 'https://example.com/wa-webhook' }),
    events: z
      .array(z.enum(EVENT_TYPES))
      .min(1, 'must list at least one event type (omit it for all)')
      .nullable()
      .optional()
      .openapi({ description: 'Event types to deliver; omitted or null = all' }),
    rotateSecret: z.boolean().optional().openapi({
      description:
        'Generate a new signing secret; the old one keeps signing beside it for `gracePeriodSeconds`',
    }),
    gracePeriodSeconds: z
      .number()
      .int('must be an integer')
      .min(0, 'must be between 0 and 604800')
      .max(604_800, 'must be between 0 and 604800')
      .optional()
      .openapi({
        description:
          'With `rotateSecret`: how long the old secret keeps signing (both signatures in `webhook-signature`). Default 86400; 0 ends it at once',
        example: 86_400,
      }),
  })
  .openapi('PutWebhook')
export const WebhookSchema = z
  .object({
    url: z.string(),
    events: z.array(z.enum(EVENT_TYPES)).nullable(),
    secret: z.string().openapi({ description: 'Standard Webhooks signing secret (`whsec_…`)' }),
    previousSecretExpiresAt: z.string().nullable().openapi({
      description: 'Until then the secret before the last rotation still signs too; null when none',
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Webhook')

// --- webhook endpoints (plural) ---

export const WebhookEndpointParams = z.object({
  webhookId: idOf('whe', 'whe_0lq2x3y4z5abcdefghijkl').openapi({ param: { name: 'webhookId', in: 'path' } }),
})
export const WebhookDeliveryParams = WebhookEndpointParams.extend({
  eventId: idOf('evt', 'evt_0lq2x3y4z5abcdefghijkl').openapi({ param: { name: 'eventId', in: 'path' } }),
})
const endpointEvents = z
  .array(z.enum(EVENT_TYPES))
  .min(1, 'must list at least one event type (omit it or use null for all)')
  .nullable()
  .openapi({ description: 'Event types to deliver; null = all' })
const endpointSessionIds = z
  .array(z.string().regex(/^ses_[0-9a-z]{1,64}$/, 'must be a session id'))
  .min(1, 'must list at least one session (use null for all)')
  .max(100, 'must list at most 100 sessions')
  .nullable()
  .openapi({ description: 'Sessions whose events are delivered; null = every session of the tenant' })
const endpointHeaders = z
  .record(
    z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be a header name (letters, digits, -)'),
    z
      .string()
      .max(1024, 'must be at most 1024 characters')
      .regex(/^[\x20-\x7e]*$/, 'must be printable ASCII'),
  )
  .refine((headers) => Object.keys(headers).length <= 20, 'must have at most 20 headers')
  .openapi({
    description:
      'Extra request headers. Signing, framing and identity headers (`webhook-*`, `x-hub-signature-256`, `content-type`, `host`, `user-agent`…) are refused',
    example: { 'x-api-key': 'receiver-token' },
  })
export const CreateWebhookEndpointBody = z
  .strictObject({
    url: webhookUrl.openapi({ example: 'https://example.com/wa-webhook' }),
    events: endpointEvents.optional(),
    sessionIds: endpointSessionIds.optional(),
    headers: endpointHeaders.optional(),
    enabled: z
      .boolean()
      .optional()
      .openapi({ description: 'Default true; a disabled endpoint keeps its deliveries pending' }),
    hubSignature: z.boolean().optional().openapi({
      description:
        'Also send `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, keyed with `secret` exactly as returned. Default false',
    }),
  })
  .openapi('CreateWebhookEndpoint')
export const UpdateWebhookEndpointBody = z
  .strictObject({
    url: webhookUrl.optional(),
    events: endpointEvents.optional(),
    sessionIds: endpointSessionIds.optional(),
    headers: endpointHeaders.optional(),
    enabled: z.boolean().optional(),
    hubSignature: z.boolean().optional(),
  })
  .openapi('UpdateWebhookEndpoint')
export const RotateWebhookSecretBody = z
  .strictObject({
    gracePeriodSeconds: z
      .number()
      .int('must be an integer')
      .min(0, 'must be between 0 and 604800')
      .max(604_800, 'must be between 0 and 604800')
      .optional()
      .openapi({
        description:
          'How long the old secret keeps signing beside the new one (both signatures in `webhook-signature`). Default 86400 (a day)',
        example: 86_400,
      }),
  })
  .openapi('RotateWebhookSecret')
export const WebhookEndpointSchema = z
  .object({
    id: z.string().openapi({ example: 'whe_0lq2x3y4z5abcdefghijkl' }),
    url: z.string().openapi({ description: 'The URL; a password in it is shown as `****`' }),
    events: z.array(z.enum(EVENT_TYPES)).nullable(),
    sessionIds: z.array(z.string()).nullable(),
    headers: z.record(z.string(), z.string()),
    enabled: z.boolean(),
    hubSignature: z.boolean(),
    secret: z.string().openapi({ description: 'Standard Webhooks signing secret (`whsec_…`)' }),
    previousSecretExpiresAt: z.string().nullable().openapi({
      description: 'Until then the secret before the last rotation still signs too; null when none',
    }),
    sessionId: z.string().nullable().openapi({
      description: 'The session created with `webhookUrl` this endpoint belongs to (deleted with it)',
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('WebhookEndpoint')
/** A session as the operator sees it on a node: the tenant's view of it plus whose it is. */
export const NodeSessionSchema = SessionSchema.extend({
  tenantId: z.string(),
  tenantName: z.string(),
}).openapi('NodeSession')
export const NodeSessionListSchema = pageOf(NodeSessionSchema, 'NodeSessionList')
export const NodeSessionListQuery = pageQuery(idCursor('ses', 'a session'), 'ses_0lq2x3y4z5abcdefghijkl')

export const CreatedSessionSchema = SessionSchema.extend({
  webhookEndpoint: WebhookEndpointSchema.optional().openapi({
    description: 'The endpoint created for `webhookUrl`, with its signing secret',
  }),
}).openapi('CreatedSession')
export const WebhookEndpointListSchema = pageOf(WebhookEndpointSchema, 'WebhookEndpointList')
export const WebhookEndpointListQuery = pageQuery(
  idCursor('whe', 'a webhook endpoint'),
  'whe_0lq2x3y4z5abcdefghijkl',
)
export const WebhookTestResultSchema = z
  .object({
    delivered: z.boolean().openapi({ description: 'The receiver answered 2xx' }),
    status: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "The receiver's status code; null without an answer" }),
    reason: z.string().nullable().openapi({
      description:
        'Why it failed, in a fixed phrase (`HTTP 500`, `connection refused`, `target refused: …`); never the body',
    }),
  })
  .openapi('WebhookTestResult')
export const WebhookDeliverySchema = z
  .object({
    eventId: z.string(),
    type: z.enum(EVENT_TYPES),
    sessionId: z.string(),
    seq: z.number().int(),
    status: z.enum(['pending', 'delivered', 'dead']),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable().openapi({ description: 'Only while pending' }),
    lastError: z
      .string()
      .nullable()
      .openapi({ description: 'The status code or a fixed reason; never the body' }),
    lastStatus: z.number().int().nullable(),
    deliveredAt: z.string().nullable(),
  })
  .openapi('WebhookDelivery')
export const WebhookDeliveryPageSchema = pageOf(WebhookDeliverySchema, 'WebhookDeliveryPage')
export const WebhookDeliveryQuery = pageQuery(
  idCursor('evt', 'an event'),
  'evt_0lq2x3y4z5abcdefghijkl',
).extend({
  status: z
    .enum(['pending', 'delivered', 'dead'])
    .optional()
    .openapi({ param: { name: 'status', in: 'query' } }),
})

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

/** On every event of a session that has an `externalId`: its value when the event was written. */
const eventExternalId = {
  externalId: z.string().optional().openapi({
    description: "The session's `externalId` when the event was written (absent when it has none)",
    example: 'customer-123',
  }),
}
export const ConnectionUpdateDataSchema = z
  .object({
    ...eventExternalId,
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
    poll: z
      .object({ question: z.string(), options: z.array(z.string()), selectableCount: z.number().int() })
      .optional()
      .openapi({ description: 'When `type` is `poll`: its question, options and how many a voter may pick' }),
    replyTo: z.string().optional().openapi({
      description:
        'The quoted message (`msg_…`), when this session has it (sent or received through the gateway)',
    }),
    replyToWaMessageId: z.string().optional().openapi({ description: "The quoted message's WhatsApp id" }),
    mentions: z.array(z.string()).optional().openapi({ description: 'Phones mentioned in the text' }),
    media: MessageMediaSchema.optional().openapi({
      description:
        'A media message: its file; `GET /v1/sessions/{sessionId}/messages/{messageId}/media` gives the bytes',
    }),
    caption: z.string().optional().openapi({ description: 'An image, video or document caption' }),
    voiceNote: z.boolean().optional().openapi({ description: 'An audio that is a push-to-talk voice note' }),
  })
  .openapi('InboundMessage')
export const MessagesUpsertDataSchema = z
  .object({ ...eventExternalId, messages: z.array(InboundMessageSchema) })
  .openapi('MessagesUpsertData')

export const MessageStatusUpdateSchema = z
  .object({
    id: z
      .string()
      .openapi({ description: 'Our message id (`msg_…`)', example: 'msg_0lq2x3y4z5abcdefghijkl' }),
    waMessageId: z.string().openapi({ description: "WhatsApp's message id" }),
    chatId: z.string(),
    status: z.enum(STORED_MESSAGE_STATUSES).openapi({
      description:
        'The new status; with `change`, the message’s current status (`received` for a message the session received)',
    }),
    metadata: z
      .record(z.string(), z.string())
      .optional()
      .openapi({ description: 'The `metadata` the send gave, when it gave one' }),
    error: MessageErrorSchema.optional().openapi({
      description:
        'Only on `failed`: a stable `code` (`not_on_whatsapp`, `session_not_connected`, `broadcast_cancelled`, `rejected_by_whatsapp`, `send_failed`) and a `message`',
    }),
    change: z.enum(MESSAGE_CHANGES).optional().openapi({
      description:
        'Present when the message itself changed (by either side): `edited` (see `text`), `revoked` (deleted for everyone), `reaction` (see `reactions`), `poll` (a vote; see `poll`)',
    }),
    by: z
      .string()
      .optional()
      .openapi({ description: 'With `change`: the phone (digits with the country code) that made it' }),
    byMe: z
      .boolean()
      .optional()
      .openapi({ description: 'With `change`: made by this session’s own account' }),
    text: z.string().optional().openapi({ description: '`edited`: the new text' }),
    revoked: z.literal(true).optional(),
    reactions: z.array(MessageReactionBySchema).optional().openapi({
      description: '`reaction`: every reaction the message has now (an empty emoji removed one)',
    }),
    poll: z
      .object({ votes: z.array(PollOptionVotesSchema) })
      .optional()
      .openapi({ description: '`poll`: the tally of every option, each voter’s latest vote counted once' }),
  })
  .openapi('MessageStatusUpdate')
export const MessagesUpdateDataSchema = z
  .object({ ...eventExternalId, updates: z.array(MessageStatusUpdateSchema) })
  .openapi('MessagesUpdateData')

export const BroadcastProgressDataSchema = z
  .object({ ...eventExternalId, broadcastId: z.string(), status: broadcastStatus, ...broadcastCounts })
  .openapi('BroadcastProgressData')
export const BroadcastCompletedDataSchema = z
  .object({
    ...eventExternalId,
    broadcastId: z.string(),
    status: broadcastStatus,
    ...broadcastCounts,
    finishedAt: timestamp,
  })
  .openapi('BroadcastCompletedData')

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
export const BroadcastProgressEventSchema = envelopeOf(
  'broadcast.progress',
  BroadcastProgressDataSchema,
).openapi('BroadcastProgressEvent')
export const BroadcastCompletedEventSchema = envelopeOf(
  'broadcast.completed',
  BroadcastCompletedDataSchema,
).openapi('BroadcastCompletedEvent')
/** The body of every webhook delivery, by event type. */
export const WEBHOOK_EVENT_SCHEMAS = {
  'connection.update': ConnectionUpdateEventSchema,
  'messages.upsert': MessagesUpsertEventSchema,
  'messages.update': MessagesUpdateEventSchema,
  'broadcast.progress': BroadcastProgressEventSchema,
  'broadcast.completed': BroadcastCompletedEventSchema,
} as const satisfies Record<EventType, z.ZodType>
export const WebhookEventSchema = z
  .discriminatedUnion('type', [
    ConnectionUpdateEventSchema,
    MessagesUpsertEventSchema,
    MessagesUpdateEventSchema,
    BroadcastProgressEventSchema,
    BroadcastCompletedEventSchema,
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
    withDelivery(BroadcastProgressEventSchema).openapi('ListedBroadcastProgressEvent'),
    withDelivery(BroadcastCompletedEventSchema).openapi('ListedBroadcastCompletedEvent'),
  ])
  .openapi('Event')
export const EventPageSchema = z
  .object({ data: z.array(EventSchema), nextCursor: z.string().nullable() })
  .openapi('EventPage')
export const BulkRedeliverBody = z
  .strictObject({ status: z.literal('dead').openapi({ description: 'Redeliver every dead-lettered event' }) })
  .openapi('BulkRedeliver')
export const RedeliverResultSchema = z.object({ redelivered: z.number().int() }).openapi('RedeliverResult')

// --- dead letters (operator) ---

const deadLetterEndpoint = z.string().openapi({
  description: '`default` (the webhook of `/v1/webhook`) or the id of a `/v1/webhooks` endpoint',
  example: 'default',
})
export const DeadLetterSchema = z
  .object({
    tenantId: z.string(),
    tenantName: z.string(),
    sessionId: z.string(),
    eventId: z.string(),
    type: z.enum(EVENT_TYPES),
    endpoint: deadLetterEndpoint,
    attempts: z.number().int(),
    lastError: z
      .string()
      .nullable()
      .openapi({ description: 'The status code or a fixed reason; never the body' }),
    occurredAt: z.string(),
  })
  .openapi('DeadLetter')
export const DeadLetterPageSchema = pageOf(DeadLetterSchema, 'DeadLetterPage')
export const DeadLetterQuery = pageQuery(
  z
    .string()
    .regex(
      /^evt_[0-9a-z]{1,64}:(default|whe_[0-9a-z]{1,64})$/,
      'must be a dead-letter cursor (the nextCursor of the previous page)',
    ),
  'evt_0lq2x3y4z5abcdefghijkl:default',
).extend({
  tenantId: z
    .string()
    .regex(/^ten_[0-9a-z]{1,64}$/, 'must be a tenant id')
    .optional()
    .openapi({ param: { name: 'tenantId', in: 'query' }, description: "Only this tenant's dead letters" }),
})
export const RedeliverDeadLettersBody = z
  .strictObject({
    tenantId: z
      .string()
      .regex(/^ten_[0-9a-z]{1,64}$/, 'must be a tenant id')
      .openapi({ example: 'ten_0lq2x3y4z5abcdefghijkl' }),
    eventIds: z
      .array(z.string().regex(/^evt_[0-9a-z]{1,64}$/, 'must be an event id'))
      .min(1, 'must list at least one event id')
      .max(200, 'must list at most 200 event ids')
      .optional()
      .openapi({
        description:
          "Only these events' dead deliveries (every endpoint they are dead on); without it, every dead letter of the tenant",
      }),
  })
  .openapi('RedeliverDeadLetters')

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

// --- link pages ---

export const CreateSessionLinkBody = z
  .strictObject({
    returnUrl: webhookUrl.optional().openapi({
      description:
        'Where the page sends the customer once the session is CONNECTED (an absolute http:// or https:// URL); omitted = the page only says it is linked',
      example: 'https://shop.example.com/whatsapp/linked',
    }),
    ttlSeconds: z
      .number({ error: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(60, 'must be between 60 and 86400')
      .max(86400, 'must be between 60 and 86400')
      .optional()
      .openapi({ description: 'How long the link works, 60–86400 seconds; default 3600', example: 3600 }),
  })
  .openapi('CreateSessionLink')
export const SessionLinkSchema = z
  .object({
    url: z.string().openapi({
      description:
        'The page to hand to your customer: it shows your tenant name and the live QR (or a pairing-code form) for this session only, and carries no API key',
      example: 'https://wa.example.com/link/wsl_AbC…',
    }),
    expiresAt: timestamp,
  })
  .openapi('SessionLink')
/** The link page's pairing-code form (a page endpoint, not in the OpenAPI document). */
export const LinkPairingCodeBody = z.strictObject({
  phone: z
    .string({ error: 'must be a phone number' })
    .trim()
    .min(1, 'must not be empty')
    .max(40, 'must be at most 40 characters'),
})
// --- statistics ---

export const StatsQuery = z.object({
  from: isoInstant.optional().openapi({
    param: { name: 'from', in: 'query' },
    description: 'Messages created from this time (ISO 8601 with a zone; hour resolution)',
    example: '2025-01-01T00:00:00+07:00',
  }),
  until: isoInstant.optional().openapi({
    param: { name: 'until', in: 'query' },
    description: 'Messages created before this time; after `from`',
    example: '2025-02-01T00:00:00+07:00',
  }),
  groupBy: z
    .enum(['day'], { error: 'must be day' })
    .optional()
    .openapi({
      param: { name: 'groupBy', in: 'query' },
      description: "`day`: add `days`, one per local day of the tenant's `timeZone` that had traffic",
    }),
})
const statsCounts = {
  total: z.number().int().openapi({ description: 'Outbound messages (each counted once)' }),
  queued: z.number().int().openapi({ description: 'Outbound messages not sent yet (queued or sending)' }),
  sent: z.number().int().openapi({ description: 'Outbound messages sent, delivered or read' }),
  delivered: z.number().int().openapi({ description: 'Part of sent: delivered or read' }),
  read: z.number().int().openapi({ description: 'Part of delivered: read (or played)' }),
  failed: z.number().int().openapi({ description: 'Outbound messages that failed' }),
  successRate: z
    .number()
    .nullable()
    .openapi({ description: 'sent / (sent + failed); null while none settled', example: 0.98 }),
  inbound: z.number().int().openapi({ description: 'Messages received' }),
  lastSuccessAt: z
    .string()
    .nullable()
    .openapi({ description: 'When one of these messages last became sent' }),
  lastFailureAt: z.string().nullable().openapi({ description: 'When one of these messages last failed' }),
}
export const StatsSchema = z
  .object({
    ...statsCounts,
    from: z.string().nullable(),
    until: z.string().nullable(),
    timeZone: z.string().openapi({ description: "The tenant's time zone, which `days` are in" }),
    days: z
      .array(z.object({ date: z.string().openapi({ example: '2025-01-31' }), ...statsCounts }))
      .optional()
      .openapi({ description: 'With `groupBy=day`: local days with traffic, oldest first' }),
  })
  .openapi('Stats')
