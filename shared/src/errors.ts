/**
 * Typed errors, free of any transport. Each carries a stable `code` (what clients match on), a message
 * and optional details; none knows an HTTP status. Code anywhere throws these; the control-plane's one
 * error mapper (`control-plane/src/http/errors.ts`) holds the status table. An error worth retrying
 * says after how long in `retryAfterSeconds`.
 */
export abstract class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
    this.name = new.target.name
  }
}

export class BadRequest extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('bad_request', message, details)
  }
}

/**
 * A field failed validation; `field` is a dotted path such as `body.to`. `more` adds details (the
 * bad rows of a broadcast, each with its index).
 */
export class ValidationFailed extends AppError {
  constructor(
    readonly field: string,
    reason: string,
    more: Record<string, unknown> = {},
  ) {
    super('validation_failed', `${field} ${reason}`, { ...more, field, reason })
  }
}

/** Understood but not done: the request asks for something that cannot work (`field` names it). */
export class Unprocessable extends AppError {
  constructor(
    readonly field: string,
    code: string,
    message: string,
  ) {
    super(code, `${field}: ${message}`, { field })
  }
}

export class Unauthorized extends AppError {
  constructor(message = 'missing or invalid API key') {
    super('unauthorized', message)
  }
}

export class Forbidden extends AppError {
  constructor(message = 'this key may not do that') {
    super('forbidden', message)
  }
}

export class NotFound extends AppError {
  constructor(what: string) {
    super('not_found', `${what} not found`)
  }
}

/** It existed and has expired for good (an expired link): asking again with the same id cannot help. */
export class Gone extends AppError {
  constructor(message: string, code = 'gone') {
    super(code, message)
  }
}

/** The resource's state does not allow this; `code` says which state (`session_not_connected`...). */
export class Conflict extends AppError {
  constructor(message: string, code = 'conflict') {
    super(code, message)
  }
}

/**
 * A short lock (`Coordinator.withLock`) stayed held elsewhere for as long as the caller would wait.
 * The holder is working on the same resource; trying again shortly succeeds.
 */
export class LockBusy extends AppError {
  constructor(readonly resource: string) {
    super('lock_busy', `lock ${resource} is held elsewhere`)
  }
}

/**
 * Another request (a connect, a move, the failover leader) is placing this session on a node right
 * now. Nothing is wrong: retrying after `retryAfterSeconds` finds the placement done.
 */
export class PlacementInProgress extends AppError {
  constructor(
    readonly sessionId: string,
    readonly retryAfterSeconds: number,
  ) {
    super(
      'placement_in_progress',
      'another request is placing this session on a node right now; retry shortly',
    )
  }
}

/**
 * Raised by fenced writes: this process no longer owns the session (its epoch is stale). A request
 * that meets it raced a change of owner; trying again acts on the new owner.
 */
export class StaleEpoch extends AppError {
  constructor(
    readonly sessionId: string,
    readonly epoch: number,
  ) {
    super('session_owner_changed', `session ${sessionId}: epoch ${epoch} is stale; another owner took over`)
  }
}

export class RateLimited extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    message = 'too many requests',
    /** What was limited (`limit`, `value`, `resetAt`…), for the client to read. */
    details: Record<string, unknown> = {},
  ) {
    super('rate_limited', message, { ...details, retryAfterSeconds })
  }
}

export class Unavailable extends AppError {
  constructor(
    message: string,
    /** When it is known that trying again later can succeed, after how long. */
    readonly retryAfterSeconds?: number,
  ) {
    super('unavailable', message)
  }
}

export class TimedOut extends AppError {
  constructor(message: string) {
    super('timeout', message)
  }
}

/** A file is larger than its limit: names the field and the limit (bytes, and as people read it). */
export class PayloadTooLarge extends AppError {
  constructor(
    readonly field: string,
    readonly limitBytes: number,
    reason: string,
  ) {
    super('payload_too_large', `${field} ${reason}`, { field, limit: limitBytes })
  }
}

/** The request body cannot be read as JSON: not UTF-8, or not JSON at all. */
export class InvalidJson extends AppError {
  constructor(message = 'request body is not valid JSON') {
    super('invalid_json', message)
  }
}

/** The request body is not `application/json` in UTF-8. */
export class UnsupportedMediaType extends AppError {
  constructor(message = 'request body must be application/json') {
    super('unsupported_media_type', message)
  }
}

/**
 * A tenant reached one of the limits the operator sets (`limits.sessions`…): `limit` names it,
 * `value` is its current value. Nothing was created; raising the limit or freeing one helps, waiting
 * does not.
 */
export class LimitReached extends AppError {
  constructor(
    code: string,
    readonly limit: string,
    readonly value: number,
    message: string,
  ) {
    super(code, message, { limit, value })
  }
}

/**
 * The operator suspended the tenant (`status: "suspended"`): it may not send or connect until it is
 * active again. Its sessions keep their credentials.
 */
export class TenantSuspended extends AppError {
  constructor(message = 'this tenant is suspended: it may not send or connect; ask the operator') {
    super('tenant_suspended', message)
  }
}
