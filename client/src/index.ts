import createFetchClient, { type Client } from 'openapi-fetch'
import type { components, operations, paths, webhooks } from './schema.js'

/**
 * The typed client of the wa-cluster API. `schema.d.ts` is generated from the control-plane's OpenAPI
 * document (`npm run generate -w @wa-cluster/client`); the runtime is openapi-fetch, so every call is
 * `client.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })` and answers
 * `{ data, error, response }` with `data` typed by the documented success body and `error` by the error body.
 */
export type WaClusterClient = Client<paths>

export type ClientOptions = {
  /** Where the API is served, e.g. `http://localhost:8080`. */
  baseUrl: string
  /** A tenant API key (`wak_…`) or the operator key; sent as `Authorization: Bearer`. Omit only for the public endpoints. */
  apiKey?: string
  /** Extra headers for every request. */
  headers?: Record<string, string>
  /** The fetch to use; default the global one (tests pass an app's in-process `fetch`). */
  fetch?: (request: Request) => Promise<Response>
}

/** A client for one key: every request carries `Authorization: Bearer <apiKey>`. */
export function createClient(options: ClientOptions): WaClusterClient {
  return createFetchClient<paths>({
    baseUrl: options.baseUrl,
    headers: {
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      ...options.headers,
    },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
}

type Schemas = components['schemas']

export type ApiError = Schemas['Error']
export type Tenant = Schemas['Tenant']
export type TenantCreated = Schemas['TenantCreated']
export type ApiKey = Schemas['ApiKey']
export type ApiKeyCreated = Schemas['ApiKeyCreated']
export type ClusterNode = Schemas['Node']
export type RebalancePlan = Schemas['RebalancePlan']
export type Session = Schemas['Session']
export type SessionState = Session['state']
export type ConnectResult = Schemas['ConnectResult']
export type Message = Schemas['Message']
export type MessageStatus = Message['status']
export type Webhook = Schemas['Webhook']
/** An event as `GET /v1/events` lists it (the webhook body plus `delivery`). */
export type ListedEvent = Schemas['Event']
/** The body of a webhook delivery; narrow it on `type`. */
export type WebhookEvent = Schemas['WebhookEvent']
export type EventType = WebhookEvent['type']
export type ConnectionUpdateEvent = Schemas['ConnectionUpdateEvent']
export type MessagesUpsertEvent = Schemas['MessagesUpsertEvent']
export type MessagesUpdateEvent = Schemas['MessagesUpdateEvent']
export type InboundMessage = Schemas['InboundMessage']

export type { components, operations, paths, webhooks }
