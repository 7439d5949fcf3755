import { html, render, useEffect, useState } from '/assets/vendor/preact-htm.js'
import { createApi, describeError, forgetKey, rememberKey, roleOf, storedKey } from './api.js'
import { OperatorConsole } from './operator.js'
import { TenantConsole } from './tenant.js'

// The console: one page for the operator (admin key) and for tenants (a tenant key). The key is
// asked for here, kept in sessionStorage for this tab only, and sent by api.js as a bearer header.

function SignIn({ onSignIn, error }) {
  const [key, setKey] = useState('')
  // The input has no `name`: even a submit without this script would put no key in a URL.
  return html`
    <form class="panel sign-in" onSubmit=${(event) => {
      event.preventDefault()
      onSignIn(key.trim())
    }}>
      <label for="api-key">API key (admin key or tenant key <code>wak_…</code>)</label>
      <input id="api-key" type="password" autocomplete="off" spellcheck="false" required value=${key} onInput=${(event) => setKey(event.target.value)} />
      <p class="muted">Kept in this tab only (session storage) and sent as a bearer header; never put in a URL or a cookie.</p>
      <button type="submit">Sign in</button>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>
  `
}

function Console() {
  const [session, setSession] = useState(null)
  const [error, setError] = useState('')
  const [checking, setChecking] = useState(false)

  async function signIn(key) {
    setChecking(true)
    setError('')
    try {
      const api = createApi(key)
      const role = await roleOf(api, key)
      rememberKey(key)
      setSession({ key, api, role })
    } catch (caught) {
      forgetKey()
      setError(`Sign-in failed: ${describeError(caught)}`)
    } finally {
      setChecking(false)
    }
  }
  function signOut() {
    forgetKey()
    setSession(null)
  }
  // A reload of the tab signs in again with the key kept for it.
  useEffect(() => {
    const key = storedKey()
    if (key) signIn(key)
  }, [])

  return html`
    <header class="console-header row">
      <h1>wa-cluster console</h1>
      ${
        session &&
        html`<span class="badge role" data-role=${session.role}>${session.role === 'admin' ? 'operator' : 'tenant'}</span>
          <button class="secondary sign-out" onClick=${signOut}>Sign out</button>`
      }
    </header>
    ${!session && !checking && html`<${SignIn} onSignIn=${signIn} error=${error} />`}
    ${checking && html`<p class="muted">Checking the key…</p>`}
    ${session?.role === 'admin' && html`<${OperatorConsole} api=${session.api} />`}
    ${session?.role === 'tenant' && html`<${TenantConsole} api=${session.api} apiKey=${session.key} />`}
  `
}

render(html`<${Console} />`, document.getElementById('app'))
