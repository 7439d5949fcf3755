import { html, useCallback, useEffect, useMemo, useRef, useState } from '/assets/vendor/preact-htm.js'
import { ApiError, describeError } from './api.js'
import { followEvents } from './live.js'
import { MessageLog } from './message-log.js'
import { Webhooks } from './webhooks.js'

const SESSIONS_POLL_MS = 15_000
const QR_POLL_MS = 2000

const BADGE_CLASSES = {
  CONNECTED: 'connected',
  QR_READY: 'qr',
  PAIRING: 'qr',
  DISCONNECTED: 'disconnected',
  LOGGED_OUT: 'logged_out',
  EXPIRED: 'disconnected',
  FAILED: 'disconnected',
}

export function StateBadge({ state }) {
  return html`<span class=${`badge ${BADGE_CLASSES[state] ?? ''}`} data-state=${state}>${state}</span>`
}

/** The tenant's console: sessions, messages, webhooks and keys, kept current by the event stream. */
export function TenantConsole({ api, apiKey }) {
  const [tab, setTab] = useState('sessions')
  const [sessions, setSessions] = useState([])
  const [error, setError] = useState('')
  const [streamStatus, setStreamStatus] = useState('connecting')
  const listeners = useRef(new Set())

  const loadSessions = useCallback(async () => {
    try {
      const page = await api.get('/v1/sessions?limit=200')
      setSessions(page.data)
      setError('')
    } catch (caught) {
      setError(describeError(caught))
    }
  }, [api])

  const subscribe = useCallback((listener) => {
    listeners.current.add(listener)
    return () => listeners.current.delete(listener)
  }, [])

  useEffect(() => {
    loadSessions()
    // The stream brings state changes at once; the slow poll catches anything it could not (a
    // session created or deleted elsewhere) and carries the page while the stream reconnects.
    const poll = setInterval(loadSessions, SESSIONS_POLL_MS)
    const stop = followEvents(api, {
      onStatus: setStreamStatus,
      onEvent: (event) => {
        if (event.type === 'connection.update') {
          setSessions((list) =>
            list.map((session) =>
              session.id === event.sessionId
                ? { ...session, state: event.data.state, phone: event.data.phone ?? session.phone }
                : session,
            ),
          )
        }
        for (const listener of listeners.current) listener(event)
      },
    })
    return () => {
      clearInterval(poll)
      stop()
    }
  }, [api, loadSessions])

  const tabs = [
    ['sessions', 'Sessions'],
    ['messages', 'Messages'],
    ['webhooks', 'Webhooks'],
    ['keys', 'API keys'],
  ]
  return html`
    <p class="muted live-status" data-stream=${streamStatus}>
      Live updates: ${streamStatus === 'live' ? 'on' : streamStatus}
    </p>
    <nav class="tabs" role="tablist" aria-label="Console sections">
      ${tabs.map(
        ([id, label]) =>
          html`<button role="tab" aria-selected=${tab === id} aria-controls=${`tab-${id}`} id=${`tab-button-${id}`} onClick=${() => setTab(id)}>${label}</button>`,
      )}
    </nav>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div role="tabpanel" id=${`tab-${tab}`} aria-labelledby=${`tab-button-${tab}`}>
      ${tab === 'sessions' && html`<${Sessions} api=${api} sessions=${sessions} reload=${loadSessions} />`}
      ${tab === 'messages' && html`<${MessageLog} api=${api} sessions=${sessions} subscribe=${subscribe} />`}
      ${tab === 'webhooks' && html`<${Webhooks} api=${api} sessions=${sessions} />`}
      ${tab === 'keys' && html`<${TenantKeys} apiKey=${apiKey} />`}
    </div>
  `
}

function Sessions({ api, sessions, reload }) {
  const [name, setName] = useState('')
  const [connecting, setConnecting] = useState('')
  const [error, setError] = useState('')

  async function create(event) {
    event.preventDefault()
    setError('')
    try {
      const session = await api.post('/v1/sessions', name ? { name } : {})
      setName('')
      await reload()
      setConnecting(session.id)
    } catch (caught) {
      setError(describeError(caught))
    }
  }

  async function act(session, action) {
    setError('')
    try {
      await api.post(`/v1/sessions/${encodeURIComponent(session.id)}/${action}`)
      await reload()
    } catch (caught) {
      setError(describeError(caught))
    }
  }

  const connectingSession = sessions.find((session) => session.id === connecting)
  return html`
    <form class="row panel" onSubmit=${create}>
      <label for="new-session-name">New session name</label>
      <input id="new-session-name" maxlength="200" value=${name} onInput=${(event) => setName(event.target.value)} />
      <button type="submit">Create session</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${connectingSession && html`<${ConnectPanel} api=${api} session=${connectingSession} reload=${reload} close=${() => setConnecting('')} />`}
    <div class="table-wrap">
      <table class="sessions">
        <thead><tr><th>Name</th><th>State</th><th>Phone</th><th>Node</th><th>Actions</th></tr></thead>
        <tbody>
          ${sessions.map(
            (session) => html`<tr data-session-id=${session.id}>
              <td><span class="session-name">${session.name}</span><br /><small class="muted">${session.id}</small></td>
              <td><${StateBadge} state=${session.state} /></td>
              <td>${session.phone ?? ''}</td>
              <td>${session.nodeId ?? ''}</td>
              <td><div class="row">
                ${session.state !== 'CONNECTED' && html`<button aria-label=${`Connect ${session.name || session.id}`} onClick=${() => setConnecting(session.id)}>Connect</button>`}
                ${session.state === 'CONNECTED' && html`<button class="secondary" aria-label=${`Disconnect ${session.name || session.id}`} onClick=${() => act(session, 'disconnect')}>Disconnect</button>`}
              </div></td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
    ${sessions.length === 0 && html`<p class="muted">No sessions yet.</p>`}
  `
}

/**
 * Linking a phone: a QR that refreshes in place (GET …/qr every 2 s) or a pairing code. It shows
 * "connected" by itself when the session's state (kept current by the event stream) says so.
 */
function ConnectPanel({ api, session, reload, close }) {
  const [qr, setQr] = useState(null)
  const [pairingPhone, setPairingPhone] = useState('')
  const [pairingCode, setPairingCode] = useState('')
  const [error, setError] = useState('')
  const path = `/v1/sessions/${encodeURIComponent(session.id)}`
  const connected = session.state === 'CONNECTED'

  // The QR changes every few seconds until it is scanned: follow the session and fetch the new one
  // when its expiry moves, so the image is replaced in place.
  useEffect(() => {
    if (!qr || connected) return undefined
    const timer = setInterval(async () => {
      try {
        const current = await api.get(path)
        if (current.state === 'QR_READY' && current.qrExpiresAt !== qr.expiresAt)
          setQr(await api.get(`${path}/qr`))
        if (current.state !== 'QR_READY') {
          setQr(null)
          reload()
        }
      } catch (caught) {
        if (caught instanceof ApiError && caught.code === 'not_waiting_for_scan') reload()
        else setError(describeError(caught))
      }
    }, QR_POLL_MS)
    return () => clearInterval(timer)
  }, [api, path, qr, connected, reload])

  useEffect(() => {
    if (!pairingCode || connected) return undefined
    const timer = setInterval(reload, QR_POLL_MS)
    return () => clearInterval(timer)
  }, [pairingCode, connected, reload])

  async function connect(body) {
    setError('')
    try {
      const answer = await api.post(`${path}/connect`, body)
      if (answer.state === 'QR_READY') setQr(answer)
      if (answer.state === 'PAIRING') setPairingCode(answer.pairingCode)
      await reload()
    } catch (caught) {
      setError(describeError(caught))
    }
  }

  return html`
    <section class="panel connect" aria-labelledby="connect-title">
      <h2 id="connect-title">Link <span class="session-name">${session.name || session.id}</span></h2>
      <p>State: <${StateBadge} state=${session.state} /></p>
      ${
        connected
          ? html`<p class="connected-note">Connected${session.phone ? html` as ${session.phone}` : ''}.</p>`
          : html`
            <div class="row">
              <button onClick=${() => connect({})}>Show QR code</button>
            </div>
            ${qr?.qrImage && html`<div class="qr"><img src=${qr.qrImage} alt="QR code to scan with WhatsApp (Linked devices)" /></div>`}
            <form class="row" onSubmit=${(event) => {
              event.preventDefault()
              connect({ pairingPhone })
            }}>
              <label for="pairing-phone">Or link with a code: phone number</label>
              <input id="pairing-phone" inputmode="tel" autocomplete="off" required value=${pairingPhone} onInput=${(event) => setPairingPhone(event.target.value)} />
              <button type="submit">Get pairing code</button>
            </form>
            ${pairingCode && html`<p>Pairing code: <strong class="pairing-code">${pairingCode}</strong> (WhatsApp → Linked devices → Link with phone number)</p>`}
          `
      }
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button class="secondary" onClick=${close}>Close</button>
    </section>
  `
}

function TenantKeys({ apiKey }) {
  const prefix = useMemo(() => apiKey.slice(0, 12), [apiKey])
  return html`
    <section class="panel">
      <h2>API keys</h2>
      <p>This console is signed in with the key <code>${prefix}…</code>.</p>
      <p class="muted">
        A tenant key cannot list or create keys: the operator creates and revokes them
        (<code>POST /v1/tenants/{id}/api-keys</code>, or the Tenants section of the operator console).
        A key is shown once, when it is created.
      </p>
    </section>
  `
}
