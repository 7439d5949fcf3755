// The console's only way to the API: every call sends the key as `Authorization: Bearer` from this
// script. A cross-site form or link cannot set that header, which is why the console needs no
// CSRF token; the key is kept in sessionStorage (gone with the tab), never in a URL or a cookie.

const KEY_STORAGE = 'wa-cluster.console.key'

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE)
}

export function rememberKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key)
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE)
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error?.code ?? 'http_error'
  }
}

/** A small client bound to one key: `get(path)`, `post(path, body)`, `put`, `patch`, `del`. */
export function createApi(key) {
  async function request(method, path, body) {
    const headers = { authorization: `Bearer ${key}`, accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    })
    if (response.status === 204) return null
    const parsed = await response.json().catch(() => null)
    if (!response.ok) throw new ApiError(response.status, parsed)
    return parsed
  }
  return {
    get: (path) => request('GET', path),
    post: (path, body) => request('POST', path, body),
    put: (path, body) => request('PUT', path, body),
    patch: (path, body) => request('PATCH', path, body),
    del: (path) => request('DELETE', path),
  }
}

/**
 * `admin` or `tenant`, by what the key may call; an unknown key throws (401). The likely role is
 * asked first (tenant keys are `wak_…`, the generated admin key `wak_admin_…`), so a browser shows
 * no refused request for an ordinary sign-in.
 */
export async function roleOf(api, key) {
  const probes = { tenant: '/v1/sessions?limit=1', admin: '/v1/nodes?limit=1' }
  const tenantFirst = key.startsWith('wak_') && !key.startsWith('wak_admin_')
  const order = tenantFirst ? ['tenant', 'admin'] : ['admin', 'tenant']
  for (const role of order) {
    try {
      await api.get(probes[role])
      return role
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 403) || role === order[1]) throw error
    }
  }
}

/** A query string from the defined values of `params`. */
export function query(params) {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}

/**
 * The newest `keep` events matching `filter` (`sessionId`, `type`). `/v1/events` lists oldest first,
 * so this pages towards the end, reading at most `maxPages` pages of 200; `complete` is false when
 * it stopped before the end (the events it returns are then not the newest).
 */
export async function recentEvents(api, filter, keep = 100, maxPages = 25) {
  let events = []
  let after
  for (let page = 0; page < maxPages; page++) {
    const { data, nextCursor } = await api.get(`/v1/events${query({ ...filter, limit: 200, after })}`)
    events = events.concat(data).slice(-keep)
    if (!nextCursor) return { events, complete: true }
    after = nextCursor
  }
  return { events, complete: false }
}

/** "12 s ago", "3 min ago" for a timestamp; "never" for null. */
export function ago(timestamp, now = Date.now()) {
  if (!timestamp) return 'never'
  const seconds = Math.max(0, Math.round((now - Date.parse(timestamp)) / 1000))
  if (seconds < 90) return `${seconds} s ago`
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`
  return `${Math.round(seconds / 3600)} h ago`
}

export function shortTime(timestamp) {
  return timestamp ? new Date(timestamp).toLocaleTimeString() : ''
}

/** A message for the page from any thrown value. */
export function describeError(error) {
  return error instanceof ApiError ? `${error.message} (${error.code})` : String(error?.message ?? error)
}

/**
 * Runs what a button asks for, then reloads what it changed; a failure is shown instead. `clear`
 * runs first, with the error cleared, so the last notice does not stay beside the new outcome.
 */
export async function runThenReload(action, { load, setError, clear = () => {} }) {
  setError('')
  clear()
  try {
    await action()
    await load()
  } catch (caught) {
    setError(describeError(caught))
  }
}
