import * as shared from '@wa-cluster/shared'
import {
  AppError,
  Conflict,
  LockBusy,
  NotFound,
  PlacementInProgress,
  RateLimited,
  StaleEpoch,
  Unavailable,
  ValidationFailed,
} from '@wa-cluster/shared'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { AppEnv } from '../../src/http/env.js'
import { ERROR_STATUSES, handleError, validationHook } from '../../src/http/errors.js'

/** A bare app whose one route throws what the test gives it, mapped by the real error handler. */
function appThrowing(error: unknown) {
  const app = new Hono<AppEnv>()
  app.use('*', async (c, next) => {
    c.set('requestId', 'req_test')
    await next()
  })
  app.get('/', () => {
    throw error
  })
  app.onError(handleError)
  return app
}

async function errorOf(error: unknown) {
  const response = await appThrowing(error).request('/')
  return { status: response.status, headers: response.headers, body: (await response.json()) as any }
}

function hookError(target: string, schema: z.ZodType, value: unknown): unknown {
  const result = schema.safeParse(value)
  try {
    validationHook({ target, success: result.success, error: result.success ? undefined : result.error })
    return undefined
  } catch (error) {
    return error
  }
}

describe('handleError', () => {
  it('maps AppError subclasses to their status and code with the request id', async () => {
    expect(await errorOf(new Conflict('busy', 'session_busy'))).toMatchObject({
      status: 409,
      body: { error: { code: 'session_busy', message: 'busy', requestId: 'req_test' } },
    })
  })

  it('names the field of a validation failure', async () => {
    const { status, body } = await errorOf(new ValidationFailed('body.to', 'is too short'))
    expect(status).toBe(400)
    expect(body.error).toMatchObject({
      code: 'validation_failed',
      field: 'body.to',
      message: 'body.to is too short',
    })
  })

  it('sets Retry-After on 429 (whole seconds, at least 1)', async () => {
    const { status, headers } = await errorOf(new RateLimited(0.2))
    expect(status).toBe(429)
    expect(headers.get('retry-after')).toBe('1')
    expect((await errorOf(new RateLimited(17))).headers.get('retry-after')).toBe('17')
  })

  it('answers contention on a session (placement, owner change, any lock) with 409 and Retry-After', async () => {
    const placement = await errorOf(new PlacementInProgress('ses_1', 2))
    expect(placement.status).toBe(409)
    expect(placement.headers.get('retry-after')).toBe('2')
    expect(placement.body.error).toMatchObject({ code: 'placement_in_progress', requestId: 'req_test' })

    const staleEpoch = await errorOf(new StaleEpoch('ses_1', 7))
    expect(staleEpoch.status).toBe(409)
    expect(staleEpoch.headers.get('retry-after')).toBe('1')
    expect(staleEpoch.body.error).toMatchObject({
      code: 'session_owner_changed',
      message: 'session ses_1: epoch 7 is stale; another owner took over',
    })

    const lockBusy = await errorOf(new LockBusy('lock:place:ses_1'))
    expect(lockBusy.status).toBe(409)
    expect(lockBusy.headers.get('retry-after')).toBe('1')
    expect(lockBusy.body.error.code).toBe('lock_busy')
  })

  it('sets Retry-After on 503 only when the error knows when to retry', async () => {
    const unknown = await errorOf(new Unavailable('no session-node has capacity for this session right now'))
    expect(unknown.status).toBe(503)
    expect(unknown.headers.get('retry-after')).toBeNull()
    expect(unknown.body.error).toEqual({
      code: 'unavailable',
      message: 'no session-node has capacity for this session right now',
      requestId: 'req_test',
    })
    const known = await errorOf(new Unavailable('shutting down', 5))
    expect(known.status).toBe(503)
    expect(known.headers.get('retry-after')).toBe('5')
  })

  it('answers a subclass defined outside shared like its nearest listed ancestor', async () => {
    class SessionGone extends NotFound {}
    expect((await errorOf(new SessionGone('session'))).status).toBe(404)
  })

  it("maps hono's malformed JSON, 413 and 415 exceptions to stable codes", async () => {
    expect(
      (await errorOf(new HTTPException(400, { message: 'Malformed JSON in request body' }))).body.error.code,
    ).toBe('invalid_json')
    expect((await errorOf(new HTTPException(413))).body.error.code).toBe('payload_too_large')
    expect((await errorOf(new HTTPException(415))).body.error.code).toBe('unsupported_media_type')
  })

  it('turns Postgres data exceptions (class 22) into 400, and anything else into an opaque 500', async () => {
    const dataException = Object.assign(new Error('Failed query'), {
      cause: Object.assign(new Error('invalid byte'), { code: '22021' }),
    })
    expect((await errorOf(dataException)).status).toBe(400)
    const internal = await errorOf(new Error('database password is hunter2'))
    expect(internal.status).toBe(500)
    expect(internal.body.error.code).toBe('internal_error')
    expect(JSON.stringify(internal.body)).not.toContain('hunter2')
  })
})

describe('the status table', () => {
  // Error classes of shared that never reach a route: AppError is abstract (only subclasses are
  // thrown), and a ConfigError stops a process at start-up.
  const NOT_REQUEST_ERRORS = new Set<unknown>([shared.AppError, shared.ConfigError])

  it('has a row for every error class exported from shared, so none silently becomes a 500', () => {
    const errorClasses = Object.entries(shared).filter(
      ([, value]) => typeof value === 'function' && value.prototype instanceof Error,
    )
    expect(errorClasses.map(([name]) => name)).toEqual(
      expect.arrayContaining(['NotFound', 'LockBusy', 'PlacementInProgress', 'StaleEpoch']),
    )
    const missing = errorClasses
      .filter(([, errorClass]) => !NOT_REQUEST_ERRORS.has(errorClass))
      .filter(([, errorClass]) => !ERROR_STATUSES.has(errorClass as never))
      .map(([name]) => name)
    expect(missing).toEqual([])
  })

  it('lists only AppError classes, each with a 4xx or 5xx status', () => {
    for (const [errorClass, http] of ERROR_STATUSES) {
      expect(errorClass.prototype).toBeInstanceOf(AppError)
      expect(http.status).toBeGreaterThanOrEqual(400)
    }
  })
})

describe('validationHook', () => {
  const body = z.object({ to: z.string(), nested: z.object({ count: z.number().int() }).optional() })

  it('names the first failing field under its request part', () => {
    expect(hookError('json', body, {})).toMatchObject({ field: 'body.to', message: 'body.to is required' })
    expect(hookError('json', body, { to: 5 })).toMatchObject({
      field: 'body.to',
      message: 'body.to must be string, got number',
    })
    expect(hookError('json', body, { to: 'x', nested: { count: 1.5 } })).toMatchObject({
      field: 'body.nested.count',
    })
    expect(
      hookError('query', z.object({ limit: z.coerce.number().max(5, 'must be at most 5') }), { limit: '9' }),
    ).toMatchObject({
      field: 'query.limit',
      message: 'query.limit must be at most 5',
    })
    expect(
      hookError('header', z.object({ 'idempotency-key': z.string().max(3) }), { 'idempotency-key': 'long' }),
    ).toMatchObject({
      field: 'header.idempotency-key',
    })
  })

  it('turns a malformed path id into a 404 for that resource', () => {
    const error = hookError('param', z.object({ sessionId: z.string().regex(/^ses_/) }), {
      sessionId: 'nope',
    })
    expect(error).toBeInstanceOf(NotFound)
    expect(error).toMatchObject({ code: 'not_found', message: 'session not found' })
  })

  it('passes valid input through', () => {
    expect(hookError('json', body, { to: '6281' })).toBeUndefined()
  })
})
