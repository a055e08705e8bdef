import { beforeAll, describe, expect, it } from 'vitest'
import { sign } from '../../src/crypto/signature.js'
import { build, callAgainWhileClosing, detailOf, rawRequest, ReplyGate, requestText, type TestServer } from '../helper.js'

let server: TestServer

beforeAll(async () => {
  server = await build({}, { requestTimeoutMs: 1000 })
})

/** Sends `bytes`, expects `status` and a {"detail"} string matching `detail`. */
async function refused (bytes: string | Buffer, status: number, detail: RegExp): Promise<void> {
  const res = await rawRequest(server.url, bytes)
  expect(res.status, res.text).toBe(status)
  expect(detailOf(res), res.text).toMatch(detail)
}

describe('malformed HTTP gets a {"detail"} answer with a true message', () => {
  it('400 for Content-Length together with Transfer-Encoding', async () => {
    const body = '{"requester_id": 1, "target_id": 2}'
    await refused(requestText('POST', '/requestClient', { 'content-type': 'application/json', 'content-length': String(body.length), 'transfer-encoding': 'chunked', 'x-signature': sign(server.key, body) }, `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
      400, /Content-Length and Transfer-Encoding/)
  })

  it('400 for a method HTTP does not know', async () => {
    await refused('FOO /getTasks/1 HTTP/1.1\r\nHost: x\r\n\r\n', 400, /method/i)
    await refused('\u0000\u0001 / HTTP/1.1\r\n\r\n', 400, /method/i)
  })

  it('400 for lines ended by a bare LF', async () => {
    await refused('GET /healthz HTTP/1.1\nHost: x\n\n', 400, /CRLF/)
    await refused('GET /healthz HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n', 400, /CRLF|header/i)
  })

  it('400 for an HTTP version that is not 1.x', async () => {
    await refused('GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', 400, /version/i)
  })

  it('400 for a chunk size that is not hex', async () => {
    await refused(requestText('POST', '/requestClient', { 'transfer-encoding': 'chunked' }, 'zz\r\n\r\n'), 400, /chunk/i)
  })

  it('400 for HTTP/1.1 without Host', async () => {
    await refused('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', 400, /Host/)
  })

  it('408 for a request that does not arrive in time', async () => {
    const started = Date.now()
    const res = await rawRequest(server.url, 'POST /requestClient HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{"requester_id"', 10_000)
    expect(res.status, res.text).toBe(408)
    expect(detailOf(res)).toMatch(/in time/)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  })

  it('431 for headers over the limit, and for a request line over it', async () => {
    await refused(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, /too large/)
    await refused(`GET /getTasks/${'1'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, /too large/)
  })

  it('414 for a path segment over the router limit, saying so', async () => {
    const path = `/getRequestResult/${'r'.repeat(300)}`
    await refused(requestText('GET', path, { 'x-signature': sign(server.key, path) }), 414, /too long/)
  })

  it('405 for CONNECT', async () => {
    await refused('CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\n\r\n', 405, /CONNECT/)
  })

  it('417 for an expectation other than 100-continue', async () => {
    await refused(requestText('GET', '/healthz', { expect: 'something-else' }), 417, /100-continue/)
  })

  it('400 for a body with prototype keys, saying so', async () => {
    const body = '{"__proto__": {"x": 1}, "requester_id": 1, "target_id": 2}'
    const res = await rawRequest(server.url, requestText('POST', '/requestClient', { 'content-type': 'application/json', 'x-signature': sign(server.key, body) }, body))
    expect(res.status, res.text).toBe(400)
    expect(detailOf(res)).toBe('The body has a __proto__ key, which is refused.')
    // constructor.prototype is only a name here (nothing merges a body into an object): taken, as the field server took it.
    const other = '{"requester_id": 1, "target_id": 2, "constructor": {"prototype": {}}}'
    const taken = await rawRequest(server.url, requestText('POST', '/requestClient', { 'content-type': 'application/json', 'x-signature': sign(server.key, other) }, other))
    expect(taken.status, taken.text).toBe(200)
  })

  it('400 for malformed JSON, with or without Content-Type, without talking about content types', async () => {
    const body = '{"requester_id": 1,'
    for (const headers of [{}, { 'content-type': 'application/json' }] as Array<Record<string, string>>) {
      const res = await rawRequest(server.url, requestText('POST', '/requestClient', { ...headers, 'x-signature': sign(server.key, body) }, body))
      expect(res.status, res.text).toBe(400)
      expect(detailOf(res)).toBe('The body is not valid JSON.')
    }
  })

  it('reads an absolute-form request target by its path, and signs it over that path', async () => {
    const url = `${server.url}/getTasks/5`
    const byPath = await rawRequest(server.url, requestText('GET', url, { 'x-signature': sign(server.key, '/getTasks/5') }))
    expect(byPath.status, byPath.text).toBe(200)
    expect(JSON.parse(byPath.body)).toEqual({ tasks: [] })
    const byUrl = await rawRequest(server.url, requestText('GET', url, { 'x-signature': sign(server.key, url) }))
    expect(byUrl.status, byUrl.text).toBe(403)
    expect(detailOf(byUrl)).toBe('Invalid signature.')
    const withQuery = await rawRequest(server.url, requestText('GET', `http://example.org/getTasks/%35?wait=0`, { 'x-signature': sign(server.key, '/getTasks/5') }))
    expect(withQuery.status, withQuery.text).toBe(200)
  })

  it('503 {"detail"} with Retry-After for a call that arrives while the server closes', async () => {
    // One reply is held in flight, as a slow Redis would hold it: the server cannot finish closing meanwhile.
    const gate = new ReplyGate()
    const closing = await build({}, { beforeListen: (app) => gate.install(app) })
    const path = '/getTasks/77'
    // ?wait=0: through the routes, where the gate is (a plain idle poll is answered in front of them).
    const request = requestText('GET', `${path}?wait=0`, { 'x-signature': sign(closing.key, path), connection: 'keep-alive' })
    // The second call on the connection is read after closing began.
    const { first, second, received } = await callAgainWhileClosing(closing, gate, request)
    expect(first.status, received).toBe(200)
    expect(second.status, received).toBe(503)
    expect(second.headers['retry-after']).toBe('1')
    expect(JSON.parse(second.body)).toEqual({ detail: 'The server is shutting down; try again later.' })
  })
})
