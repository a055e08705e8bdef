/**
 * Long-polls on the v2 calls: held as v1's are, on the same topics and caps,
 * so a question or answer that comes through either version wakes a poll of
 * either version; answered at once when the server closes.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, ReplyGate, sleep, type TestServer } from '../../helper.js'
import { requestText } from '../raw-http.js'
import { SIGN_IN, V2User, type Task } from './v2-helper.js'

let server: TestServer
let nextUser = 6_800_000_000
const user = (): number => ++nextUser
const signIn = async (): Promise<V2User> => V2User.signIn(server.url, user())

beforeAll(async () => { server = await build({ ...SIGN_IN, MAX_HELD_POLLS_PER_USER: '2' }) })
afterAll(async () => server.close())

async function heldPollsBecome (n: number): Promise<void> {
  for (let i = 0; i < 300 && server.app.relay.heldPolls() !== n; i++) await sleep(10)
  expect(server.app.relay.heldPolls()).toBe(n)
}

async function v1Ask (requester: number, target: number): Promise<string> {
  return ((await (await server.post('/requestClient', { requester_id: requester, target_id: target })).json()) as { request_id: string }).request_id
}

describe('a held v2 poll', () => {
  it('on tasks is woken by a question asked through v1, and by one asked through v2', async () => {
    const bob = await signIn()
    const held = bob.tasks(20)
    await heldPollsBecome(1)
    const v1 = await v1Ask(user(), bob.userId)
    expect((await held).map((t: Task) => [t.request_id, t.verified])).toEqual([[v1, false]])
    await bob.answer(v1, { declined: true })

    const again = bob.tasks(20)
    await heldPollsBecome(1)
    const v2 = await (await signIn()).ask(bob.userId, { anonymous: false })
    expect((await again).map((t: Task) => [t.request_id, t.verified])).toEqual([[v2, true]])
    await heldPollsBecome(0)
  })

  it('on a result is woken by an answer through v2, a decline, and an answer through v1', async () => {
    const [alice, bob, dora] = [await signIn(), await signIn(), await signIn()]
    const carol = user()
    const answered = await alice.ask(bob.userId)
    const declined = await alice.ask(dora.userId)
    const viaV1 = await alice.ask(carol)

    const first = alice.result(answered, 20)
    await heldPollsBecome(1)
    await bob.answer(answered, { package_name: 'com.radolyn.ayugram' })
    expect(await first).toEqual({ status: 'completed', client_name: 'AyuGram', package_name: 'com.radolyn.ayugram', verified: true })

    const second = alice.result(declined, 20)
    await heldPollsBecome(1)
    expect((await dora.answer(declined, { declined: true })).status).toBe(200)
    expect(await second).toEqual({ status: 'declined' })

    const third = alice.result(viaV1, 20)
    await heldPollsBecome(1)
    expect((await server.post('/submitTaskResult', { request_id: viaV1, client_name: 'com.exteragram.messenger' })).status).toBe(200)
    expect(await third).toEqual({ status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger', verified: false })
    await heldPollsBecome(0)
  })

  it('answers when the wait passes', async () => {
    const alice = await signIn()
    const requestId = await alice.ask(user())
    expect(await alice.result(requestId, 0.3)).toEqual({ status: 'pending' })
    expect(await alice.tasks(0.3)).toEqual([])
    await heldPollsBecome(0)
  })
})

describe('a held v1 poll', () => {
  it('on tasks is woken by a plain question asked through v2 (its target has no v2 session)', async () => {
    const carol = user()
    const held = server.get(`/getTasks/${carol}?wait=20`).then(async (res) => res.json())
    await heldPollsBecome(1)
    const requestId = await (await signIn()).ask(carol)
    expect(await held).toEqual({ tasks: [requestId] })
  })

  it('on a result is woken by an answer through v2', async () => {
    const bob = await signIn()
    const requestId = await v1Ask(user(), bob.userId)
    const held = server.get(`/getRequestResult/${requestId}?wait=20`).then(async (res) => res.json())
    await heldPollsBecome(1)
    await bob.answer(requestId, { package_name: 'tw.nekomimi.nekogram' })
    expect(await held).toMatchObject({ status: 'completed', package_name: 'tw.nekomimi.nekogram' })
  })
})

describe('the caps on held polls', () => {
  it('count v1 and v2 polls on one user together (MAX_HELD_POLLS_PER_USER)', async () => {
    const bob = await signIn()
    const controller = new AbortController()
    const v2 = bob.get(`/v2/tasks?wait=20`, controller.signal).catch(() => undefined)
    const v1 = server.get(`/getTasks/${bob.userId}?wait=20`, { signal: controller.signal }).catch(() => undefined)
    await heldPollsBecome(2)
    const third = await bob.get('/v2/tasks?wait=20')
    expect(third.status).toBe(429)
    expect(third.body).toEqual({ detail: 'Too many waiting polls for this id; close one before opening another.' })
    controller.abort()
    await Promise.all([v1, v2])
    await heldPollsBecome(0)
  })
})

describe('closing', () => {
  it('answers held v2 polls at once, and refuses v2 calls that arrive meanwhile with 503', async () => {
    const gate = new ReplyGate()
    const closing = await build(SIGN_IN, { beforeListen: (app) => gate.install(app) })
    const bob = await V2User.signIn(closing.url, user())
    const held = bob.tasks(30)
    for (let i = 0; i < 300 && closing.app.relay.heldPolls() !== 1; i++) await sleep(10)
    // Another call is held in flight, as a slow Redis would hold it, so that closing takes a while.
    gate.armed = true
    const socket = connect(Number(new URL(closing.url).port), '127.0.0.1')
    let received = ''
    socket.on('data', (chunk) => { received += String(chunk) })
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    const headers = { authorization: `Bearer ${bob.token}`, connection: 'keep-alive' }
    socket.write(requestText('GET', '/v2/tasks', headers))
    await sleep(100)
    const closed = closing.close()
    for (let i = 0; i < 200 && closing.app.server.listening; i++) await sleep(10)
    socket.write(requestText('GET', '/v2/tasks', headers))
    await sleep(100)
    gate.release()
    expect(await held).toEqual([])
    await closed
    await ended
    const second = received.slice(received.indexOf('HTTP/1.1', 1))
    expect(received.startsWith('HTTP/1.1 200'), received).toBe(true)
    expect(second, received).toMatch(/^HTTP\/1\.1 503 /)
    expect(second.toLowerCase()).toContain('retry-after: 1')
    expect(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4))).toEqual({ detail: 'The server is shutting down; try again later.' })
  })
})
