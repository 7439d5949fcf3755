/** Errors the control API maps to HTTP; everything else is a 500. */
export class SimError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Bad input: 400, and the message names the field. */
export class BadInput extends SimError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(400, 'bad_input', `${field}: ${message}`)
  }
}

/** Unknown account, device, QR ref or message: 404. */
export class NotFound extends SimError {
  constructor(message: string) {
    super(404, 'not_found', message)
  }
}

/** The request is well formed but cannot be done now (e.g. no pending pairing code): 409. */
export class Conflict extends SimError {
  constructor(message: string) {
    super(409, 'conflict', message)
  }
}
