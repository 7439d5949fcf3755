import { html, useCallback, useEffect, useRef, useState } from '/assets/vendor/preact-htm.js'
import { ago, describeError, runThenReload, shortTime } from './api.js'
import { StateBadge } from './tenant.js'

/** Nodes are polled: the event stream is per tenant, and a drain's progress is the nodes' counts. */
const NODES_POLL_MS = 2000

/** Sessions listed under an opened node (the newest; the node's count says how many there are). */
const NODE_SESSIONS_SHOWN = 200

/**
 * The operator's console: nodes with their sessions (drain, activate, rebalance), tenants with their
 * limits and keys, and the dead letters of every tenant.
 */
export function OperatorConsole({ api }) {
  const [tab, setTab] = useState('nodes')
  const tabs = [
    ['nodes', 'Nodes'],
    ['tenants', 'Tenants'],
    ['dead-letters', 'Dead letters'],
  ]
  return html`
    <nav class="tabs" role="tablist" aria-label="Console sections">
      ${tabs.map(
        ([id, label]) =>
          html`<button role="tab" aria-selected=${tab === id} aria-controls=${`tab-${id}`} id=${`tab-button-${id}`} onClick=${() => setTab(id)}>${label}</button>`,
      )}
    </nav>
    <div role="tabpanel" id=${`tab-${tab}`} aria-labelledby=${`tab-button-${tab}`}>
      ${tab === 'nodes' && html`<${Nodes} api=${api} />`}
      ${tab === 'tenants' && html`<${Tenants} api=${api} />`}
      ${tab === 'dead-letters' && html`<${DeadLetters} api=${api} />`}
    </div>
  `
}

function Nodes({ api }) {
  const [nodes, setNodes] = useState([])
  const [now, setNow] = useState(Date.now())
  const [confirming, setConfirming] = useState('')
  const [plan, setPlan] = useState(null)
  const [notice, setNotice] = useState('')
  const [error, setError] = useState('')
  /** Nodes whose sessions are shown; the poll reads it through the ref. */
  const [openNodes, setOpenNodes] = useState([])
  const openNodesRef = useRef([])
  const [sessionsOf, setSessionsOf] = useState({})

  const loadSessions = useCallback(
    async (nodeIds) => {
      const pages = await Promise.all(
        nodeIds.map((nodeId) =>
          api.get(`/v1/nodes/${encodeURIComponent(nodeId)}/sessions?limit=${NODE_SESSIONS_SHOWN}`),
        ),
      )
      setSessionsOf((current) => ({
        ...current,
        ...Object.fromEntries(nodeIds.map((nodeId, index) => [nodeId, pages[index]])),
      }))
    },
    [api],
  )
  const load = useCallback(async () => {
    try {
      setNodes((await api.get('/v1/nodes?limit=200')).data)
      await loadSessions(openNodesRef.current)
      setNow(Date.now())
    } catch (caught) {
      setError(describeError(caught))
    }
  }, [api, loadSessions])
  function toggleSessions(nodeId) {
    const open = openNodesRef.current.includes(nodeId)
    openNodesRef.current = open
      ? openNodesRef.current.filter((id) => id !== nodeId)
      : [...openNodesRef.current, nodeId]
    setOpenNodes(openNodesRef.current)
    if (!open) loadSessions([nodeId]).catch((caught) => setError(describeError(caught)))
  }
  useEffect(() => {
    load()
    const timer = setInterval(load, NODES_POLL_MS)
    return () => clearInterval(timer)
  }, [load])

  const run = (action) => runThenReload(action, { load, setError, clear: () => setNotice('') })
  const drain = (node) =>
    run(async () => {
      setConfirming('')
      setPlan(null)
      const result = await api.post(`/v1/nodes/${encodeURIComponent(node.id)}/drain`)
      setNotice(
        `Draining ${node.id}: ${result.sessionsToMove} ${result.sessionsToMove === 1 ? 'session' : 'sessions'} to move.`,
      )
    })
  const activate = (node) =>
    run(async () => {
      setPlan(null)
      await api.post(`/v1/nodes/${encodeURIComponent(node.id)}/activate`)
      setNotice(`${node.id} takes new sessions again.`)
    })

  return html`
    <section aria-labelledby="nodes-title">
      <h2 id="nodes-title">Session nodes</h2>
      ${notice && html`<p role="status">${notice}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${
        confirming &&
        html`<div class="panel confirm" role="alertdialog" aria-labelledby="confirm-text">
          <p id="confirm-text">
            Drain <strong>${confirming}</strong>? It takes no new sessions and hands its sessions over to
            the other nodes, a few at a time, without a new QR.
          </p>
          <div class="row">
            <button class="danger" onClick=${() => drain(nodes.find((node) => node.id === confirming))}>Yes, drain ${confirming}</button>
            <button class="secondary" onClick=${() => setConfirming('')}>Cancel</button>
          </div>
        </div>`
      }
      <div class="table-wrap">
        <table class="nodes">
          <thead><tr><th>Node</th><th>Status</th><th>Sessions</th><th>Load</th><th>Heartbeat</th><th>Actions</th></tr></thead>
          <tbody>
            ${nodes.map(
              (node) => html`<tr data-node-id=${node.id}>
                <td>${node.id}<br /><small class="muted">since ${ago(node.startedAt, now)}</small></td>
                <td><span class=${`badge node-${node.status}`}>${node.status}</span></td>
                <td><span class="node-sessions">${node.sessions}</span> / ${node.capacity}</td>
                <td><meter min="0" max=${node.capacity} value=${node.sessions} aria-label=${`Load of ${node.id}`}></meter> ${Math.round((100 * node.sessions) / Math.max(1, node.capacity))}%</td>
                <td>${ago(node.lastHeartbeatAt, now)}</td>
                <td><div class="row">
                  ${node.status === 'active' && html`<button class="danger" aria-label=${`Drain ${node.id}`} onClick=${() => setConfirming(node.id)}>Drain</button>`}
                  ${node.status === 'draining' && html`<span class="muted">${node.sessions > 0 ? `${node.sessions} left to move` : 'empty'}</span> <button aria-label=${`Activate ${node.id}`} onClick=${() => activate(node)}>Activate</button>`}
                  <button class="secondary" aria-expanded=${openNodes.includes(node.id)} aria-label=${`Sessions on ${node.id}`} onClick=${() => toggleSessions(node.id)}>Sessions</button>
                </div></td>
              </tr>
              ${
                openNodes.includes(node.id) &&
                html`<tr class="node-sessions-row" data-sessions-of=${node.id}>
                  <td colspan="6"><${NodeSessions} node=${node} page=${sessionsOf[node.id]} now=${now} /></td>
                </tr>`
              }`,
            )}
          </tbody>
        </table>
      </div>
      <p class="muted">Sessions, heartbeats and the opened session lists refresh every ${NODES_POLL_MS / 1000} s.</p>
    </section>
    <section class="panel" aria-labelledby="rebalance-title">
      <h2 id="rebalance-title">Rebalance</h2>
      <p class="muted">Plans the fewest moves that even the load over the active nodes; nothing moves until you apply it.</p>
      <div class="row">
        <button class="secondary" onClick=${() => run(async () => setPlan(await api.post('/v1/rebalance', { dryRun: true })))}>Plan rebalance</button>
        ${
          plan?.dryRun &&
          plan.moves.length > 0 &&
          html`<button onClick=${() =>
            run(async () => {
              const applied = await api.post('/v1/rebalance', {})
              setPlan(applied)
              setNotice(
                `Rebalance started: ${applied.moves.length} ${applied.moves.length === 1 ? 'move' : 'moves'}; the counts above follow it.`,
              )
            })}>Apply plan</button>`
        }
      </div>
      ${plan && html`<${RebalancePlan} plan=${plan} />`}
    </section>
  `
}

/** The sessions assigned to one node, of every tenant, newest first. */
function NodeSessions({ node, page, now }) {
  if (!page) return html`<p class="muted">Loading the sessions on ${node.id}…</p>`
  if (page.data.length === 0) return html`<p class="muted">No sessions on ${node.id}.</p>`
  return html`
    <table class="node-session-list" aria-label=${`Sessions on ${node.id}`}>
      <thead><tr><th>Session</th><th>Tenant</th><th>State</th><th>Phone</th><th>Updated</th></tr></thead>
      <tbody>
        ${page.data.map(
          (session) => html`<tr data-node-session-id=${session.id}>
            <td><span class="session-name">${session.name}</span><br /><small class="muted">${session.id}</small></td>
            <td><span class="tenant-name">${session.tenantName}</span><br /><small class="muted">${session.tenantId}</small></td>
            <td><${StateBadge} state=${session.state} /></td>
            <td>${session.phone ?? ''}</td>
            <td>${ago(session.updatedAt, now)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${page.nextCursor && html`<p class="muted">The newest ${page.data.length} of ${node.sessions} sessions are shown.</p>`}
  `
}

function RebalancePlan({ plan }) {
  const nodeIds = [...new Set([...Object.keys(plan.before), ...Object.keys(plan.after)])].sort()
  return html`
    <p>${plan.dryRun ? 'Plan' : 'Applied'}: ${plan.moves.length === 0 ? 'the load is already even, nothing to move.' : `${plan.moves.length} ${plan.moves.length === 1 ? 'move' : 'moves'}.`}</p>
    <div class="table-wrap">
      <table class="rebalance-counts">
        <thead><tr><th>Node</th><th>Before</th><th>After</th></tr></thead>
        <tbody>${nodeIds.map((id) => html`<tr><td>${id}</td><td>${plan.before[id] ?? 0}</td><td>${plan.after[id] ?? 0}</td></tr>`)}</tbody>
      </table>
    </div>
    ${
      plan.moves.length > 0 &&
      html`<div class="table-wrap">
        <table class="rebalance-moves">
          <thead><tr><th>Session</th><th>From</th><th>To</th></tr></thead>
          <tbody>${plan.moves.map((move) => html`<tr><td>${move.sessionId}</td><td>${move.from}</td><td>${move.to}</td></tr>`)}</tbody>
        </table>
      </div>`
    }
  `
}

function Tenants({ api }) {
  const [tenants, setTenants] = useState([])
  const [name, setName] = useState('')
  const [keysOf, setKeysOf] = useState('')
  const [created, setCreated] = useState('')
  const [error, setError] = useState('')

  const load = useCallback(async () => {
    try {
      const page = await api.get('/v1/tenants?limit=200')
      // The list has no usage; each tenant's detail has it.
      setTenants(
        await Promise.all(
          page.data.map((tenant) =>
            api.get(`/v1/tenants/${encodeURIComponent(tenant.id)}`).catch(() => tenant),
          ),
        ),
      )
    } catch (caught) {
      setError(describeError(caught))
    }
  }, [api])
  useEffect(() => {
    load()
  }, [load])

  async function create(event) {
    event.preventDefault()
    setError('')
    try {
      const tenant = await api.post('/v1/tenants', { name })
      setName('')
      setCreated(`Tenant ${tenant.name} created. Its key, shown once: ${tenant.apiKey}`)
      await load()
    } catch (caught) {
      setError(describeError(caught))
    }
  }

  return html`
    <section aria-labelledby="tenants-title">
      <h2 id="tenants-title">Tenants</h2>
      <form class="row panel" onSubmit=${create}>
        <label for="new-tenant-name">New tenant name</label>
        <input id="new-tenant-name" required maxlength="200" value=${name} onInput=${(event) => setName(event.target.value)} />
        <button type="submit">Create tenant</button>
      </form>
      ${created && html`<p role="status" class="secret-note">${created}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <div class="table-wrap">
        <table class="tenants">
          <thead><tr><th>Tenant</th><th>Status</th><th>Sessions</th><th>Requests/min</th><th>Msgs/min/session</th><th>Msgs/day</th><th></th></tr></thead>
          <tbody>
            ${tenants.map(
              (tenant) => html`<tr data-tenant-id=${tenant.id}>
                <td>${tenant.name}<br /><small class="muted">${tenant.id}</small></td>
                <td><span class="badge">${tenant.status}</span></td>
                <td>${tenant.usage?.sessions ?? '?'} / ${tenant.limits.sessions}</td>
                <td>${tenant.limits.requestsPerMinute}</td>
                <td>${tenant.limits.messagesPerMinutePerSession}</td>
                <td>${tenant.limits.messagesPerDay ?? 'no quota'}</td>
                <td><button class="secondary" aria-expanded=${keysOf === tenant.id} aria-label=${`API keys of ${tenant.name}`} onClick=${() => setKeysOf(keysOf === tenant.id ? '' : tenant.id)}>Keys</button></td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${keysOf && html`<${TenantKeys} api=${api} tenant=${tenants.find((tenant) => tenant.id === keysOf)} />`}
    </section>
  `
}

function TenantKeys({ api, tenant }) {
  const [keys, setKeys] = useState([])
  const [name, setName] = useState('')
  const [created, setCreated] = useState('')
  const [error, setError] = useState('')
  const base = `/v1/tenants/${encodeURIComponent(tenant.id)}/api-keys`
  const load = useCallback(
    () =>
      api
        .get(`${base}?limit=200`)
        .then((page) => setKeys(page.data))
        .catch((caught) => setError(describeError(caught))),
    [api, base],
  )
  useEffect(() => {
    load()
  }, [load])

  const run = (action) => runThenReload(action, { load, setError })

  return html`
    <section class="panel" aria-labelledby="keys-title">
      <h3 id="keys-title">API keys of <span>${tenant.name}</span></h3>
      <form class="row" onSubmit=${(event) => {
        event.preventDefault()
        run(async () => {
          const key = await api.post(base, name ? { name } : {})
          setName('')
          setCreated(`Key created, shown once: ${key.apiKey}`)
        })
      }}>
        <label for="new-key-name">New key name</label>
        <input id="new-key-name" maxlength="200" value=${name} onInput=${(event) => setName(event.target.value)} />
        <button type="submit">Create key</button>
      </form>
      ${created && html`<p role="status" class="secret-note">${created}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <div class="table-wrap">
        <table>
          <thead><tr><th>Name</th><th>Prefix</th><th>Created</th><th>Revoked</th><th></th></tr></thead>
          <tbody>
            ${keys.map(
              (key) => html`<tr>
                <td>${key.name ?? ''}</td>
                <td><code>${key.prefix}…</code></td>
                <td>${new Date(key.createdAt).toLocaleString()}</td>
                <td>${key.revokedAt ? new Date(key.revokedAt).toLocaleString() : ''}</td>
                <td>${!key.revokedAt && html`<button class="danger" aria-label=${`Revoke key ${key.prefix}`} onClick=${() => run(() => api.del(`${base}/${encodeURIComponent(key.id)}`))}>Revoke</button>`}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </section>
  `
}

/** Dead letters per page; "Show more" reads the next page. */
const DEAD_LETTERS_PAGE = 100

/**
 * The dead letters of every tenant (deliveries that used up their attempts), newest first, grouped by
 * tenant: redeliver one event, or every dead letter of a tenant. Read when opened and after each
 * redelivery (a listing that scans the dead rows is not polled).
 */
function DeadLetters({ api }) {
  const [items, setItems] = useState([])
  const [nextCursor, setNextCursor] = useState(null)
  const [loaded, setLoaded] = useState(false)
  const [notice, setNotice] = useState('')
  const [error, setError] = useState('')

  const load = useCallback(async () => {
    try {
      const page = await api.get(`/v1/dead-letters?limit=${DEAD_LETTERS_PAGE}`)
      setItems(page.data)
      setNextCursor(page.nextCursor)
      setLoaded(true)
    } catch (caught) {
      setError(describeError(caught))
    }
  }, [api])
  useEffect(() => {
    load()
  }, [load])

  const run = (action) => runThenReload(action, { load, setError, clear: () => setNotice('') })
  const redeliver = (body, what) =>
    run(async () => {
      const { redelivered } = await api.post('/v1/dead-letters/redeliver', body)
      setNotice(`${what}: ${redelivered} ${redelivered === 1 ? 'delivery' : 'deliveries'} queued again.`)
    })
  const showMore = () =>
    run(async () => {
      const page = await api.get(
        `/v1/dead-letters?limit=${DEAD_LETTERS_PAGE}&after=${encodeURIComponent(nextCursor)}`,
      )
      setItems((current) => [...current, ...page.data])
      setNextCursor(page.nextCursor)
    })

  const tenants = []
  for (const item of items) {
    let group = tenants.find((tenant) => tenant.id === item.tenantId)
    if (!group) {
      group = { id: item.tenantId, name: item.tenantName, items: [] }
      tenants.push(group)
    }
    group.items.push(item)
  }

  return html`
    <section aria-labelledby="dead-letters-title">
      <h2 id="dead-letters-title">Dead letters</h2>
      <p class="muted">
        Deliveries that used up their attempts, newest first: <code>default</code> is the tenant's webhook,
        <code>whe_…</code> one of its endpoints. Redeliver queues every dead delivery of that event again
        once its receiver is fixed.
      </p>
      <div class="row"><button class="secondary" onClick=${() => run(() => Promise.resolve())}>Refresh dead letters</button></div>
      ${notice && html`<p role="status">${notice}</p>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${loaded && items.length === 0 && html`<p class="muted">No dead letters.</p>`}
      ${tenants.map(
        (
          tenant,
        ) => html`<section class="panel" data-dead-letters-of=${tenant.id} aria-label=${`Dead letters of ${tenant.name}`}>
          <div class="row">
            <h3><span>${tenant.name}</span> <small class="muted">${tenant.id}</small></h3>
            <button class="danger" aria-label=${`Redeliver all dead letters of ${tenant.name}`} onClick=${() => redeliver({ tenantId: tenant.id }, `All of ${tenant.name}`)}>Redeliver all</button>
          </div>
          <div class="table-wrap">
            <table class="dead-letters">
              <thead><tr><th>Event</th><th>Session</th><th>Endpoint</th><th>Attempts</th><th>Last error</th><th>Occurred</th><th></th></tr></thead>
              <tbody>
                ${tenant.items.map(
                  (item) => html`<tr data-event-id=${item.eventId} data-endpoint=${item.endpoint}>
                    <td>${item.type}<br /><small class="muted">${item.eventId}</small></td>
                    <td><small>${item.sessionId}</small></td>
                    <td><code>${item.endpoint}</code></td>
                    <td>${item.attempts}</td>
                    <td>${item.lastError ?? ''}</td>
                    <td>${shortTime(item.occurredAt)}</td>
                    <td><button aria-label=${`Redeliver ${item.eventId} to ${item.endpoint}`} onClick=${() => redeliver({ tenantId: tenant.id, eventIds: [item.eventId] }, item.eventId)}>Redeliver</button></td>
                  </tr>`,
                )}
              </tbody>
            </table>
          </div>
        </section>`,
      )}
      ${nextCursor && html`<button class="secondary" onClick=${showMore}>Show more dead letters</button>`}
    </section>
  `
}
