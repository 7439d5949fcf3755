import { openApiDocument } from '../../src/app.js'

// Reading the API's own OpenAPI document in tests, so that sweeps over "every operation" cover a new
// endpoint the day it is added.

export type OpenApiDocument = ReturnType<typeof openApiDocument>
export type JsonSchema = {
  $ref?: string
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  enum?: unknown[]
  pattern?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  minItems?: number
  format?: string
  example?: unknown
  examples?: unknown[]
  oneOf?: JsonSchema[]
  anyOf?: JsonSchema[]
  allOf?: JsonSchema[]
  additionalProperties?: boolean | JsonSchema
  [key: string]: unknown
}

export type Operation = {
  /** `post /v1/sessions/{sessionId}/connect` */
  label: string
  method: string
  path: string
  operationId: string
  tags: string[]
  security: Record<string, string[]>[] | undefined
  pathParameters: string[]
  /** Query parameters with their schemas (references resolved). */
  queryParameters: { name: string; schema: JsonSchema; required: boolean }[]
  /** The JSON request body schema, references resolved at the top level. */
  jsonBody: JsonSchema | undefined
  bodyRequired: boolean
  responseStatuses: string[]
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const

/** The document built from the routes, as `GET /openapi.json` serves it. */
export function apiDocument(): OpenApiDocument {
  return openApiDocument()
}

/** Follows a local `$ref` (`#/components/schemas/X`) until a schema without one. */
export function resolveSchema(document: OpenApiDocument, schema: JsonSchema): JsonSchema {
  let current = schema
  for (let depth = 0; current.$ref && depth < 10; depth++) {
    const target = current.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<any>((node, key) => node?.[key.replaceAll('~1', '/').replaceAll('~0', '~')], document)
    if (!target) throw new Error(`unresolvable $ref ${current.$ref}`)
    current = target as JsonSchema
  }
  // A reference with its own annotations (`allOf: [{$ref}, {description}]`) is the referenced schema.
  if (current.allOf?.length) {
    const { allOf, ...own } = current
    return Object.assign({}, ...allOf.map((part) => resolveSchema(document, part)), own)
  }
  return current
}

function operationsOf(document: OpenApiDocument, pathItems: Record<string, any> | undefined): Operation[] {
  return Object.entries(pathItems ?? {}).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => {
      const operation = item[method]
      const parameters: { name: string; in: string; schema?: JsonSchema; required?: boolean }[] = [
        ...(item.parameters ?? []),
        ...(operation.parameters ?? []),
      ]
      const json = operation.requestBody?.content?.['application/json']?.schema
      return {
        label: `${method} ${path}`,
        method,
        path,
        operationId: operation.operationId,
        tags: operation.tags ?? [],
        security: operation.security,
        pathParameters: parameters.filter((parameter) => parameter.in === 'path').map(({ name }) => name),
        queryParameters: parameters
          .filter((parameter) => parameter.in === 'query')
          .map(({ name, schema, required }) => ({
            name,
            schema: resolveSchema(document, schema ?? {}),
            required: required === true,
          })),
        jsonBody: json ? resolveSchema(document, json) : undefined,
        bodyRequired: operation.requestBody?.required === true,
        responseStatuses: Object.keys(operation.responses ?? {}),
      }
    }),
  )
}

/** Every operation under `paths`. */
export function listOperations(document: OpenApiDocument): Operation[] {
  return operationsOf(document, document.paths)
}

/** Every operation under `webhooks` (the deliveries the API makes to tenants). */
export function listWebhookOperations(document: OpenApiDocument): Operation[] {
  return operationsOf(document, document.webhooks)
}

/** Whether the operation needs the operator (admin) key rather than a tenant key. */
export const isOperatorOperation = (operation: Operation) =>
  operation.tags.some((tag) => tag.startsWith('Operator'))

/** Whether the operation takes no key at all (the document says `security: []`). */
export const isPublicOperation = (operation: Operation) => operation.security?.length === 0

/** `/v1/sessions/{sessionId}/messages/{messageId}` with the given ids filled in. */
export function fillPath(path: string, ids: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const id = ids[name]
    if (id === undefined) throw new Error(`no id for {${name}} in ${path}`)
    return encodeURIComponent(id)
  })
}

function typesOf(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type
  if (schema.type) return [schema.type]
  if (schema.enum) return [...new Set(schema.enum.map((value) => (value === null ? 'null' : typeof value)))]
  return []
}

/**
 * A value the schema accepts, built from the document alone: its example when it has one, else the
 * smallest value of its type. Objects get their required properties only.
 */
export function validValue(document: OpenApiDocument, given: JsonSchema): unknown {
  const schema = resolveSchema(document, given)
  if (schema.example !== undefined) return schema.example
  if (schema.examples?.length) return schema.examples[0]
  if (schema.enum?.length) return schema.enum[0]
  const type = typesOf(schema).find((each) => each !== 'null')
  switch (type) {
    case 'object':
      return Object.fromEntries(
        (schema.required ?? []).map((name) => [name, validValue(document, schema.properties![name]!)]),
      )
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => validValue(document, schema.items ?? {}))
    case 'boolean':
      return false
    case 'integer':
    case 'number':
      return schema.minimum ?? 1
    case 'string':
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1))
    default:
      throw new Error(`no valid value for schema ${JSON.stringify(schema)}`)
  }
}

/** Values of a property that its schema refuses, each with what makes it bad. */
export function invalidValues(
  document: OpenApiDocument,
  given: JsonSchema,
): { value: unknown; why: string }[] {
  const schema = resolveSchema(document, given)
  const types = typesOf(schema)
  const bad: { value: unknown; why: string }[] = []
  // A value of another JSON type is refused whatever the constraints are.
  if (!types.includes('string')) bad.push({ value: 'not-this-type', why: `a string for ${types.join('|')}` })
  else bad.push({ value: 12345, why: 'a number for a string' })
  if (!types.includes('object') && !types.includes('array')) bad.push({ value: {}, why: 'an object' })
  if (schema.enum && types.includes('string'))
    bad.push({ value: 'not-in-the-enum', why: 'a value outside enum' })
  if (schema.maxLength !== undefined) {
    bad.push({ value: 'x'.repeat(schema.maxLength + 1), why: `longer than ${schema.maxLength}` })
  }
  return bad
}
