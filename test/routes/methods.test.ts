import { METHODS } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sign } from '../../src/crypto/signature.js'
import { build, type TestServer } from '../helper.js'
import { detailOf, rawRequest, requestText } from './raw-http.js'

let server: TestServer
let nextUser = 8_300_000_000
const user = (): number => ++nextUser

beforeAll(async () => {
  server = await build()
})
afterAll(async () => server.close())

/** The signature of an empty body: what Fastify's automatic HEAD routes used to accept on every path. */
const EMPTY_BODY_SIGNATURE = sign('lainapi.gay', '')

async function answeredRequest (): Promise<string> {
  const created = await server.post('/requestClient', { requester_id: user(), target_id: user() })
  const { request_id: requestId } = (await created.json()) as { request_id: string }
  expect((await server.post('/submitTaskResult', { request_id: requestId, client_name: 'com.exteragram.messenger' })).status).toBe(200)
  return requestId
}

describe('HEAD on signed routes', () => {
  it('neither answers nor consumes a result, with the empty-body signature or the path one', async () => {
    const requestId = await answeredRequest()
    const path = `/getRequestResult/${requestId}`
    for (const signature of [EMPTY_BODY_SIGNATURE, sign(server.key, path), '0'.repeat(64)]) {
      const res = await rawRequest(server.url, requestText('HEAD', path, { 'x-signature': signature }))
      expect(res.status, res.text).toBe(405)
      expect(res.headers.allow).toBe('GET')
    }
    // The answer is still there for the one who asked.
    expect(await (await server.get(path)).json()).toEqual({ status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger' })
  })

  it('cannot hold a long-poll', async () => {
    const res = await rawRequest(server.url, requestText('HEAD', `/getTasks/${user()}?wait=30`, { 'x-signature': EMPTY_BODY_SIGNATURE }), 5000)
    expect(res.status, res.text).toBe(405)
    expect(server.app.relay.heldPolls()).toBe(0)
  })
})

describe('every method on every route', () => {
  interface Route { path: string, methods: string[], signed: boolean }

  /** The routes as the API description lists them, plus the description itself. */
  async function routes (): Promise<Route[]> {
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> }
    const listed = Object.entries(spec.paths).map(([template, operations]) => ({
      path: template.replace('{user_id}', '5').replace('{request_id}', 'some-id'),
      methods: Object.keys(operations).map((m) => m.toUpperCase()),
      signed: Object.values(operations).some((op) => (op.security ?? []).length > 0)
    }))
    expect(listed.filter((r) => r.signed).map((r) => r.path).sort()).toEqual(['/getRequestResult/some-id', '/getTasks/5', '/requestClient', '/submitTaskResult'])
    return [...listed, { path: '/openapi.json', methods: ['GET'], signed: false }, { path: '/docs', methods: ['GET'], signed: false }]
  }

  it('answers only the methods each route is for; every other gets a {"detail"} refusal and changes nothing', async () => {
    const requestId = await answeredRequest()
    const all = await routes()
    const refused: string[] = []
    // CONNECT is not a request for a path; it has its own test with the malformed requests.
    for (const method of METHODS.filter((m) => m !== 'CONNECT')) {
      for (const route of all) {
        const allowed = route.signed ? route.methods : [...route.methods, ...(route.methods.includes('GET') ? ['HEAD'] : [])]
        if (allowed.includes(method)) continue
        for (const signature of [EMPTY_BODY_SIGNATURE, sign(server.key, route.path)]) {
          // QUERY without a Content-Type is refused before routing (400, RFC 10008): give it one.
          const headers = { 'x-signature': signature, ...(method === 'QUERY' ? { 'content-type': 'application/json' } : {}) }
          const res = await rawRequest(server.url, requestText(method, route.path, headers), 5000)
          expect(res.status, `${method} ${route.path}: ${res.text}`).toBe(405)
          expect(res.headers.allow, `${method} ${route.path}`).toBe(allowed.join(', '))
          if (method !== 'HEAD') expect(detailOf(res), `${method} ${route.path}`).toMatch(/^Method not allowed/)
          refused.push(`${method} ${route.path}`)
        }
      }
    }
    expect(refused.length).toBeGreaterThan(200)
    expect(server.app.relay.heldPolls()).toBe(0)
    expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toMatchObject({ status: 'completed' })
  })

  it('serves HEAD on the unsigned operator routes', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const res = await rawRequest(server.url, requestText('HEAD', path))
      expect(res.status, path).toBe(200)
      expect(res.body).toBe('')
    }
  })

  it('404 with {"detail"} for a path no route has', async () => {
    for (const method of ['GET', 'POST', 'DELETE', 'HEAD']) {
      const res = await rawRequest(server.url, requestText(method, '/nope/12345'))
      expect(res.status, method).toBe(404)
      if (method !== 'HEAD') expect(detailOf(res)).toBe('Not Found')
    }
  })
})
