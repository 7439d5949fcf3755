import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  apiDocument,
  fillPath,
  invalidValues,
  isOperatorOperation,
  isPublicOperation,
  listOperations,
  type Operation,
  validValue,
} from '../support/openapi-operations.js'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

// Every operation with a JSON body, taken from the OpenAPI document: each property given a value its
// schema refuses, each required property left out, and an unknown property where the schema forbids
// them, must answer 400 naming the field and change nothing. The requests are malformed on purpose,
// so they go through the raw in-process call rather than the typed client.

const document = apiDocument()
const operations = listOperations(document)

/** Operations with a JSON body that the sweep cannot derive bad input for, each with the reason. */
const NOT_SWEPT: Record<string, string> = {}

const withJsonBody = operations.filter((operation) => operation.jsonBody && !isPublicOperation(operation))

let api: TestApi
let tenant: { tenantId: string; apiKey: string }
let ids: Record<string, string>

beforeAll(async () => {
  api = await createTestApi('cp_bad_input')
  tenant = await createTenantThroughApi(api, 'Bad input')
  const client = api.client(tenant.apiKey)
  const sessionId = (await client.POST('/v1/sessions', { body: { name: 'target' } })).data!.id
  const webhookId = (await client.POST('/v1/webhooks', { body: { url: 'https://example.com/endpoint' } }))
    .data!.id
  ids = { sessionId, tenantId: tenant.tenantId, webhookId, name: 'a_template', messageId: 'msg_0badinput' }
})
afterAll(async () => {
  await api?.close()
})

type BadCase = { label: string; body: unknown; field: string }

/** The bad bodies for one operation, each built from a valid body with one thing wrong. */
function badBodies(operation: Operation): BadCase[] {
  const schema = operation.jsonBody!
  const valid = validValue(document, schema) as Record<string, unknown>
  const cases: BadCase[] = []
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    for (const { value, why } of invalidValues(document, property)) {
      cases.push({ label: `${name}: ${why}`, body: { ...valid, [name]: value }, field: `body.${name}` })
    }
  }
  for (const name of schema.required ?? []) {
    const { [name]: _left, ...rest } = valid
    cases.push({ label: `${name} missing`, body: rest, field: `body.${name}` })
  }
  if (schema.additionalProperties === false) {
    cases.push({ label: 'unknown property', body: { ...valid, notAField: 1 }, field: 'body' })
  }
  cases.push({ label: 'an array instead of an object', body: [valid], field: 'body' })
  return cases
}

describe('bad input on every operation with a JSON body', () => {
  it('covers every such operation of the OpenAPI document or lists why not', () => {
    expect(withJsonBody.length).toBeGreaterThanOrEqual(9)
    for (const operation of withJsonBody) {
      if (operation.operationId in NOT_SWEPT) continue
      expect(Object.keys(operation.jsonBody?.properties ?? {}).length, operation.label).toBeGreaterThan(0)
      expect(badBodies(operation).length, operation.label).toBeGreaterThan(1)
    }
    for (const operationId of Object.keys(NOT_SWEPT)) {
      expect(withJsonBody.map((operation) => operation.operationId)).toContain(operationId)
    }
  })

  it('answers 400 naming the field, and changes nothing', async () => {
    let checked = 0
    for (const operation of withJsonBody.filter((each) => !(each.operationId in NOT_SWEPT))) {
      const key = isOperatorOperation(operation) ? TEST_ADMIN_KEY : tenant.apiKey
      const path = fillPath(operation.path, ids)
      for (const { label, body, field } of badBodies(operation)) {
        const before = await snapshotDatabase(api)
        const response = await api.call(operation.method.toUpperCase(), path, { key, body })
        const what = `${operation.label} (${label}): ${response.text}`
        expect(response.status, what).toBe(400)
        expect(response.body.error.code, what).toBe('validation_failed')
        expect(response.body.error.field, what).toBe(field)
        expect(response.body.error.message, what).toContain(field)
        expect(await snapshotDatabase(api), what).toEqual(before)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(30)
  })
})
