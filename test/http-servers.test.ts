/**
 * HOST=localhost: the app answers on each of its addresses as on app.server
 * (src/http-servers.ts). This machine's localhost may name one address only,
 * so most tests resolve it as most machines do, to two addresses: 127.0.0.2
 * stands in for ::1 (Linux answers on all of 127/8; other systems skip them).
 * The sockets are real.
 */
import { lookup } from 'node:dns/promises'
import { describe, expect, it, vi } from 'vitest'
import { sign } from '../src/crypto/signature.js'
import { listen, type LookupAll } from '../src/http-servers.js'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { build, closeWhenDone, detailOf, eventually, logLines, rawConnection, rawRequest, ReplyGate, requestText, signedClient, TEST_KEY, type TestBuildOptions, type TestServer } from './helper.js'

const SECOND = '127.0.0.2'
const twoAddresses: LookupAll = async () => [{ address: '127.0.0.1' }, { address: SECOND }]

/** The app listening on `localhost` resolved by `resolve` (its replies held by `gate`, if given), and the URL of its second address. */
async function onLocalhost (resolve: LookupAll = twoAddresses, gate?: ReplyGate, options: TestBuildOptions = {}): Promise<{ server: TestServer, second: string, routed: () => number }> {
  if (gate !== undefined) gate.armed = true
  let routed = 0
  const server = await build({}, {
    ...options,
    beforeListen: (app) => {
      // onSend: every reply the routes send passes here, none that the fast path sends.
      app.addHook('onSend', (_request, _reply, payload, done) => { routed++; done(null, payload) })
      gate?.install(app)
    },
    listen: async (app) => { await listen(app, 'localhost', 0, resolve) }
  })
  return { server, second: `http://${SECOND}:${new URL(server.url).port}`, routed: () => routed }
}

// 127.0.0.2 answers on Linux's loopback only.
const onLinux = it.skipIf(process.platform !== 'linux')

describe('HOST=localhost', () => {
  onLinux('answers on each of its addresses as on the first: polls (in front of the routes), CONNECT, Expect, unreadable requests', async () => {
    const { server, second, routed } = await onLocalhost()
    for (const url of [server.url, second]) {
      const poll = await signedClient(url, server.key).get('/getTasks/41')
      expect(poll.status, url).toBe(200)
      expect(await poll.json()).toEqual({ tasks: [] })
      expect(routed(), `${url}: the fast path answers an idle poll`).toBe(0)
      // Left to Node: the socket dropped, a 417 and a 400 with no body.
      const connect = await rawRequest(url, 'CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\n\r\n')
      expect(connect.status, `${url} ${connect.text}`).toBe(405)
      expect(detailOf(connect)).toMatch(/CONNECT/)
      const expectation = await rawRequest(url, requestText('GET', '/healthz', { expect: 'something-else' }))
      expect(expectation.status, url).toBe(417)
      expect(detailOf(expectation)).toMatch(/100-continue/)
      const unreadable = await rawRequest(url, 'GET /healthz HTTP/1.1\nHost: x\n\n')
      expect(unreadable.status, url).toBe(400)
      expect(detailOf(unreadable)).toMatch(/CRLF/)
    }
  })

  onLinux('has the same Node settings on each address: its Host check and its timeouts, with {detail}', async () => {
    const { server, second } = await onLocalhost(twoAddresses, undefined, { requestTimeoutMs: 500 })
    const [main, other] = server.app.httpServers.all
    expect(other).toBeDefined()
    // The ones the app sets (the others are Node's defaults on both).
    for (const setting of ['keepAliveTimeout', 'requestTimeout', 'headersTimeout'] as const) {
      expect(other?.[setting], setting).toBe(main?.[setting])
    }
    // requireHostHeader off, as on app.server: the app's own check answers, with {detail}.
    const hostless = await rawRequest(second, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n')
    expect(hostless.status).toBe(400)
    expect(detailOf(hostless)).toMatch(/Host/)
    const slow = rawConnection(second)
    slow.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
    const response = await slow.closed
    expect(response).toMatch(/^HTTP\/1\.1 408 /)
    expect(response).toMatch(/not received in time/)
  })

  onLinux('closes the other addresses with the app: idle connections at once, calls in flight once answered', async () => {
    const gate = new ReplyGate()
    const { server, second } = await onLocalhost(twoAddresses, gate)
    const relayClosed = vi.spyOn(server.app.relay, 'close')
    const signInsForgotten = vi.spyOn(server.app.identity.seenOnce, 'close')
    const idle = rawConnection(second)
    const call = rawConnection(second)
    // ?wait=0: through the routes, where the gate holds replies.
    call.write(requestText('GET', '/getTasks/42?wait=0', { 'x-signature': sign(server.key, '/getTasks/42'), connection: 'keep-alive' }))
    await eventually(() => gate.held > 0)
    let done = false
    const closed = server.close().then(() => { done = true })
    await eventually(() => server.logs.some((l) => l.includes('waiting for requests in flight')))
    // The app's close waits for it, as for a call on the first address: what it uses stays open until then.
    expect(done).toBe(false)
    expect(relayClosed).not.toHaveBeenCalled()
    expect(signInsForgotten).not.toHaveBeenCalled()
    expect(logLines(server)).toContainEqual(expect.objectContaining({ msg: 'shutting down', inFlight: 1, requestsCut: 0, connectionsClosed: 1 }))
    expect(await idle.closed).toBe('')
    gate.release()
    await closed
    // Answered, and told not to reuse its connection.
    expect(await call.closed).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\nconnection: close\r\n[\s\S]*\{"tasks":\[\]\}$/i)
    const after = await rawRequest(second, requestText('GET', '/healthz'))
    expect(after.status).toBe(0)
  })

  it('does not listen once a close began while localhost was looked up', async () => {
    const app = await buildApp(loadConfig({ API_SECRET_KEY: TEST_KEY, LOG_LEVEL: 'silent' }))
    let closing: Promise<void> | undefined
    closeWhenDone({ close: async () => { await (closing ??= app.close()) } })
    await listen(app, 'localhost', 0, async (host) => {
      await (closing ??= app.close())
      return await twoAddresses(host)
    })
    expect(app.server.listening).toBe(false)
    expect(app.httpServers.all).toHaveLength(1)
  })

  onLinux('serves on the addresses it can take, and says which it could not', async () => {
    // 192.0.2.1 (TEST-NET-1) is no address of this machine.
    const { server } = await onLocalhost(async () => [{ address: '127.0.0.1' }, { address: '192.0.2.1' }])
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    const port = new URL(server.url).port
    expect(logLines(server)).toContainEqual(expect.objectContaining({ level: 40, msg: `could not also listen at http://192.0.2.1:${port}` }))
  })

  it('with the machine\'s own resolver, answers on every address localhost has', async () => {
    const server = await build({}, { listen: async (app) => { await listen(app, 'localhost', 0) } })
    const port = new URL(server.url).port
    const skipped = (url: string): boolean => logLines(server).some((line) => line.msg === `could not also listen at ${url}`)
    for (const { address, family } of await lookup('localhost', { all: true })) {
      const url = `http://${family === 6 ? `[${address}]` : address}:${port}`
      // An address the machine names but cannot bind (::1 with IPv6 off) is skipped, and said so.
      if (skipped(url)) continue
      expect((await fetch(`${url}/healthz`)).status, url).toBe(200)
    }
  })

  it('any other host is listened on as Fastify does: its first address only', async () => {
    const server = await build({}, { listen: async (app) => { await listen(app, '127.0.0.1', 0, async () => { throw new Error('not asked') }) } })
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)
    expect(server.app.httpServers.all).toHaveLength(1)
  })
})
