import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  apiDocument,
  fillPath,
  invalidValues,
  isOperatorOperation,
  isPublicOperation,
  type JsonSchema,
  listOperations,
  type Operation,
  resolveSchema,
  validValue,
} from '../support/openapi-operations.js'
import {
  createTenantThroughApi,
  createTestApi,
  snapshotDatabase,
  TEST_ADMIN_KEY,
  type TestApi,
} from '../support/test-context.js'

// A bounded fuzz sweep generated from the OpenAPI document: every operation gets requests whose path
// ids, query parameters, headers and bodies are derived from its schemas and then broken (wrong types,
// extremes, deep nesting, prototype keys, malformed JSON, wrong media types), drawn by a seeded
// generator so a failure replays (FUZZ_SEED=n picks another draw). Whatever the request, the answer is
// never a 5xx the operation does not document, and a rejected one (4xx) changes nothing in the database.

const SEED = Number(process.env.FUZZ_SEED ?? 20261202)
const CASES_PER_OPERATION = 24

const document = apiDocument()
/** Operations the sweep leaves out, each with the reason. */
const NOT_FUZZED: Record<string, string> = {
  streamEvents: 'a request that is accepted stays open (SSE); event-stream.test.ts covers its bad input',
  streamEventsWebSocket: 'a WebSocket upgrade; event-stream.test.ts covers its bad input',
}
const operations = listOperations(document)
  .filter((operation) => !isPublicOperation(operation) && !(operation.operationId in NOT_FUZZED))
  // Deletions last: a request that happens to be valid would remove the fixtures the others use.
  .sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'))

/** mulberry32: small, seedable, good enough to pick cases. */
function generator(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  }
}
type Random = ReturnType<typeof generator>

function nested(depth: number): unknown {
  let value: unknown = 'bottom'
  for (let level = 0; level < depth; level++) value = { a: value }
  return value
}

/** Values that break most schemas, whatever they say. */
const HOSTILE_VALUES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  -1e308,
  2 ** 53 + 1,
  0.000001,
  '',
  ' ',
  'x'.repeat(100_000),
  '\u0000',
  '🙂'.repeat(1000),
  '<img src=x onerror=alert(1)>',
  "'; DROP TABLE sessions; --",
  '../../../../etc/passwd',
  '%00',
  '{{name}}',
  [],
  Array.from({ length: 10_000 }, () => 1),
  {},
  { __proto__: { admin: true } },
  JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}'),
  nested(200),
]

const HOSTILE_IDS: readonly string[] = [
  'x'.repeat(5000),
  '%00',
  '..%2F..%2Fetc',
  '🙂',
  "ses_'; SELECT 1; --",
  ' ',
  '-1',
  'ses_00000000000000000000',
]

const HOSTILE_QUERY: readonly string[] = [
  '-1',
  '0',
  '1e309',
  '0x10',
  '9'.repeat(400),
  'NaN',
  'x'.repeat(10_000),
  '%FF',
  '',
  'true',
  '[]',
]

const RAW_BODIES: readonly { body: string; type?: string }[] = [
  { body: 'not json' },
  { body: '{' },
  { body: '' },
  { body: 'null' },
  { body: '"a string"' },
  { body: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]' },
  { body: '{"a": 1, "a": 2}' },
  { body: '{"text": "\\ud800"}' },
  { body: '{"x": 1e999999}' },
  { body: '{}', type: 'text/plain' },
  { body: '{}', type: 'application/json; charset=utf-16' },
  { body: '{}', type: 'application/x-www-form-urlencoded' },
  { body: `{"pad": "${'x'.repeat(2_000_000)}"}` },
]

type FuzzCase = {
  what: string
  path: string
  query?: string
  body?: unknown
  rawBody?: string
  headers?: Record<string, string>
}

/** One broken value at a random place of `value` (a copy), following the schema where it can. */
function breakSomewhere(random: Random, schema: JsonSchema, value: unknown, depth = 0): unknown {
  const resolved = resolveSchema(document, schema)
  const properties = Object.entries(resolved.properties ?? {})
  if (value && typeof value === 'object' && !Array.isArray(value) && properties.length > 0 && depth < 6) {
    const [name, property] = random.pick(properties)
    const inner = (value as Record<string, unknown>)[name] ?? validValue(document, property)
    const broken =
      random.next() < 0.5
        ? breakSomewhere(random, property, inner, depth + 1)
        : random.next() < 0.5
          ? random.pick(invalidValues(document, property)).value
          : random.pick(HOSTILE_VALUES)
    return { ...(value as Record<string, unknown>), [name]: broken }
  }
  if (Array.isArray(value) && resolved.items && value.length > 0 && random.next() < 0.7) {
    return [breakSomewhere(random, resolved.items, value[0], depth + 1), ...value.slice(1)]
  }
  return random.pick(HOSTILE_VALUES)
}

function queryString(entries: [string, string][]): string {
  return entries.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('&')
}

function fuzzCases(operation: Operation, ids: Record<string, string>, random: Random): FuzzCase[] {
  const cases: FuzzCase[] = []
  const path = fillPath(operation.path, ids)
  const validBody = operation.jsonBody ? validValue(document, operation.jsonBody) : undefined
  for (let n = 0; n < CASES_PER_OPERATION; n++) {
    const roll = random.next()
    if (roll < 0.2 && operation.pathParameters.length > 0) {
      const broken = random.pick(operation.pathParameters)
      const id = random.pick(HOSTILE_IDS)
      cases.push({
        what: `path {${broken}} = ${JSON.stringify(id.slice(0, 40))}`,
        path: operation.path.replace(/\{(\w+)\}/g, (_, name: string) =>
          name === broken ? encodeURIComponent(id) : encodeURIComponent(ids[name]!),
        ),
        ...(validBody !== undefined ? { body: validBody } : {}),
      })
    } else if (roll < 0.45 && operation.queryParameters.length > 0) {
      const parameter = random.pick(operation.queryParameters)
      const schemaBad = invalidValues(document, parameter.schema)
        .map((bad) => bad.value)
        .filter((value): value is string | number => typeof value === 'string' || typeof value === 'number')
      const value = String(
        random.next() < 0.5 && schemaBad.length > 0 ? random.pick(schemaBad) : random.pick(HOSTILE_QUERY),
      )
      const twice = random.next() < 0.2
      cases.push({
        what: `query ${parameter.name}=${JSON.stringify(value.slice(0, 40))}${twice ? ' (twice)' : ''}`,
        path,
        query: queryString(
          twice
            ? [
                [parameter.name, value],
                [parameter.name, value],
              ]
            : [[parameter.name, value]],
        ),
        ...(validBody !== undefined ? { body: validBody } : {}),
      })
    } else if (roll < 0.8 && operation.jsonBody) {
      const body = breakSomewhere(random, operation.jsonBody, validBody)
      cases.push({ what: `body ${JSON.stringify(body)?.slice(0, 120)}`, path, body })
    } else if (roll < 0.9 && operation.jsonBody) {
      const raw = random.pick(RAW_BODIES)
      cases.push({
        what: `raw body ${JSON.stringify(raw.body.slice(0, 60))} as ${raw.type ?? 'application/json'}`,
        path,
        rawBody: raw.body,
        headers: { 'content-type': raw.type ?? 'application/json' },
      })
    } else {
      const header = random.pick<Record<string, string>>([
        { 'idempotency-key': 'x'.repeat(10_000) },
        { 'idempotency-key': '' },
        { 'last-event-id': '-1' },
        { 'content-type': 'application/json' },
        { 'content-length': '999999999' },
        { accept: 'text/html' },
      ])
      cases.push({
        what: `header ${JSON.stringify(header).slice(0, 80)}`,
        path,
        headers: header,
        ...(operation.jsonBody ? { rawBody: JSON.stringify(validBody) } : {}),
      })
    }
  }
  return cases
}

let api: TestApi
let tenant: { tenantId: string; apiKey: string }
let ids: Record<string, string>

beforeAll(async () => {
  // Limits high enough that the sweep measures validation, not the rate limiter.
  api = await createTestApi('cp_fuzz', {
    TENANT_REQUESTS_PER_MINUTE: 1_000_000,
    SEND_RATE_LIMIT_PER_MINUTE: 1_000_000,
  })
  tenant = await createTenantThroughApi(api, 'Fuzz')
  const client = api.client(tenant.apiKey)
  const sessionId = (await client.POST('/v1/sessions', { body: { name: 'fuzz target' } })).data!.id
  ids = new Proxy(
    { sessionId, tenantId: tenant.tenantId },
    // Ids the sweep has no fixture for (a message, an event, a node) are well-formed unknown ones.
    {
      get: (target, name: string) =>
        (target as Record<string, string>)[name] ?? `${name.slice(0, 3)}_unknown`,
    },
  )
})
afterAll(async () => {
  await api?.close()
})

describe(`fuzz sweep over the OpenAPI document (seed ${SEED}, ${CASES_PER_OPERATION} cases per operation)`, () => {
  it('leaves out only operations it names, each of them in the document', () => {
    const ids = listOperations(document).map((operation) => operation.operationId)
    for (const operationId of Object.keys(NOT_FUZZED)) expect(ids).toContain(operationId)
  })

  it('never answers 5xx, and a rejected request changes nothing', async () => {
    const random = generator(SEED)
    const failures: string[] = []
    let rejected = 0
    for (const operation of operations) {
      const key = isOperatorOperation(operation) ? TEST_ADMIN_KEY : tenant.apiKey
      for (const fuzz of fuzzCases(operation, ids, random)) {
        const before = await snapshotDatabase(api)
        const url = fuzz.query ? `${fuzz.path}?${fuzz.query}` : fuzz.path
        const response = await api.call(operation.method.toUpperCase(), url, {
          key,
          ...(fuzz.body !== undefined ? { body: fuzz.body } : {}),
          ...(fuzz.rawBody !== undefined ? { rawBody: fuzz.rawBody } : {}),
          ...(fuzz.headers ? { headers: fuzz.headers } : {}),
        })
        const what = `${operation.label} ${fuzz.what} → ${response.status} ${response.text.slice(0, 200)}`
        // A 503 the operation documents (no node has capacity, Redis unreachable) is an answer, not a
        // crash; any other 5xx is a failure.
        const documented503 = response.status === 503 && operation.responseStatuses.includes('503')
        if (response.status >= 500 && !documented503) failures.push(what)
        else if (response.status >= 400 && response.status < 500) {
          rejected++
          if (JSON.stringify(await snapshotDatabase(api)) !== JSON.stringify(before))
            failures.push(`${what} (changed the database)`)
        }
      }
    }
    expect(failures).toEqual([])
    expect(rejected).toBeGreaterThan(operations.length * 10)
  })
})
