/**
 * Typed errors. Code anywhere throws these; the control-plane maps them to HTTP in exactly one place.
 */
export class AppError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503 | 504,
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
    super(400, 'bad_request', message, details)
  }
}

/** A field failed validation; `field` is a dotted path such as `body.to`. */
export class ValidationFailed extends AppError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(400, 'validation_failed', `${field} ${reason}`, { field, reason })
  }
}

export class Unauthorized extends AppError {
  constructor(message = 'missing or invalid API key') {
    super(401, 'unauthorized', message)
  }
}

export class Forbidden extends AppError {
  constructor(message = 'this key may not do that') {
    super(403, 'forbidden', message)
  }
}

export class NotFound extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`)
  }
}

export class Conflict extends AppError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message)
  }
}

export class RateLimited extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    message = 'too many requests',
    /** What was limited (`limit`, `value`, `resetAt`…), for the client to read. */
    details: Record<string, unknown> = {},
  ) {
    super(429, 'rate_limited', message, { ...details, retryAfterSeconds })
  }
}

export class Unavailable extends AppError {
  constructor(message: string) {
    super(503, 'unavailable', message)
  }
}

export class TimedOut extends AppError {
  constructor(message: string) {
    super(504, 'timeout', message)
  }
}

/** Raised by fenced writes: this process no longer owns the session (its epoch is stale). */
export class StaleEpoch extends Error {
  constructor(
    readonly sessionId: string,
    readonly epoch: number,
  ) {
    super(`session ${sessionId}: epoch ${epoch} is stale; another owner took over`)
    this.name = 'StaleEpoch'
  }
}

/** The request body cannot be read as JSON: not UTF-8, or not JSON at all. */
export class InvalidJson extends AppError {
  constructor(message = 'request body is not valid JSON') {
    super(400, 'invalid_json', message)
  }
}

/** The request body is not `application/json` in UTF-8. */
export class UnsupportedMediaType extends AppError {
  constructor(message = 'request body must be application/json') {
    super(415, 'unsupported_media_type', message)
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
    super(409, code, message, { limit, value })
  }
}
