import { describe, expect, it } from 'vitest'
import { createClient } from '../../src/index.js'

/** A fetch that records the request and answers with `body`. */
function recordingFetch(status: number, body: unknown) {
  const requests: Request[] = []
  const fetch = async (request: Request) => {
    requests.push(request)
    return new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
    })
  }
  return { requests, fetch }
}

describe('createClient', () => {
  it('sends the API key as a bearer token to the path under baseUrl, with the JSON body', async () => {
    const session = { id: 'ses_1', name: 'front desk', state: 'DISCONNECTED' }
    const { requests, fetch } = recordingFetch(201, session)
    const client = createClient({ baseUrl: 'http://api.test:8080/', apiKey: 'wak_secret', fetch })
    const { data, error, response } = await client.POST('/v1/sessions', { body: { name: 'front desk' } })
    expect(response.status).toBe(201)
    expect(error).toBeUndefined()
    expect(data).toEqual(session)
    const [request] = requests
    expect(request?.url).toBe('http://api.test:8080/v1/sessions')
    expect(request?.method).toBe('POST')
    expect(request?.headers.get('authorization')).toBe('Bearer wak_secret')
    expect(await request?.json()).toEqual({ name: 'front desk' })
  })

  it('fills path parameters and answers the error body as `error`', async () => {
    const body = { error: { code: 'not_found', message: 'session not found', requestId: 'req_1' } }
    const { requests, fetch } = recordingFetch(404, body)
    const client = createClient({ baseUrl: 'http://api.test', apiKey: 'wak_secret', fetch })
    const { data, error, response } = await client.GET('/v1/sessions/{sessionId}', {
      params: { path: { sessionId: 'ses_abc' } },
    })
    expect(response.status).toBe(404)
    expect(data).toBeUndefined()
    expect(error?.error.code).toBe('not_found')
    expect(requests[0]?.url).toBe('http://api.test/v1/sessions/ses_abc')
  })

  it('sends no Authorization header without a key (public endpoints)', async () => {
    const { requests, fetch } = recordingFetch(200, { status: 'ok' })
    const { data } = await createClient({ baseUrl: 'http://api.test', fetch }).GET('/health')
    expect(data).toEqual({ status: 'ok' })
    expect(requests[0]?.headers.has('authorization')).toBe(false)
  })
})
