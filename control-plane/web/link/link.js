// The link page: the tenant's name and the live QR (or a pairing-code form) for one session, and once
// the session is CONNECTED a redirect to the tenant's returnUrl. It knows nothing but its own URL
// (`data-link`): the token in it authorizes `GET state`, `POST connect` and `POST pairing-code` for this
// one session, and no API key ever reaches the page. Every string from the server is rendered as text
// by htm, never as markup.
import { html, render, useEffect, useRef, useState } from '/assets/vendor/preact-htm.js'

const LINK = document.body.dataset.link
/** How often the page reads the session's state: a QR rotates every ~20 s, a scan must show at once. */
const POLL_MS = 1500
/** Long enough to read "linked" before the page moves on. */
const REDIRECT_AFTER_MS = 1200
/** States in which no socket runs: the page connects the session when it opens in one of them. */
const RESTING = new Set(['DISCONNECTED', 'LOGGED_OUT', 'EXPIRED', 'FAILED'])
/** What the link itself says, as opposed to the session's QR, code or state. */
const LINK_FIELDS = ['tenantName', 'sessionName', 'returnUrl', 'linkExpiresAt']

class RequestFailed extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `the gateway answered ${status}`)
    this.status = status
    this.field = body?.error?.field
  }
}

/** One call to this link's endpoints; POSTs are JSON from this origin (the server's CSRF check). */
async function call(method, path, body) {
  const init = { method, cache: 'no-store', credentials: 'omit', headers: {} }
  if (method === 'POST') {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body ?? {})
  }
  const response = await fetch(`${LINK}${path}`, init)
  const payload = await response.json().catch(() => null)
  if (!response.ok) throw new RequestFailed(response.status, payload)
  return payload
}

/** The link's own fields from `current`, the session's from `result` (a stale QR must not linger). */
function withSession(current, result) {
  const next = { ...result }
  for (const field of LINK_FIELDS) next[field] = current?.[field]
  return next
}

function isHttpUrl(value) {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}

const formatCode = (code) => (code.length === 8 ? `${code.slice(0, 4)}-${code.slice(4)}` : code)

function Linked({ link }) {
  const goesBack = link.returnUrl && isHttpUrl(link.returnUrl)
  return html`<section class="panel done" aria-labelledby="linked-title">
    <h2 id="linked-title">Linked</h2>
    <p>Your WhatsApp is linked.</p>
    ${
      goesBack
        ? html`<p>Taking you back… <a href=${link.returnUrl}>Continue</a></p>`
        : html`<p>You can close this page.</p>`
    }
  </section>`
}

function QrStep({ link, busy, onNewQr, onUseCode }) {
  let body
  if (link.state === 'QR_READY' && link.qrImage) {
    body = html`<div class="qr"><img src=${link.qrImage} alt="QR code to scan with WhatsApp" /></div>
      <ol>
        <li>Open WhatsApp on your phone.</li>
        <li>Go to Settings → Linked devices → Link a device.</li>
        <li>Point the camera at this code.</li>
      </ol>`
  } else if (RESTING.has(link.state)) {
    body = html`<p>${link.state === 'EXPIRED' ? 'The code was not scanned in time.' : 'The code is not showing.'}</p>
      <button type="button" onClick=${onNewQr} disabled=${busy}>Show a new QR code</button>`
  } else {
    body = html`<p class="muted">Preparing the QR code…</p>`
  }
  return html`<section class="panel" aria-labelledby="qr-title">
    <h2 id="qr-title">Scan the QR code</h2>
    ${body}
    <div class="actions">
      <button type="button" class="secondary" onClick=${onUseCode}>Link with a phone number instead</button>
    </div>
  </section>`
}

function CodeStep({ link, busy, fieldError, onRequest, onUseQr }) {
  const [phone, setPhone] = useState('')
  const input = useRef(null)
  useEffect(() => input.current?.focus(), [])
  const submit = (event) => {
    event.preventDefault()
    onRequest(phone)
  }
  const code = link.state === 'PAIRING' && link.pairingCode ? link.pairingCode : null
  return html`<section class="panel" aria-labelledby="code-title">
    <h2 id="code-title">Link with a phone number</h2>
    <form onSubmit=${submit} novalidate>
      <label for="phone">Your WhatsApp phone number</label>
      <input
        id="phone"
        ref=${input}
        type="tel"
        inputmode="tel"
        autocomplete="tel"
        required
        aria-describedby="phone-hint${fieldError ? ' phone-error' : ''}"
        aria-invalid=${fieldError ? 'true' : 'false'}
        value=${phone}
        onInput=${(event) => setPhone(event.currentTarget.value)}
      />
      <p id="phone-hint" class="muted">With the country code, e.g. +62 812 3456 7890.</p>
      ${fieldError ? html`<p id="phone-error" class="error">${fieldError}</p>` : null}
      <button type="submit" disabled=${busy}>Get a code</button>
    </form>
    ${
      code
        ? html`<p>Your code:</p>
          <p class="pairing-code" data-code=${code}>${formatCode(code)}</p>
          <ol>
            <li>Open WhatsApp on your phone.</li>
            <li>Go to Settings → Linked devices → Link a device.</li>
            <li>Tap “Link with phone number instead” and type this code.</li>
          </ol>`
        : null
    }
    <div class="actions">
      <button type="button" class="secondary" onClick=${onUseQr}>Use a QR code instead</button>
    </div>
  </section>`
}

function statusText(link) {
  if (link.state === 'CONNECTED') return 'Linked.'
  if (link.state === 'QR_READY') return 'Waiting for the QR code to be scanned.'
  if (link.state === 'PAIRING') return 'Waiting for the code to be entered on the phone.'
  return 'Getting ready…'
}

function App() {
  const [link, setLink] = useState(null)
  const [mode, setMode] = useState('qr')
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState(null)
  const [fieldError, setFieldError] = useState(null)
  const [finished, setFinished] = useState(false)

  async function connect(phone) {
    setBusy(true)
    setProblem(null)
    setFieldError(null)
    try {
      const result =
        phone === undefined ? await call('POST', '/connect') : await call('POST', '/pairing-code', { phone })
      setLink((current) => withSession(current, result))
    } catch (error) {
      if (error.field === 'body.phone') setFieldError(error.message)
      else setProblem(error.message)
      if (error.status === 404 || error.status === 410) setFinished(true)
    } finally {
      setBusy(false)
    }
  }

  // Reads the state every POLL_MS until the session is linked or the link stops working; the first
  // read connects a resting session so the QR appears without a click.
  useEffect(() => {
    let stopped = false
    let timer
    let first = true
    const tick = async () => {
      try {
        const next = await call('GET', '/state')
        if (stopped) return
        setLink(next)
        if (first) {
          first = false
          if (next.state === 'PAIRING' && next.pairingCode) setMode('code')
          if (RESTING.has(next.state)) void connect()
        }
        if (next.state === 'CONNECTED') return
      } catch (error) {
        if (stopped) return
        if (error.status === 404 || error.status === 410) {
          setProblem(error.message)
          setFinished(true)
          return
        }
      }
      timer = setTimeout(tick, POLL_MS)
    }
    void tick()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [])

  useEffect(() => {
    if (link?.state !== 'CONNECTED' || !link.returnUrl || !isHttpUrl(link.returnUrl)) return
    const timer = setTimeout(() => window.location.replace(link.returnUrl), REDIRECT_AFTER_MS)
    return () => clearTimeout(timer)
  }, [link?.state, link?.returnUrl])

  if (!link) {
    return html`<h1>Connect your WhatsApp</h1>
      ${problem ? html`<p class="error" role="alert">${problem}</p>` : html`<p class="muted">Loading…</p>`}`
  }
  let step
  if (link.state === 'CONNECTED') step = html`<${Linked} link=${link} />`
  else if (finished) step = null
  else if (mode === 'code') {
    step = html`<${CodeStep}
      link=${link}
      busy=${busy}
      fieldError=${fieldError}
      onRequest=${(phone) => connect(phone)}
      onUseQr=${() => {
        setMode('qr')
        void connect()
      }}
    />`
  } else {
    step = html`<${QrStep}
      link=${link}
      busy=${busy}
      onNewQr=${() => connect()}
      onUseCode=${() => {
        setFieldError(null)
        setMode('code')
      }}
    />`
  }
  return html`<h1>Connect your WhatsApp</h1>
    <p class="link-names">
      <span class="muted">For </span><strong class="link-tenant">${link.tenantName}</strong>
      <span class="muted"> · number </span><span class="link-session">${link.sessionName}</span>
    </p>
    <p class="muted" role="status" aria-live="polite">${statusText(link)}</p>
    ${problem ? html`<p class="error" role="alert">${problem}</p>` : null}
    ${step}`
}

render(html`<${App} />`, document.getElementById('app'))
