/**
 * The task poll answered in front of Fastify (src/fast-path/task-polls.ts):
 * byte for byte what the routes answer, only for the empty plain poll (at once or held), and
 * every other request handed to the routes. A hook on Fastify's replies counts
 * what it answered: that is how these tests tell which side answered.
 */
import { randomBytes } from 'node:crypto'
import dns from 'node:dns'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { sign } from '../../src/crypto/signature.js'
import { WC_ERR_TOKEN_EXPIRED } from '../../src/errors.js'
import type { Outcome } from '../../src/relay/relay.js'
import {
  build, closeWhenDone, TEST_KEY, detailOf, rawConnection, rawRequest, ReplyGate, requestText, SIGN_IN, sleep, userIds, V2User,
  type RawResponse, type TestBuildOptions, type TestServer
} from '../helper.js'
import { eventually } from '../kit/eventually.js'
import { splitResponses } from '../kit/raw-http.js'
import { startPrivateRedis } from '../store/redis-helper.js'

const user = userIds()

/** A server whose routes count the requests that reach them. */
async function start (env: Record<string, string> = {}, options: TestBuildOptions = {}): Promise<{ server: TestServer, routed: () => number }> {
  let routed = 0
  const server = await build({ ...SIGN_IN, ...env }, {
    ...options,
    beforeListen: async (app) => {
      // onSend: every reply the routes (or their hooks' refusals) send passes here.
      app.addHook('onSend', (_request, _reply, payload, done) => { routed++; done(null, payload) })
      await options.beforeListen?.(app)
    }
  })
  return { server, routed: () => routed }
}

const v1Poll = (server: TestServer, path: string, query = '', headers: Record<string, string> = {}): Promise<RawResponse> =>
  rawRequest(server.url, requestText('GET', path + query, { 'x-signature': sign(server.key, path), ...headers }))

const v2Poll = (server: TestServer, token: string, target = '/v2/tasks'): Promise<RawResponse> =>
  rawRequest(server.url, requestText('GET', target, { authorization: `Bearer ${token}` }))

/** Somebody asks about `target` through v1: the request id its polls will find. */
async function askAbout (server: TestServer, target: number): Promise<string> {
  const created = await server.post('/requestClient', { requester_id: user(), target_id: target })
  return (await created.json() as { request_id: string }).request_id
}

const withoutDate = (text: string): string => text.replace(/\r\nDate: [^\r]*/, '')

/** The log summaries' lines for the v1 task poll (written when the server closes). */
const v1PollSummaries = (server: TestServer): unknown[] => server.logs.map((line) => JSON.parse(line) as { msg: string, route?: string })
  .filter((l) => l.msg === 'requests' && l.route === '/getTasks/:user_id')

/** A call to make, and the status the routes answer it with. */
type RoutedCase = [what: string, call: () => Promise<RawResponse>, status: number]

/** Makes each call in turn: each is answered by the routes (one reply more through them), with its status. */
async function expectRouted (cases: RoutedCase[], routed: () => number): Promise<void> {
  for (const [what, call, status] of cases) {
    const before = routed()
    const response = await call()
    expect(response.status, `${what}: ${response.text}`).toBe(status)
    expect(routed(), what).toBe(before + 1)
  }
}

describe('the task-poll fast path, a poll without a wait', () => {
  it('answers a plain signed v1 poll that finds nothing without the routes, with the bytes the routes send', async () => {
    const { server, routed } = await start()
    const path = `/getTasks/${user()}`
    const fast = await v1Poll(server, path)
    expect(routed()).toBe(0)
    // ?wait=0 is the same call through the routes.
    const slow = await v1Poll(server, path, '?wait=0')
    expect(routed()).toBe(1)
    expect(fast.body).toBe('{"tasks":[]}')
    expect(withoutDate(fast.text)).toBe(withoutDate(slow.text))
  })

  it('answers a plain signed-in v2 poll that finds nothing without the routes, with the bytes the routes send', async () => {
    const { server, routed } = await start()
    const bob = await V2User.signIn(server.url, user())
    const before = routed()
    const fast = await v2Poll(server, bob.token)
    expect(routed()).toBe(before)
    const slow = await v2Poll(server, bob.token, '/v2/tasks?wait=0')
    expect(routed()).toBe(before + 1)
    expect(fast.body).toBe('{"tasks":[]}')
    expect(withoutDate(fast.text)).toBe(withoutDate(slow.text))
  })

  it('hands every other poll to the routes, which answer it as they always have', async () => {
    const { server, routed } = await start()
    const bob = user()
    const path = `/getTasks/${bob}`
    const cases: RoutedCase[] = [
      ['a wrong signature', async () => v1Poll(server, path, '', { 'x-signature': '0'.repeat(64) }), 403],
      ['no signature', async () => rawRequest(server.url, requestText('GET', path)), 403],
      ['a leading zero', async () => v1Poll(server, `/getTasks/0${bob}`), 422],
      ['an id past 2^53', async () => v1Poll(server, '/getTasks/9007199254740993'), 422],
      ['user 0', async () => v1Poll(server, '/getTasks/0'), 422],
      ['a trailing slash', async () => v1Poll(server, `${path}/`), 404],
      ['a body', async () => rawRequest(server.url, requestText('GET', path, { 'x-signature': sign(server.key, path), 'content-length': '0' })), 200],
      ['HEAD', async () => rawRequest(server.url, requestText('HEAD', path, { 'x-signature': sign(server.key, path) })), 405],
      ['HTTP/1.1 without Host', async () => rawRequest(server.url, `GET ${path} HTTP/1.1\r\nx-signature: ${sign(server.key, path)}\r\nconnection: close\r\n\r\n`), 400],
      ['a v2 poll with a bad token', async () => v2Poll(server, 'not-a-token'), 401],
      ['a v2 poll without a token', async () => rawRequest(server.url, requestText('GET', '/v2/tasks')), 401]
    ]
    await expectRouted(cases, routed)
  })

  it('hands a poll that finds tasks to the routes, v1 and v2', async () => {
    const { server, routed } = await start()
    const bob = await V2User.signIn(server.url, user())
    const carol = user()
    const forCarol = await askAbout(server, carol)
    const alice = await V2User.signIn(server.url, user())
    const forBob = await alice.ask(bob.userId)
    const reads = countReads(server)

    let before = routed()
    const v1 = await v1Poll(server, `/getTasks/${carol}`)
    expect(JSON.parse(v1.body)).toEqual({ tasks: [forCarol] })
    expect(routed()).toBe(before + 1)

    before = routed()
    const v2 = await v2Poll(server, bob.token)
    expect((JSON.parse(v2.body) as { tasks: Array<{ request_id: string }> }).tasks.map((t) => t.request_id)).toEqual([forBob])
    expect(routed()).toBe(before + 1)
    // One store call each, the fast path's: the routes answered the tasks it handed on.
    expect(reads).toEqual({ v1: 1, v2: 1 })
  })

  it('is off while every request is logged (LOG_LEVEL=debug), and for v1 when v1 is off', async () => {
    const debug = await start({ LOG_LEVEL: 'debug' })
    const path = `/getTasks/${user()}`
    expect((await v1Poll(debug.server, path)).body).toBe('{"tasks":[]}')
    expect(debug.routed()).toBe(1)
    expect((await v1Poll(debug.server, path, '?wait=1')).body).toBe('{"tasks":[]}')
    expect(debug.routed()).toBe(2)

    const noV1 = await start({ V1_ENABLED: 'false', TELEGRAM_BOT_ID: '7000000001' })
    expect((await v1Poll(noV1.server, path)).status).toBe(404)
    expect(noV1.routed()).toBe(1)
  })

  it('counts what it answers in the log summaries and the metrics, by route pattern', async () => {
    const { server, routed } = await start({ METRICS_PORT: '0' })
    const bob = await V2User.signIn(server.url, user())
    for (let i = 0; i < 3; i++) await v1Poll(server, `/getTasks/${user()}`)
    for (let i = 0; i < 2; i++) await v2Poll(server, bob.token)
    expect(routed()).toBe(1) // the sign-in
    const address = server.app.metricsAddress()
    const metrics = await (await fetch(`http://127.0.0.1:${address?.port}/metrics`)).text()
    expect(metrics).toContain('whatclient_http_requests_total{method="GET",route="/getTasks/:user_id",status_code="200"} 3')
    expect(metrics).toContain('whatclient_http_requests_total{method="GET",route="/v2/tasks",status_code="200"} 2')
    await server.close()
    const summaries = server.logs.map((line) => JSON.parse(line) as { msg: string, route?: string, statusCode?: number, count?: number })
      .filter((l) => l.msg === 'requests')
    expect(summaries).toEqual(expect.arrayContaining([
      expect.objectContaining({ route: '/getTasks/:user_id', statusCode: 200, count: 3 }),
      expect.objectContaining({ route: '/v2/tasks', statusCode: 200, count: 2 })
    ]))
  })

  it('hands a poll that arrives while the server closes to the routes (503)', async () => {
    const gate = new ReplyGate()
    const { server } = await start({}, { beforeListen: (app) => gate.install(app) })
    const path = `/getTasks/${user()}`
    const headers = { 'x-signature': sign(server.key, path), connection: 'keep-alive' }
    // A call through the routes is held in flight, so that closing takes a while ...
    gate.armed = true
    const connection = rawConnection(server.url)
    connection.write(requestText('GET', `${path}?wait=0`, headers))
    await eventually(() => gate.held > 0)
    const closed = server.close()
    await eventually(() => !server.app.server.listening)
    // ... and a plain poll arrives on its connection meanwhile.
    connection.write(requestText('GET', path, headers))
    await sleep(100)
    gate.release()
    await closed
    const [first, second] = splitResponses(await connection.closed)
    expect(first.status).toBe(200)
    expect(second.status, second.text).toBe(503)
    expect(detailOf(second)).toBe('The server is shutting down; try again later.')
  })

  it('hands a poll whose store call fails to the routes, which answer that failure (503) without a second call', async () => {
    const redis = await startPrivateRedis()
    const { server, routed } = await start({
      STORE: 'redis', REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'fast-path:', STORE_KEY: randomBytes(32).toString('base64')
    })
    const calls = slowStore(server)
    const path = `/getTasks/${user()}`
    expect((await v1Poll(server, path)).body).toBe('{"tasks":[]}')
    expect(routed()).toBe(0)
    await redis.stop()
    const before = calls.started
    const failed = await v1Poll(server, path)
    expect(failed.status, failed.text).toBe(503)
    expect(detailOf(failed)).toBe('The task store is unavailable; try again later.')
    expect(routed()).toBe(1)
    expect(calls.started - before, 'store calls for the failed poll').toBe(1)
  })

  it('answers the tasks of a poll it took before the server began to close, through the routes (not 503)', async () => {
    const { server } = await start()
    const carol = user()
    const forCarol = await askAbout(server, carol)
    const store = slowStore(server)
    store.hold()
    const path = `/getTasks/${carol}`
    const poll = v1Poll(server, path)
    await eventually(() => store.started > 0)
    const closed = server.close()
    await eventually(() => !server.app.server.listening)
    store.release()
    const answer = await poll
    await closed
    expect(answer.status, answer.text).toBe(200)
    expect(JSON.parse(answer.body)).toEqual({ tasks: [forCarol] })
  })

  it('neither answers nor counts a poll whose client left while its store call ran', async () => {
    const { server, routed } = await start()
    let socketsClosed = 0
    server.app.server.on('connection', (socket) => socket.on('close', () => { socketsClosed++ }))
    const store = slowStore(server)
    store.hold()
    const connection = rawConnection(server.url)
    const path = `/getTasks/${user()}`
    connection.write(requestText('GET', path, { 'x-signature': sign(server.key, path), connection: 'keep-alive' }))
    await eventually(() => store.started > 0)
    connection.destroy()
    await eventually(() => socketsClosed > 0)
    store.release()
    await eventually(() => store.settled > 0)
    await server.close()
    expect(v1PollSummaries(server)).toEqual([])
    expect(routed()).toBe(0)
  })

  it('neither answers nor hands on a poll whose client left while its store call found tasks', async () => {
    const { server, routed } = await start()
    let socketsClosed = 0
    server.app.server.on('connection', (socket) => socket.on('close', () => { socketsClosed++ }))
    const carol = user()
    await server.post('/requestClient', { requester_id: user(), target_id: carol })
    const store = slowStore(server)
    store.hold()
    const before = routed()
    const connection = rawConnection(server.url)
    const path = `/getTasks/${carol}`
    connection.write(requestText('GET', path, { 'x-signature': sign(server.key, path), connection: 'keep-alive' }))
    await eventually(() => store.started > 0)
    const closed = socketsClosed
    connection.destroy()
    await eventually(() => socketsClosed > closed)
    store.release()
    await eventually(() => store.settled > 0)
    await sleep(100)
    expect(routed()).toBe(before)
  })
})

describe('held polls on the fast path (?wait=<whole seconds>)', () => {
  it('holds a plain signed v1 poll and a signed-in v2 one, and answers the empty list with the bytes the routes send', async () => {
    const { server, routed } = await start()
    const bob = await V2User.signIn(server.url, user())
    const path = `/getTasks/${user()}`
    const before = routed()
    const v1 = v1Poll(server, path, '?wait=1')
    const v2 = v2Poll(server, bob.token, '/v2/tasks?wait=1')
    await eventually(() => server.app.relay.heldPolls() === 2)
    const [fastV1, fastV2] = await Promise.all([v1, v2])
    expect(routed()).toBe(before)
    expect(fastV1.body).toBe('{"tasks":[]}')
    expect(fastV2.body).toBe('{"tasks":[]}')
    // A fraction of a second is held by the routes, with the same reply.
    const slowV1 = await v1Poll(server, path, '?wait=0.2')
    const slowV2 = await v2Poll(server, bob.token, '/v2/tasks?wait=0.2')
    expect(routed()).toBe(before + 2)
    expect(withoutDate(fastV1.text)).toBe(withoutDate(slowV1.text))
    expect(withoutDate(fastV2.text)).toBe(withoutDate(slowV2.text))
  })

  it('hands a held poll that a question wakes to the routes, which answer the task at once', async () => {
    const { server, routed } = await start({ MAX_WAIT_SECONDS: '30' })
    const carol = user()
    const bob = await V2User.signIn(server.url, user())
    const before = routed()
    const v1 = v1Poll(server, `/getTasks/${carol}`, '?wait=30')
    const v2 = v2Poll(server, bob.token, '/v2/tasks?wait=30')
    await eventually(() => server.app.relay.heldPolls() === 2)
    expect(routed()).toBe(before)
    const reads = countReads(server)
    const forCarol = await askAbout(server, carol)
    const alice = await V2User.signIn(server.url, user())
    const forBob = await alice.ask(bob.userId)
    const [woken1, woken2] = await Promise.all([v1, v2])
    expect(JSON.parse(woken1.body)).toEqual({ tasks: [forCarol] })
    expect((JSON.parse(woken2.body) as { tasks: Array<{ request_id: string }> }).tasks.map((t) => t.request_id)).toEqual([forBob])
    // The ask, the sign-in and the question, and the two polls.
    expect(routed()).toBe(before + 5)
    expect(server.app.relay.heldPolls()).toBe(0)
    // The routes answered the tasks the holds found: no store call of their own.
    expect(reads).toEqual({ v1: 0, v2: 0 })
  })

  it('hands any other wait to the routes, which answer it as they always have', async () => {
    const { server, routed } = await start({ MAX_WAIT_SECONDS: '1' })
    const bob = await V2User.signIn(server.url, user())
    const path = `/getTasks/${user()}`
    const cases: RoutedCase[] = [
      ['?wait=0', async () => v1Poll(server, path, '?wait=0'), 200],
      ['a fraction', async () => v1Poll(server, path, '?wait=0.1'), 200],
      ['a leading zero', async () => v1Poll(server, path, '?wait=01'), 422],
      ['past MAX_WAIT_SECONDS', async () => v1Poll(server, path, '?wait=2'), 422],
      ['another parameter too', async () => v1Poll(server, path, '?wait=1&wait=1'), 422],
      ['a sign', async () => v1Poll(server, path, '?wait=+1'), 422],
      ['an empty wait', async () => v1Poll(server, path, '?wait='), 422],
      ['a bad signature', async () => v1Poll(server, path, '?wait=1', { 'x-signature': '0'.repeat(64) }), 403],
      ['v2 past MAX_WAIT_SECONDS', async () => v2Poll(server, bob.token, '/v2/tasks?wait=2'), 422],
      ['v2 with a bad token', async () => v2Poll(server, 'not-a-token', '/v2/tasks?wait=1'), 401]
    ]
    await expectRouted(cases, routed)
  })

  it('hands a hold past the per-user cap to the routes with its refusal, which they answer (429) without holding it again', async () => {
    const { server, routed } = await start({ MAX_HELD_POLLS_PER_USER: '1', MAX_WAIT_SECONDS: '30' })
    const relay = server.app.relay
    const holds = { v1: 0, v2: 0 }
    const holdTasks = relay.holdTasks.bind(relay)
    const holdInbox = relay.holdInbox.bind(relay)
    relay.holdTasks = (...args: Parameters<typeof relay.holdTasks>) => { holds.v1++; return holdTasks(...args) }
    relay.holdInbox = (...args: Parameters<typeof relay.holdInbox>) => { holds.v2++; return holdInbox(...args) }
    const carol = user()
    const bob = await V2User.signIn(server.url, user())
    const first = [v1Poll(server, `/getTasks/${carol}`, '?wait=30'), v2Poll(server, bob.token, '/v2/tasks?wait=30')]
    await eventually(() => relay.heldPolls() === 2)
    const before = routed()
    const refused = [await v1Poll(server, `/getTasks/${carol}`, '?wait=30'), await v2Poll(server, bob.token, '/v2/tasks?wait=30')]
    for (const response of refused) {
      expect(response.status, response.text).toBe(429)
      expect(detailOf(response)).toBe('Too many waiting polls for this id; close one before opening another.')
    }
    expect(routed()).toBe(before + 2)
    // One hold each for the refused polls, the fast path's: the routes answered the refusal it handed on.
    expect(holds).toEqual({ v1: 2, v2: 2 })
    await server.close()
    for (const response of await Promise.all(first)) expect(response.status).toBe(200)
  })

  it('answers a hold it took before the server began to close and that finds tasks meanwhile, through the routes (not 503)', async () => {
    const { server, routed } = await start({ MAX_WAIT_SECONDS: '30' })
    const gate = gateHeldAnswers(server)
    const carol = user()
    const poll = v1Poll(server, `/getTasks/${carol}`, '?wait=30', { connection: 'keep-alive' })
    await eventually(() => server.app.relay.heldPolls() === 1)
    const forCarol = await askAbout(server, carol)
    // The hold has found the task; its answer waits at the gate while the server closes.
    await eventually(() => gate.waiting === 1)
    const before = routed()
    const closed = server.close()
    await eventually(() => !server.app.server.listening)
    gate.release()
    const answer = await poll
    // Keep-alive is 72 s: a close that waited for it would not finish within the test.
    await closed
    expect(answer.status, answer.text).toBe(200)
    expect(JSON.parse(answer.body)).toEqual({ tasks: [forCarol] })
    expect(answer.headers.connection).toBe('close')
    expect(routed()).toBe(before + 1)
  })

  it('answers a hold whose empty answer leaves after the server stopped listening with Connection: close, and the close does not wait out keep-alive', async () => {
    const { server, routed } = await start({ MAX_WAIT_SECONDS: '30' })
    const gate = gateHeldAnswers(server)
    const path = `/getTasks/${user()}`
    const poll = v1Poll(server, path, '?wait=30', { connection: 'keep-alive' })
    await eventually(() => server.app.relay.heldPolls() === 1)
    const closed = server.close()
    await eventually(() => gate.waiting === 1 && !server.app.server.listening)
    gate.release()
    const answer = await poll
    await closed
    expect(answer.status, answer.text).toBe(200)
    expect(answer.body).toBe('{"tasks":[]}')
    expect(answer.headers.connection).toBe('close')
    expect(routed()).toBe(0)
  })

  it('hands on a v2 hold whose token expires while it waits, and the routes answer its tasks (not 401)', async () => {
    const { server } = await start({ MAX_WAIT_SECONDS: '30' })
    const bob = await V2User.signIn(server.url, user())
    const alice = await V2User.signIn(server.url, user())
    const poll = v2Poll(server, bob.token, '/v2/tasks?wait=30')
    await eventually(() => server.app.relay.heldPolls() === 1)
    // From here on Bob's token reads as expired, as it would at the end of its session.
    const tokens = server.app.identity.tokens
    const verify = tokens.verify.bind(tokens)
    tokens.verify = (token) => {
      if (token === bob.token) throw new WC_ERR_TOKEN_EXPIRED()
      return verify(token)
    }
    const forBob = await alice.ask(bob.userId)
    const answer = await poll
    expect(answer.status, answer.text).toBe(200)
    expect((JSON.parse(answer.body) as { tasks: Array<{ request_id: string }> }).tasks.map((t) => t.request_id)).toEqual([forBob])
    // A new call with it is refused.
    expect((await v2Poll(server, bob.token)).status).toBe(401)
  })

  it('neither answers nor hands on a hold whose client left while its look found tasks', async () => {
    const { server, routed } = await start({ MAX_WAIT_SECONDS: '30' })
    let socketsClosed = 0
    server.app.server.on('connection', (socket) => socket.on('close', () => { socketsClosed++ }))
    const gate = gateHeldAnswers(server)
    const carol = user()
    const connection = rawConnection(server.url)
    const path = `/getTasks/${carol}`
    connection.write(requestText('GET', `${path}?wait=30`, { 'x-signature': sign(server.key, path), connection: 'keep-alive' }))
    await eventually(() => server.app.relay.heldPolls() === 1)
    await server.post('/requestClient', { requester_id: user(), target_id: carol })
    await eventually(() => gate.waiting === 1)
    const before = routed()
    const closed = socketsClosed
    connection.destroy()
    await eventually(() => socketsClosed > closed)
    gate.release()
    await sleep(100)
    expect(routed()).toBe(before)
    await server.close()
    expect(v1PollSummaries(server)).toEqual([])
  })

  it('counts a hold it handed on from its arrival, its wait included', async () => {
    const { server } = await start({ METRICS_PORT: '0', MAX_WAIT_SECONDS: '30' })
    const carol = user()
    const poll = v1Poll(server, `/getTasks/${carol}`, '?wait=30')
    await eventually(() => server.app.relay.heldPolls() === 1)
    await sleep(600)
    await server.post('/requestClient', { requester_id: user(), target_id: carol })
    expect((await poll).status).toBe(200)
    const address = server.app.metricsAddress()
    const metrics = await (await fetch(`http://127.0.0.1:${address?.port}/metrics`)).text()
    const series = 'method="GET",route="/getTasks/:user_id",status_code="200"'
    expect(metrics).toContain(`whatclient_http_request_duration_seconds_bucket{le="0.5",${series}} 0`)
    expect(metrics).toContain(`whatclient_http_request_duration_seconds_count{${series}} 1`)
  })

  it('answers its held polls at once when the server closes, saying Connection: close', async () => {
    const { server, routed } = await start({ MAX_WAIT_SECONDS: '30' })
    const bob = await V2User.signIn(server.url, user())
    const before = routed()
    const path = `/getTasks/${user()}`
    const v1 = v1Poll(server, path, '?wait=30', { connection: 'keep-alive' })
    const v2 = rawRequest(server.url, requestText('GET', '/v2/tasks?wait=30', { authorization: `Bearer ${bob.token}`, connection: 'keep-alive' }))
    await eventually(() => server.app.relay.heldPolls() === 2)
    await server.close()
    for (const answer of await Promise.all([v1, v2])) {
      expect(answer.status, answer.text).toBe(200)
      expect(answer.body).toBe('{"tasks":[]}')
      expect(answer.headers.connection).toBe('close')
    }
    expect(routed()).toBe(before)
  })

  it('lets go of a held poll whose client left, and neither answers nor counts it', async () => {
    const { server, routed } = await start({ MAX_WAIT_SECONDS: '30' })
    const connection = rawConnection(server.url)
    const path = `/getTasks/${user()}`
    connection.write(requestText('GET', `${path}?wait=30`, { 'x-signature': sign(server.key, path), connection: 'keep-alive' }))
    await eventually(() => server.app.relay.heldPolls() === 1)
    connection.destroy()
    await eventually(() => server.app.relay.heldPolls() === 0)
    await server.close()
    expect(v1PollSummaries(server)).toEqual([])
    expect(routed()).toBe(0)
  })

  it('counts the held polls it answers in the metrics, by route pattern', async () => {
    const { server } = await start({ METRICS_PORT: '0' })
    const bob = await V2User.signIn(server.url, user())
    await Promise.all([v1Poll(server, `/getTasks/${user()}`, '?wait=1'), v2Poll(server, bob.token, '/v2/tasks?wait=1')])
    const address = server.app.metricsAddress()
    const metrics = await (await fetch(`http://127.0.0.1:${address?.port}/metrics`)).text()
    expect(metrics).toContain('whatclient_http_requests_total{method="GET",route="/getTasks/:user_id",status_code="200"} 1')
    expect(metrics).toContain('whatclient_http_requests_total{method="GET",route="/v2/tasks",status_code="200"} 1')
    // Its duration is the hold's: in the histogram's buckets of a second and more.
    expect(metrics).toMatch(/whatclient_http_request_duration_seconds_bucket\{le="0\.5",method="GET",route="\/getTasks\/:user_id",status_code="200"\} 0/)
  })
})

describe('the fast path installed on Fastify\'s server', () => {
  it('keeps the extra listener Fastify opens for a HOST with several addresses (as localhost can be)', async () => {
    // This machine's localhost is 127.0.0.1 only: make it two addresses, as on hosts with ::1.
    const lookup = dns.lookup
    const twoAddresses = (host: string, ...rest: unknown[]): void => {
      const callback = rest.at(-1) as (err: Error | null, address: unknown, family?: number) => void
      if (host !== 'localhost') return (lookup as (...args: unknown[]) => void)(host, ...rest)
      if ((rest[0] as { all?: boolean }).all === true) callback(null, [{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }])
      else callback(null, '127.0.0.1', 4)
    }
    ;(dns as { lookup: unknown }).lookup = twoAddresses
    const app = await buildApp(loadConfig({ API_SECRET_KEY: TEST_KEY, LOG_LEVEL: 'silent' }))
    closeWhenDone({ close: () => app.close() })
    try {
      await app.listen({ host: 'localhost', port: 0 })
    } finally {
      ;(dns as { lookup: unknown }).lookup = lookup
    }
    const port = (app.server.address() as AddressInfo).port
    for (const address of ['127.0.0.1', '127.0.0.2']) {
      const path = '/getTasks/5'
      const response = await rawRequest(`http://${address}:${port}`, requestText('GET', path, { 'x-signature': sign(TEST_KEY, path) }))
      expect(response.body, `${address}: ${response.text}`).toBe('{"tasks":[]}')
    }
  })
})

/** Counts the relay's task reads without a hold (the fast path's and the routes'), v1 and v2. */
function countReads (server: TestServer): { v1: number, v2: number } {
  const relay = server.app.relay
  const reads = { v1: 0, v2: 0 }
  const tasksFor = relay.tasksFor.bind(relay)
  const inbox = relay.inbox.bind(relay)
  relay.tasksFor = (...args: Parameters<typeof relay.tasksFor>) => { reads.v1++; return tasksFor(...args) }
  relay.inbox = (...args: Parameters<typeof relay.inbox>) => { reads.v2++; return inbox(...args) }
  return reads
}

/**
 * Holds back the answers of the relay's held task polls (v1 and v2) until
 * released, as a last store call that takes a while would: `waiting` counts
 * the holds that have ended and wait at the gate.
 */
function gateHeldAnswers (server: TestServer): { waiting: number, release: () => void } {
  const relay = server.app.relay
  let open = (): void => {}
  const opened = new Promise<void>((resolve) => { open = resolve })
  const gate = { waiting: 0, release: () => { open() } }
  const gated = <T, C>(outcome: Outcome<T, C>): Outcome<T, C> => ({
    answer: (context, value) => { gate.waiting++; void opened.then(() => { outcome.answer(context, value) }) },
    fail: (context, error) => { gate.waiting++; void opened.then(() => { outcome.fail(context, error) }) }
  })
  const holdTasks = relay.holdTasks.bind(relay)
  const holdInbox = relay.holdInbox.bind(relay)
  relay.holdTasks = (userId, waitMs, outcome, context) => holdTasks(userId, waitMs, gated(outcome), context)
  relay.holdInbox = (userId, waitMs, outcome, context) => holdInbox(userId, waitMs, gated(outcome), context)
  return gate
}

/**
 * Counts the relay's v1 task reads (the fast path's and the routes'), and can
 * hold them until released, as a slow store would.
 */
function slowStore (server: TestServer): { started: number, settled: number, hold: () => void, release: () => void } {
  const relay = server.app.relay
  const read = relay.tasksFor.bind(relay)
  let gate: Promise<void> = Promise.resolve()
  let open = (): void => {}
  const calls = {
    started: 0,
    settled: 0,
    hold: () => { gate = new Promise((resolve) => { open = resolve }) },
    release: () => { open() }
  }
  relay.tasksFor = async (...args: Parameters<typeof relay.tasksFor>) => {
    calls.started++
    await gate
    try {
      return await read(...args)
    } finally {
      calls.settled++
    }
  }
  return calls
}
