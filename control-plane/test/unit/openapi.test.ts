import type { EventData, InboundMessage } from '@wa-cluster/shared'
import { EVENT_TYPES } from '@wa-cluster/shared'
import { describe, expect, expectTypeOf, it } from 'vitest'
import type { z } from 'zod'
import {
  type BroadcastCompletedDataSchema,
  type BroadcastProgressDataSchema,
  type ConnectionUpdateDataSchema,
  ConnectionUpdateEventSchema,
  type InboundMessageSchema,
  WebhookEventSchema,
} from '../../src/http/schemas.js'
import {
  apiDocument,
  type JsonSchema,
  listOperations,
  listWebhookOperations,
  resolveSchema,
} from '../support/openapi-operations.js'

const document = apiDocument()
const operations = listOperations(document)
const webhookOperations = listWebhookOperations(document)

/** Every `pattern` in the document, with the examples that sit beside it (schema or parameter). */
function patternsWithExamples(
  node: unknown,
  where = '#',
): { where: string; pattern: string; examples: unknown[] }[] {
  if (!node || typeof node !== 'object') return []
  const found: { where: string; pattern: string; examples: unknown[] }[] = []
  const record = node as Record<string, unknown>
  const examplesOf = (holder: Record<string, unknown>) => [
    ...('example' in holder ? [holder.example] : []),
    ...(Array.isArray(holder.examples) ? holder.examples : []),
  ]
  if (typeof record.pattern === 'string') {
    found.push({ where, pattern: record.pattern, examples: examplesOf(record) })
  }
  // A parameter may carry its example next to its schema rather than inside it.
  const schema = record.schema as Record<string, unknown> | undefined
  if (typeof record.in === 'string' && typeof schema?.pattern === 'string' && 'example' in record) {
    found.push({ where: `${where}/example`, pattern: schema.pattern, examples: examplesOf(record) })
  }
  for (const [key, value] of Object.entries(record))
    found.push(...patternsWithExamples(value, `${where}/${key}`))
  return found
}

describe('the OpenAPI document', () => {
  it('gives every operation and webhook a unique camelCase verbNoun operationId', () => {
    const all = [...operations, ...webhookOperations]
    expect(all.length).toBeGreaterThanOrEqual(30)
    for (const operation of all) {
      expect(operation.operationId, operation.label).toMatch(/^[a-z]+(?:[A-Z][a-z0-9]*)+$/)
    }
    const ids = all.map((operation) => operation.operationId)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('names the servers, and asks for the bearer key everywhere but the public endpoints', () => {
    expect(document.servers?.length).toBeGreaterThan(0)
    expect(document.security).toEqual([{ bearer: [] }])
    const publicOperations = operations.filter((operation) => !operation.path.startsWith('/v1/'))
    expect(publicOperations.map((operation) => operation.operationId).sort()).toEqual([
      'getApiDocs',
      'getHealth',
      'getOpenApiDocument',
      'getReadiness',
    ])
    for (const operation of publicOperations) expect(operation.security, operation.label).toEqual([])
    for (const operation of operations.filter((each) => each.path.startsWith('/v1/'))) {
      expect(operation.security, operation.label).toEqual([{ bearer: [] }])
    }
  })

  it('has only patterns that compile as unicode JS regexes and that its own examples match', () => {
    const patterns = patternsWithExamples(document)
    expect(patterns.length).toBeGreaterThan(10)
    let examplesChecked = 0
    for (const { where, pattern, examples } of patterns) {
      const regex = new RegExp(pattern, 'u')
      for (const example of examples) {
        expect(
          typeof example === 'string' && regex.test(example),
          `${where}: ${JSON.stringify(example)}`,
        ).toBe(true)
        examplesChecked++
      }
    }
    expect(examplesChecked).toBeGreaterThan(5)
    const tenantName = resolveSchema(document, { $ref: '#/components/schemas/CreateTenant' }).properties?.name
    expect(tenantName?.example).toBe('Klinik Sehat')
    expect(new RegExp(tenantName!.pattern!, 'u').test('Klinik Sehat')).toBe(true)
    expect(new RegExp(tenantName!.pattern!, 'u').test('Klinik\u0000Sehat')).toBe(false)
  })

  it('types every webhook delivery and discriminates events by type', () => {
    expect(Object.keys(document.webhooks ?? {}).sort()).toEqual([...EVENT_TYPES].sort())
    for (const type of EVENT_TYPES) {
      const delivery = webhookOperations.find((operation) => operation.path === type)
      const body = delivery?.jsonBody
      expect(body?.properties?.type?.enum, type).toEqual([type])
      expect(body?.required).toEqual(expect.arrayContaining(['id', 'type', 'sessionId', 'seq', 'data']))
      expect(resolveSchema(document, body!.properties!.data!).properties, type).toBeDefined()
    }
    for (const name of ['WebhookEvent', 'Event']) {
      const union = resolveSchema(document, { $ref: `#/components/schemas/${name}` }) as JsonSchema & {
        discriminator?: { propertyName: string; mapping: Record<string, string> }
      }
      expect(union.discriminator?.propertyName, name).toBe('type')
      expect(Object.keys(union.discriminator?.mapping ?? {}).sort(), name).toEqual([...EVENT_TYPES].sort())
      expect(union.oneOf, name).toHaveLength(EVENT_TYPES.length)
    }
    const listed = resolveSchema(document, { $ref: '#/components/schemas/EventPage' }).properties?.data?.items
    expect(listed).toEqual({ $ref: '#/components/schemas/Event' })
  })

  it('describes the event data session-node writes', () => {
    // The shared types are what session-node's writers are checked against at compile time.
    expectTypeOf<EventData['connection.update']>().toEqualTypeOf<z.infer<typeof ConnectionUpdateDataSchema>>()
    expectTypeOf<InboundMessage>().toEqualTypeOf<z.infer<typeof InboundMessageSchema>>()
    expectTypeOf<EventData['broadcast.progress']>().toEqualTypeOf<
      z.infer<typeof BroadcastProgressDataSchema>
    >()
    expectTypeOf<EventData['broadcast.completed']>().toEqualTypeOf<
      z.infer<typeof BroadcastCompletedDataSchema>
    >()
    const event = {
      id: 'evt_1',
      type: 'connection.update',
      tenantId: 'ten_1',
      sessionId: 'ses_1',
      seq: 3,
      occurredAt: '2025-01-01T00:00:00.000Z',
      data: { state: 'CONNECTED', previousState: 'QR_READY', phone: '6285700000001' },
    }
    expect(ConnectionUpdateEventSchema.parse(event)).toEqual(event)
    const update = {
      ...event,
      type: 'messages.update',
      data: {
        updates: [{ id: 'msg_1', waMessageId: '3EB0AA', chatId: '62812@s.whatsapp.net', status: 'read' }],
      },
    }
    expect(WebhookEventSchema.parse(update)).toEqual(update)
    expect(WebhookEventSchema.safeParse({ ...update, type: 'messages.upsert' }).success).toBe(false)
  })
})
