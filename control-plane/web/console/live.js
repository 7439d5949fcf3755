// Live events for the tenant console. EventSource cannot send an Authorization header, so the
// console mints a short-lived read-only stream token with the key (POST /v1/stream-tokens) and opens
// `/v1/events/stream?token=`; the token, never the key, is in that URL. When the token expires the
// stream ends and a new one resumes after the last event received, losing nothing.

const TOKEN_TTL_SECONDS = 600
const RETRY_MS = 3000

/**
 * Calls `onEvent(envelope)` for every event of the tenant from now on, and `onStatus('live' |
 * 'reconnecting')` as the stream comes and goes. Returns a function that stops it.
 */
export function followEvents(api, { onEvent, onStatus }) {
  let source
  let retry
  let stopped = false
  let lastEventId

  async function open() {
    if (stopped) return
    try {
      const { token } = await api.post('/v1/stream-tokens', { ttlSeconds: TOKEN_TTL_SECONDS })
      if (stopped) return
      const search = new URLSearchParams({ token })
      if (lastEventId) search.set('after', lastEventId)
      source = new EventSource(`/v1/events/stream?${search}`)
      source.onopen = () => onStatus('live')
      source.onmessage = (message) => {
        lastEventId = message.lastEventId || lastEventId
        onEvent(JSON.parse(message.data))
      }
      // Its own reconnect would present the same (possibly expired) token: start over instead.
      source.onerror = () => {
        source.close()
        reopenLater()
      }
    } catch {
      reopenLater()
    }
  }

  function reopenLater() {
    if (stopped) return
    onStatus('reconnecting')
    clearTimeout(retry)
    retry = setTimeout(open, RETRY_MS)
  }

  open()
  return () => {
    stopped = true
    clearTimeout(retry)
    source?.close()
  }
}
