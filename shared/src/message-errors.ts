/**
 * Why a send failed, as the message resource and the `messages.update` webhook say it: a stable `code`
 * a program can branch on, and a `message` for people (it may change). Every code a failed message can
 * carry is listed here; docs/API.md lists them too.
 */
export const MESSAGE_ERROR_CODES = {
  /** The recipient has no WhatsApp account. */
  not_on_whatsapp: 'the recipient has no WhatsApp account',
  /** The message waited longer than QUEUED_SEND_TIMEOUT_MS for its session to connect. */
  session_not_connected: 'the session did not connect in time to send it',
  /** The broadcast it belonged to was cancelled before it was sent. */
  broadcast_cancelled: 'its broadcast was cancelled before it was sent',
  /** WhatsApp answered the sent message with an error receipt. */
  rejected_by_whatsapp: 'WhatsApp reported an error for this message',
  /** The send itself failed (the connection, WhatsApp or the content refused it); `message` says how. */
  send_failed: 'the send failed',
} as const

export type MessageErrorCode = keyof typeof MESSAGE_ERROR_CODES
export type MessageError = { code: MessageErrorCode; message: string }

/** A failure with its code's standard message unless a more precise one is given. */
export function messageError(code: MessageErrorCode, message?: string): MessageError {
  return { code, message: message ?? MESSAGE_ERROR_CODES[code] }
}

function isMessageErrorCode(value: string): value is MessageErrorCode {
  return Object.hasOwn(MESSAGE_ERROR_CODES, value)
}

/**
 * The failure of a stored row (`error_code`, `error`), or null when it has none. A row written before
 * codes were stored keeps its text in `error`: a known code there is that code, any other text was the
 * send's own error (`send_failed`).
 */
export function messageErrorOf(code: string | null, text: string | null): MessageError | null {
  if (code && isMessageErrorCode(code)) return messageError(code, text ?? undefined)
  if (text === null) return null
  return isMessageErrorCode(text) ? messageError(text) : messageError('send_failed', text)
}
