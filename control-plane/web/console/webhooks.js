import { html, useCallback, useEffect, useState } from '/assets/vendor/preact-htm.js'
import { ApiError, describeError, query, recentEvents, runThenReload, shortTime } from './api.js'

const EVENT_TYPES = [
  'connection.update',
  'messages.upsert',
  'messages.update',
  'broadcast.progress',
  'broadcast.completed',
]

/** Asks for a redelivery, says how many went back in the queue, and reloads the list. */
function requeue(api, path, body, { load, setNotice, setError }) {
  return runThenReload(
    async () => {
      const { redelivered } = await api.post(path, body)
      setNotice(`${redelivered} queued again.`)
    },
    { load, setError },
  )
}

/** Webhook settings: the default webhook and its deliveries (the events' own), and the endpoints. */
export function Webhooks({ api }) {
  return html`
    <${DefaultWebhook} api=${api} />
    <${DefaultDeliveries} api=${api} />
    <${Endpoints} api=${api} />
  `
}

function DefaultWebhook({ api }) {
  const [webhook, setWebhook] = useState(null)
  const [url, setUrl] = useState('')
  const [events, setEvents] = useState(null)
  const [showSecret, setShowSecret] = useState(false)
  const [notice, setNotice] = useState('')
  const [error, setError] = useState('')

  const show = (answer) => {
    setWebhook(answer)
    setUrl(answer?.url ?? '')
    setEvents(answer?.events ?? null)
  }
  useEffect(() => {
    api
      .get('/v1/webhook')
      .then(show)
      .catch((caught) =>
        caught instanceof ApiError && caught.status === 404 ? show(null) : setError(describeError(caught)),
      )
  }, [api])

  async function save(event) {
    event.preventDefault()
    setError('')
    try {
      show(await api.put('/v1/webhook', { url, events }))
      setNotice('Saved.')
    } catch (caught) {
      setError(describeError(caught))
    }
  }
  async function remove() {
    setError('')
    try {
      await api.del('/v1/webhook')
      show(null)
      setNotice('Removed.')
    } catch (caught) {
      setError(describeError(caught))
    }
  }
  const toggle = (type, on) => {
    const current = events ?? EVENT_TYPES
    const next = on ? [...new Set([...current, type])] : current.filter((item) => item !== type)
    setEvents(next.length === EVENT_TYPES.length ? null : next)
  }

  return html`
    <section class="panel" aria-labelledby="webhook-title">
      <h2 id="webhook-title">Default webhook</h2>
      <form onSubmit=${save}>
        <label for="webhook-url">URL</label>
        <input id="webhook-url" class="wide" type="url" required placeholder="https://example.com/wa" value=${url} onInput=${(event) => setUrl(event.target.value)} />
        <fieldset>
          <legend>Events</legend>
          ${EVENT_TYPES.map(
            (type) => html`<span class="check">
              <input type="checkbox" id=${`webhook-event-${type}`} checked=${(events ?? EVENT_TYPES).includes(type)} onChange=${(event) => toggle(type, event.target.checked)} />
              <label for=${`webhook-event-${type}`}>${type}</label>
            </span>`,
          )}
        </fieldset>
        <div class="row">
          <button type="submit">Save webhook</button>
          ${webhook && html`<button type="button" class="danger" onClick=${remove}>Remove webhook</button>`}
        </div>
      </form>
      ${
        webhook &&
        html`<p>
          Signing secret:
          ${showSecret ? html`<code>${webhook.secret}</code>` : html`<span class="muted">hidden</span>`}
          <button type="button" class="secondary" aria-pressed=${showSecret} onClick=${() => setShowSecret(!showSecret)}>${showSecret ? 'Hide' : 'Show'} secret</button>
        </p>`
      }
      ${notice && html`<p class="muted" role="status">${notice}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </section>
  `
}

/** The default webhook's recent deliveries: every event carries its own delivery status. */
function DefaultDeliveries({ api }) {
  const [events, setEvents] = useState([])
  const [partial, setPartial] = useState(false)
  const [error, setError] = useState('')
  const [notice, setNotice] = useState('')
  const load = useCallback(
    () =>
      recentEvents(api, {}, 20)
        .then(({ events: recent, complete }) => {
          setEvents(recent.reverse())
          setPartial(!complete)
        })
        .catch((caught) => setError(describeError(caught))),
    [api],
  )
  useEffect(() => {
    load()
  }, [load])

  const redeliver = (path, body) => requeue(api, path, body, { load, setNotice, setError })

  return html`
    <section aria-labelledby="deliveries-title">
      <h2 id="deliveries-title">Recent events and their delivery</h2>
      <div class="row">
        <button class="secondary" onClick=${load}>Refresh</button>
        <button onClick=${() => redeliver('/v1/events/redeliver', { status: 'dead' })}>Redeliver every dead-lettered event</button>
      </div>
      ${notice && html`<p class="muted" role="status">${notice}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${partial && html`<p class="muted">The event history is long: these are the last of the first 5,000 events.</p>`}
      <div class="table-wrap">
        <table>
          <thead><tr><th>Time</th><th>Type</th><th>Session</th><th>Delivery</th><th>Attempts</th><th>Last error</th><th></th></tr></thead>
          <tbody>
            ${events.map(
              (event) => html`<tr>
                <td>${shortTime(event.occurredAt)}</td>
                <td>${event.type}</td>
                <td><small>${event.sessionId}</small></td>
                <td><span class=${`badge delivery-${event.delivery.status}`}>${event.delivery.status}</span></td>
                <td>${event.delivery.attempts}</td>
                <td>${event.delivery.lastError ?? ''}</td>
                <td>${
                  (event.delivery.status === 'dead' || event.delivery.status === 'delivered') &&
                  html`<button class="secondary" aria-label=${`Redeliver ${event.id}`} onClick=${() => redeliver(`/v1/events/${event.id}/redeliver`)}>Redeliver</button>`
                }</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </section>
  `
}

function Endpoints({ api }) {
  const [endpoints, setEndpoints] = useState([])
  const [url, setUrl] = useState('')
  const [open, setOpen] = useState('')
  const [result, setResult] = useState('')
  const [error, setError] = useState('')
  const load = useCallback(
    () =>
      api
        .get('/v1/webhooks?limit=200')
        .then((page) => setEndpoints(page.data))
        .catch((caught) => setError(describeError(caught))),
    [api],
  )
  useEffect(() => {
    load()
  }, [load])

  const run = (action) => runThenReload(action, { load, setError, clear: () => setResult('') })
  const path = (endpoint) => `/v1/webhooks/${encodeURIComponent(endpoint.id)}`

  return html`
    <section aria-labelledby="endpoints-title">
      <h2 id="endpoints-title">Webhook endpoints</h2>
      <form class="row panel" onSubmit=${(event) => {
        event.preventDefault()
        run(async () => {
          const created = await api.post('/v1/webhooks', { url })
          setUrl('')
          setResult(`Endpoint ${created.id} created; its signing secret is ${created.secret}`)
        })
      }}>
        <label for="endpoint-url">New endpoint URL</label>
        <input id="endpoint-url" class="wide" type="url" required value=${url} onInput=${(event) => setUrl(event.target.value)} />
        <button type="submit">Add endpoint</button>
      </form>
      ${result && html`<p role="status">${result}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <div class="table-wrap">
        <table>
          <thead><tr><th>URL</th><th>Events</th><th>Enabled</th><th>Actions</th></tr></thead>
          <tbody>
            ${endpoints.map(
              (endpoint) => html`<tr>
                <td>${endpoint.url}<br /><small class="muted">${endpoint.id}</small></td>
                <td>${endpoint.events?.join(', ') ?? 'all'}</td>
                <td>${endpoint.enabled ? 'yes' : 'no'}</td>
                <td><div class="row">
                  <button class="secondary" aria-label=${`${endpoint.enabled ? 'Disable' : 'Enable'} ${endpoint.url}`} onClick=${() => run(() => api.patch(path(endpoint), { enabled: !endpoint.enabled }))}>${endpoint.enabled ? 'Disable' : 'Enable'}</button>
                  <button class="secondary" aria-label=${`Test ${endpoint.url}`} onClick=${() =>
                    run(async () => {
                      const test = await api.post(`${path(endpoint)}/test`)
                      setResult(
                        test.delivered
                          ? `Test delivered (HTTP ${test.status}).`
                          : `Test failed: ${test.reason}.`,
                      )
                    })}>Test</button>
                  <button class="secondary" aria-expanded=${open === endpoint.id} aria-label=${`Deliveries of ${endpoint.url}`} onClick=${() => setOpen(open === endpoint.id ? '' : endpoint.id)}>Deliveries</button>
                  <button class="danger" aria-label=${`Delete ${endpoint.url}`} onClick=${() => run(() => api.del(path(endpoint)))}>Delete</button>
                </div></td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${endpoints.length === 0 && html`<p class="muted">No endpoints.</p>`}
      ${open && html`<${EndpointDeliveries} api=${api} endpointId=${open} />`}
    </section>
  `
}

function EndpointDeliveries({ api, endpointId }) {
  const [status, setStatus] = useState('')
  const [deliveries, setDeliveries] = useState([])
  const [notice, setNotice] = useState('')
  const [error, setError] = useState('')
  const base = `/v1/webhooks/${encodeURIComponent(endpointId)}`
  const load = useCallback(
    () =>
      api
        .get(`${base}/deliveries${query({ status, limit: 50 })}`)
        .then((page) => setDeliveries(page.data))
        .catch((caught) => setError(describeError(caught))),
    [api, base, status],
  )
  useEffect(() => {
    load()
  }, [load])

  const redeliver = (path, body) => requeue(api, path, body, { load, setNotice, setError })

  return html`
    <section class="panel" aria-labelledby="endpoint-deliveries-title">
      <h3 id="endpoint-deliveries-title">Deliveries of ${endpointId}</h3>
      <div class="row">
        <label for="delivery-status">Status</label>
        <select id="delivery-status" value=${status} onChange=${(event) => setStatus(event.target.value)}>
          <option value="">all</option>
          <option value="pending">pending</option>
          <option value="delivered">delivered</option>
          <option value="dead">dead (failed)</option>
        </select>
        <button onClick=${() => redeliver(`${base}/redeliver`, { status: 'dead' })}>Redeliver every dead one</button>
      </div>
      ${notice && html`<p class="muted" role="status">${notice}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <div class="table-wrap">
        <table>
          <thead><tr><th>Event</th><th>Type</th><th>Status</th><th>Attempts</th><th>Last error</th><th></th></tr></thead>
          <tbody>
            ${deliveries.map(
              (delivery) => html`<tr>
                <td><small>${delivery.eventId}</small></td>
                <td>${delivery.type}</td>
                <td><span class="badge">${delivery.status}</span></td>
                <td>${delivery.attempts}</td>
                <td>${delivery.lastError ?? ''}</td>
                <td>${
                  delivery.status !== 'pending' &&
                  html`<button class="secondary" aria-label=${`Redeliver ${delivery.eventId}`} onClick=${() => redeliver(`${base}/deliveries/${delivery.eventId}/redeliver`)}>Redeliver</button>`
                }</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </section>
  `
}
