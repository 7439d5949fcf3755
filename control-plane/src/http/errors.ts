import { isDatabaseUnreachable } from '@wa-cluster/db'
import {
  AppError,
  BadRequest,
  Conflict,
  Forbidden,
  Gone,
  InvalidJson,
  LimitReached,
  LockBusy,
  NotFound,
  PayloadTooLarge,
  PlacementInProgress,
  RateLimited,
  StaleEpoch,
  TenantSuspended,
  TimedOut,
  Unauthorized,
  Unavailable,
  Unprocessable,
  UnsupportedMediaType,
  ValidationFailed,
} from '@wa-cluster/shared'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ZodError } from 'zod'
import type { AppEnv } from './env.js'
import { ClientClosedRequest } from './request-body.js'

/** The one error body of the API (Unkey style). */
export type ErrorBody = {
  error: {
    code: string
    message: string
    requestId: string
    field?: string
    details?: Record<string, unknown>
  }
}

type ErrorClass<E extends AppError = AppError> = abstract new (...args: never[]) => E

/** How errors of one class answer: the status, and for errors worth retrying the Retry-After seconds. */
export type HttpMapping<E extends AppError = AppError> = {
  status: ContentfulStatusCode
  retryAfterSeconds?: (error: E) => number | undefined
}

function mapping<E extends AppError>(errorClass: ErrorClass<E>, http: HttpMapping<E>) {
  return [errorClass, http as HttpMapping] as const
}

/**
 * The status table: the one place an error class gets its HTTP status. Every error class of
 * `@wa-cluster/shared` has its own row (a unit test fails otherwise), so a new class cannot silently
 * answer 500; a subclass defined elsewhere answers like its nearest listed ancestor.
 */
export const ERROR_STATUSES: ReadonlyMap<ErrorClass, HttpMapping> = new Map<ErrorClass, HttpMapping>([
  mapping(BadRequest, { status: 400 }),
  mapping(ValidationFailed, { status: 400 }),
  mapping(Unauthorized, { status: 401 }),
  mapping(Forbidden, { status: 403 }),
  mapping(TenantSuspended, { status: 403 }),
  mapping(NotFound, { status: 404 }),
  mapping(Conflict, { status: 409 }),
  mapping(Gone, { status: 410 }),
  mapping(LimitReached, { status: 409 }),
  mapping(InvalidJson, { status: 400 }),
  mapping(UnsupportedMediaType, { status: 415 }),
  mapping(PayloadTooLarge, { status: 413 }),
  mapping(Unprocessable, { status: 422 }),
  // Contention on one session is 409, not 503: the cluster is healthy and only this session is busy,
  // because another request (a connect, a move, the failover leader) is placing it or its owner has
  // just changed. A 5xx would count against the API's availability and page operators for what is
  // a race between requests. Retry-After says when the same request succeeds: the placement lock
  // is gone by then, and a retry re-reads the new owner.
  mapping(PlacementInProgress, { status: 409, retryAfterSeconds: (error) => error.retryAfterSeconds }),
  mapping(LockBusy, { status: 409, retryAfterSeconds: () => 1 }),
  mapping(StaleEpoch, { status: 409, retryAfterSeconds: () => 1 }),
  mapping(RateLimited, { status: 429, retryAfterSeconds: (error) => error.retryAfterSeconds }),
  mapping(Unavailable, { status: 503, retryAfterSeconds: (error) => error.retryAfterSeconds }),
  mapping(TimedOut, { status: 504 }),
])

/** The row of the error's class, or of its nearest ancestor that has one. */
function httpMappingOf(error: AppError): HttpMapping | undefined {
  for (
    let prototype: object | null = Object.getPrototypeOf(error);
    prototype && prototype !== AppError.prototype;
    prototype = Object.getPrototypeOf(prototype)
  ) {
    const row = ERROR_STATUSES.get(prototype.constructor as ErrorClass)
    if (row) return row
  }
  return undefined
}

/** Where each validation target lives in a request, as clients name it in error messages. */
const TARGET_PREFIX: Record<string, string> = {
  json: 'body',
  query: 'query',
  param: 'path',
  header: 'header',
}

/**
 * The defaultHook of every route: the first failing zod issue becomes a ValidationFailed naming the
 * field (`body.to`, `query.limit`). A malformed path id cannot name anything, so it is a 404 like any
 * other unknown id.
 */
export function validationHook(result: { target: string; success: boolean; error?: ZodError }): void {
  if (result.success || !result.error) return
  const issue = result.error.issues[0]
  const prefix = TARGET_PREFIX[result.target] ?? result.target
  const path = issue?.path.map(String) ?? []
  if (result.target === 'param') {
    throw new NotFound(path[0]?.replace(/Id$/, '') ?? 'resource')
  }
  const field = [prefix, ...path].join('.')
  throw new ValidationFailed(field, describeIssue(issue))
}

function describeIssue(issue: ZodError['issues'][number] | undefined): string {
  if (!issue) return 'is invalid'
  // zod's default messages read "Invalid input: expected string, received number"; the field name goes first.
  if (issue.code === 'invalid_type') {
    // A schema's own message (e.g. "must be a whole number written in decimal digits") says it best.
    if (!issue.message.startsWith('Invalid input')) return issue.message
    const received = /received (\w+)/.exec(issue.message)?.[1]
    return received === 'undefined'
      ? 'is required'
      : `must be ${issue.expected}${received ? `, got ${received}` : ''}`
  }
  if (issue.code === 'unrecognized_keys') return `has unknown field(s): ${issue.keys.join(', ')}`
  return issue.message.charAt(0).toLowerCase() === issue.message.charAt(0)
    ? issue.message
    : `is invalid: ${issue.message}`
}

/** Postgres "data exception" errors (SQLSTATE class 22) come from values a request supplied, never from us. */
function isPostgresDataException(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code)) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** Seconds a client waits before retrying through a database outage (a restart takes a few). */
const DATABASE_RETRY_AFTER_SECONDS = 5

function httpExceptionCode(exception: HTTPException): { code: string; message: string } {
  if (exception.status === 400 && /json/i.test(exception.message)) {
    return { code: 'invalid_json', message: 'request body is not valid JSON' }
  }
  if (exception.status === 413)
    return { code: 'payload_too_large', message: exception.message || 'request body is too large' }
  if (exception.status === 415) {
    return { code: 'unsupported_media_type', message: 'request body must be application/json' }
  }
  return {
    code: exception.status >= 500 ? 'internal_error' : 'bad_request',
    message: exception.message || 'bad request',
  }
}

/** The one place an error becomes an HTTP response. */
export function handleError(error: unknown, c: Context<AppEnv>): Response {
  const requestId = c.get('requestId') ?? 'unknown'
  const respond = (status: number, error: Omit<ErrorBody['error'], 'requestId'>) =>
    c.json({ error: { ...error, requestId } } satisfies ErrorBody, status as ContentfulStatusCode)

  const http = error instanceof AppError ? httpMappingOf(error) : undefined
  if (error instanceof AppError && http) {
    const retryAfterSeconds = http.retryAfterSeconds?.(error)
    if (retryAfterSeconds !== undefined) {
      c.header('Retry-After', String(Math.max(1, Math.ceil(retryAfterSeconds))))
    }
    if (error instanceof ValidationFailed || error instanceof Unprocessable) {
      return respond(http.status, {
        code: error.code,
        message: error.message,
        field: error.field,
        details: error.details,
      })
    }
    return respond(http.status, {
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    })
  }
  if (error instanceof HTTPException) return respond(error.status, httpExceptionCode(error))
  // Nobody reads this answer; 499 (nginx's "client closed request") keeps it out of the 5xx count.
  if (error instanceof ClientClosedRequest) {
    return respond(499, { code: 'client_closed_request', message: error.message })
  }
  if (isPostgresDataException(error)) {
    return respond(400, {
      code: 'bad_request',
      message: 'a value in the request cannot be stored (invalid characters?)',
    })
  }
  if (isDatabaseUnreachable(error)) {
    c.get('logger')?.warn({ err: (error as Error).message }, 'database unreachable')
    c.header('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS))
    return respond(503, { code: 'unavailable', message: 'the database is unreachable; try again shortly' })
  }
  c.get('logger')?.error({ err: error }, 'unhandled error')
  return respond(500, {
    code: 'internal_error',
    message: 'internal error; quote the requestId when reporting it',
  })
}
