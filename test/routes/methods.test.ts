import { METHODS } from 'node:http'
import { beforeAll, describe, expect, it } from 'vitest'
import { sign } from '../../src/crypto/signature.js'
import { build, detailOf, rawRequest, requestText, SIGN_IN, userIds, V2User, type TestServer } from '../helper.js'

let server: TestServer
const user = userIds()
/** A signed-in user whose token goes with every request below, and one of their answered v2 requests. */
let asker: V2User
let v2RequestId: string

beforeAll(async () => {
  server = await build(SIGN_IN)
  asker = await V2User.signIn(server.url, user())
  const target = await V2User.signIn(server.url, user())
  v2RequestId = await asker.ask(target.userId)
  expect((await target.answer(v2RequestId, { package_name: 'com.exteragram.messenger' })).status).toBe(200)
})

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

describe('HEAD on the v2 calls that act as a user', () => {
  it('neither answers nor consumes a result, nor holds a poll, with a valid token', async () => {
    const authorization = `Bearer ${asker.token}`
    for (const [path, allow] of [[`/v2/requests/${v2RequestId}`, 'GET'], ['/v2/tasks?wait=30', 'GET'], [`/v2/requests/${v2RequestId}?wait=30`, 'GET']]) {
      const res = await rawRequest(server.url, requestText('HEAD', path as string, { authorization }), 5000)
      expect(res.status, res.text).toBe(405)
      expect(res.headers.allow).toBe(allow)
    }
    expect(server.app.relay.heldPolls()).toBe(0)
    expect(await asker.result(v2RequestId)).toEqual({ status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger', verified: true })
    // (Read now; the test below answers another one.)
    const target = await V2User.signIn(server.url, user())
    v2RequestId = await asker.ask(target.userId)
    expect((await target.answer(v2RequestId, { package_name: 'com.exteragram.messenger' })).status).toBe(200)
  })
})

describe('every method on every route', () => {
  interface Route { path: string, methods: string[], signed: boolean }

  /** The routes as the API description lists them, plus the description itself. */
  async function routes (): Promise<Route[]> {
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> }
    const listed = Object.entries(spec.paths).map(([template, operations]) => ({
      path: template.replace('{user_id}', '5').replace('{request_id}', template.startsWith('/v2/') ? v2RequestId : 'some-id'),
      methods: Object.keys(operations).map((m) => m.toUpperCase()),
      signed: Object.values(operations).some((op) => (op.security ?? []).length > 0)
    }))
    // The v1 calls carry a signature, the v2 ones a Bearer token: none answers HEAD.
    expect(listed.filter((r) => r.signed).map((r) => r.path).sort()).toEqual([
      '/getRequestResult/some-id', '/getTasks/5', '/requestClient', '/submitTaskResult',
      '/v2/answers', `/v2/requests/${v2RequestId}`, '/v2/requests', '/v2/tasks'
    ].sort())
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
          const headers = { 'x-signature': signature, authorization: `Bearer ${asker.token}`, ...(method === 'QUERY' ? { 'content-type': 'application/json' } : {}) }
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
    expect(await asker.result(v2RequestId)).toMatchObject({ status: 'completed', verified: true })
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

  it('404, not 405, for a file missing under a path that answers its method', async () => {
    const res = await rawRequest(server.url, requestText('GET', '/docs/static/no-such-file.js'))
    expect(res.status).toBe(404)
    expect(detailOf(res)).toBe('Not Found')
    expect((await rawRequest(server.url, requestText('POST', '/docs/static/no-such-file.js'))).status).toBe(405)
  })
})
