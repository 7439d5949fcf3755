import { html, useEffect, useState } from '/assets/vendor/preact-htm.js'
import { describeError, query, shortTime } from './api.js'

// The message log of one session and its send form. It opens with the session's stored history
// (`GET /v1/sessions/{id}/messages`, newest first) and the live stream then adds received messages
// and moves the status of sent ones.

const HISTORY_ROWS = 200

/**
 * The newest rows of one session (`{id, direction: 'in' | 'out', chatId, text, status, at}`) and
 * whether that is its whole history (`complete`).
 */
export async function loadMessageLog(api, sessionId) {
  const { data, nextCursor } = await api.get(
    `/v1/sessions/${encodeURIComponent(sessionId)}/messages${query({ limit: HISTORY_ROWS })}`,
  )
  return { entries: mergeEntries([], data.map(entryFromMessage)), complete: !nextCursor }
}

/** The rows an event of the live stream or the outbox adds or changes (none for other types). */
export function entriesFromEvent(event) {
  if (event.type === 'messages.upsert') {
    return event.data.messages.map((message) => ({
      id: message.id,
      waMessageId: message.waMessageId,
      direction: message.fromMe ? 'out' : 'in',
      chatId: message.chatId,
      text: message.text ?? `(${message.type})`,
      status: message.fromMe ? 'sent' : 'received',
      // WhatsApp's timestamp is in seconds.
      at: message.timestamp ? new Date(message.timestamp * 1000).toISOString() : event.occurredAt,
    }))
  }
  if (event.type === 'messages.update') {
    return event.data.updates.map((update) => ({
      id: update.id,
      waMessageId: update.waMessageId,
      direction: 'out',
      chatId: update.chatId,
      status: update.status,
      error: update.error,
      at: event.occurredAt,
    }))
  }
  return []
}

/** A row for a message resource (the history lists them; `POST …/messages` answers one). */
export function entryFromMessage(message) {
  return {
    id: message.id,
    waMessageId: message.waMessageId ?? undefined,
    direction: message.direction ?? 'out',
    chatId: message.chatId ?? message.to,
    text: message.text ?? `(${message.type ?? 'message'})`,
    status: message.status,
    error: message.error ?? undefined,
    // WhatsApp's time of a received message, else when it was stored.
    at: message.sentAt ?? message.createdAt,
  }
}

const STATUS_ORDER = ['queued', 'sending', 'sent', 'delivered', 'read', 'played', 'failed']

/**
 * Adds rows, or completes the row they describe; a status never goes backwards. A message this
 * session sent comes back from WhatsApp as an upsert with its WhatsApp id only: rows with the same
 * `waMessageId` are one message, kept under the `msg_…` id the API gave it.
 */
export function mergeEntries(entries, incoming) {
  const rows = new Map(entries.map((entry) => [entry.id, entry]))
  const byWaId = new Map(
    entries.filter((entry) => entry.waMessageId).map((entry) => [entry.waMessageId, entry.id]),
  )
  for (const entry of incoming) {
    let id = rows.has(entry.id) ? entry.id : (byWaId.get(entry.waMessageId) ?? entry.id)
    let known = rows.get(id)
    // The row under the WhatsApp id and the one under the API id meet: fold the first into the second.
    const twinId = entry.waMessageId && byWaId.get(entry.waMessageId)
    if (known && twinId && twinId !== id) {
      const twin = rows.get(twinId)
      rows.delete(twinId)
      if (twinId.startsWith('msg_')) {
        rows.delete(id)
        known = combine(twin, known)
        id = twinId
      } else {
        known = combine(known, twin)
      }
    }
    const merged = known ? combine(known, entry) : entry
    rows.set(id, { ...merged, id })
    if (merged.waMessageId) byWaId.set(merged.waMessageId, id)
  }
  return [...rows.values()].sort((a, b) => Date.parse(b.at) - Date.parse(a.at))
}

function combine(known, entry) {
  const newer = STATUS_ORDER.indexOf(entry.status) > STATUS_ORDER.indexOf(known.status)
  return {
    ...known,
    waMessageId: known.waMessageId ?? entry.waMessageId,
    text: known.text ?? entry.text,
    chatId: known.chatId ?? entry.chatId,
    at: known.text === undefined && entry.text !== undefined ? entry.at : known.at,
    ...(newer ? { status: entry.status, error: entry.error } : {}),
  }
}

/** `6281…@s.whatsapp.net` → `+6281…`; groups and other ids as they are. */
export function chatLabel(chatId) {
  const match = /^(\d+)(?::\d+)?@s\.whatsapp\.net$/.exec(chatId ?? '')
  return match ? `+${match[1]}` : (chatId ?? '')
}

/** The log of one session, its filters and the send form; `subscribe(fn)` feeds it live events. */
export function MessageLog({ api, sessions, subscribe }) {
  const [sessionId, setSessionId] = useState('')
  const [entries, setEntries] = useState([])
  const [loading, setLoading] = useState(false)
  const [partial, setPartial] = useState(false)
  const [direction, setDirection] = useState('all')
  const [chat, setChat] = useState('')
  const [to, setTo] = useState('')
  const [text, setText] = useState('')
  const [sending, setSending] = useState(false)
  const [error, setError] = useState('')

  const chosen = sessionId || sessions.find((session) => session.state === 'CONNECTED')?.id || sessions[0]?.id

  useEffect(() => {
    if (!chosen) return undefined
    let current = true
    setEntries([])
    setLoading(true)
    setError('')
    const unsubscribe = subscribe((event) => {
      if (event.sessionId === chosen) setEntries((list) => mergeEntries(list, entriesFromEvent(event)))
    })
    loadMessageLog(api, chosen)
      .then((loaded) => {
        if (!current) return
        setEntries((list) => mergeEntries(list, loaded.entries))
        setPartial(!loaded.complete)
      })
      .catch((caught) => current && setError(describeError(caught)))
      .finally(() => current && setLoading(false))
    return () => {
      current = false
      unsubscribe()
    }
  }, [api, chosen, subscribe])

  async function send(submitEvent) {
    submitEvent.preventDefault()
    setSending(true)
    setError('')
    try {
      const message = await api.post(`/v1/sessions/${encodeURIComponent(chosen)}/messages`, { to, text })
      setEntries((list) => mergeEntries(list, [entryFromMessage(message)]))
      setText('')
    } catch (caught) {
      setError(describeError(caught))
    } finally {
      setSending(false)
    }
  }

  if (sessions.length === 0)
    return html`<p class="muted">No sessions yet: create one on the Sessions tab.</p>`
  const chatFilter = chat.trim().replace(/^\+/, '')
  const shown = entries.filter(
    (entry) =>
      (direction === 'all' || entry.direction === direction) &&
      (!chatFilter || (entry.chatId ?? '').includes(chatFilter)),
  )
  return html`
    <section class="panel" aria-labelledby="send-title">
      <h2 id="send-title">Send a text</h2>
      <div class="row">
        <label for="log-session">Session</label>
        <select id="log-session" value=${chosen} onChange=${(event) => setSessionId(event.target.value)}>
          ${sessions.map((session) => html`<option value=${session.id}>${session.name || session.id} (${session.state})</option>`)}
        </select>
      </div>
      <form class="stack" onSubmit=${send}>
        <label for="send-to">To (phone number)</label>
        <input id="send-to" inputmode="tel" autocomplete="off" required value=${to} onInput=${(event) => setTo(event.target.value)} />
        <label for="send-text">Text</label>
        <textarea id="send-text" rows="2" maxlength="4096" required value=${text} onInput=${(event) => setText(event.target.value)}></textarea>
        <div class="row"><button type="submit" disabled=${sending}>Send</button></div>
      </form>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </section>
    <section aria-labelledby="log-title">
      <h2 id="log-title">Messages</h2>
      <div class="row filters">
        <label for="log-direction">Direction</label>
        <select id="log-direction" value=${direction} onChange=${(event) => setDirection(event.target.value)}>
          <option value="all">all</option>
          <option value="in">received</option>
          <option value="out">sent</option>
        </select>
        <label for="log-chat">Chat</label>
        <input id="log-chat" placeholder="number" value=${chat} onInput=${(event) => setChat(event.target.value)} />
      </div>
      ${loading && html`<p class="muted">Loading…</p>`}
      ${
        partial &&
        html`<p class="muted">Showing this session's newest ${HISTORY_ROWS} messages; the API lists the rest (GET /v1/sessions/{id}/messages).</p>`
      }
      <div class="table-wrap">
        <table class="message-log">
          <thead><tr><th>Time</th><th>Dir.</th><th>Chat</th><th>Text</th><th>Status</th></tr></thead>
          <tbody>
            ${shown.map(
              (entry) => html`<tr data-message-id=${entry.id} class=${`message ${entry.direction}`}>
                <td>${shortTime(entry.at)}</td>
                <td>${entry.direction === 'in' ? '⬅ in' : 'out ➡'}</td>
                <td>${chatLabel(entry.chatId)}</td>
                <td class="message-text">${entry.text ?? ''}</td>
                <td><span class="badge">${entry.status}</span>${entry.error ? html` <span class="error">${entry.error.message ?? entry.error}</span>` : ''}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${!loading && shown.length === 0 && html`<p class="muted">No messages.</p>`}
    </section>
  `
}
