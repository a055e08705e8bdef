/**
 * Long-polls on the v2 calls: held as v1's are, on the same topics and caps,
 * so a question or answer that comes through either version wakes a poll of
 * either version; answered at once when the server closes.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { build, callAgainWhileClosing, heldPollsBecome, ReplyGate, requestText, SIGN_IN, userIds, V2User, type Task, type TestServer } from '../../helper.js'

let server: TestServer
const user = userIds()
const signIn = async (): Promise<V2User> => V2User.signIn(server.url, user())

beforeAll(async () => { server = await build({ ...SIGN_IN, MAX_HELD_POLLS_PER_USER: '2' }) })

async function v1Ask (requester: number, target: number): Promise<string> {
  return ((await (await server.post('/requestClient', { requester_id: requester, target_id: target })).json()) as { request_id: string }).request_id
}

describe('a held v2 poll', () => {
  it('on tasks is woken by a question asked through v1, and by one asked through v2', async () => {
    const bob = await signIn()
    const held = bob.tasks(20)
    await heldPollsBecome(server.app.relay, 1)
    const v1 = await v1Ask(user(), bob.userId)
    expect((await held).map((t: Task) => [t.request_id, t.verified])).toEqual([[v1, false]])
    await bob.answer(v1, { declined: true })

    const again = bob.tasks(20)
    await heldPollsBecome(server.app.relay, 1)
    const v2 = await (await signIn()).ask(bob.userId, { anonymous: false })
    expect((await again).map((t: Task) => [t.request_id, t.verified])).toEqual([[v2, true]])
    await heldPollsBecome(server.app.relay, 0)
  })

  it('on a result is woken by an answer through v2, a decline, and an answer through v1', async () => {
    const [alice, bob, dora] = [await signIn(), await signIn(), await signIn()]
    const carol = user()
    const answered = await alice.ask(bob.userId)
    const declined = await alice.ask(dora.userId)
    const viaV1 = await alice.ask(carol)

    const first = alice.result(answered, 20)
    await heldPollsBecome(server.app.relay, 1)
    await bob.answer(answered, { package_name: 'com.radolyn.ayugram' })
    expect(await first).toEqual({ status: 'completed', client_name: 'AyuGram', package_name: 'com.radolyn.ayugram', verified: true })

    const second = alice.result(declined, 20)
    await heldPollsBecome(server.app.relay, 1)
    expect((await dora.answer(declined, { declined: true })).status).toBe(200)
    expect(await second).toEqual({ status: 'declined' })

    const third = alice.result(viaV1, 20)
    await heldPollsBecome(server.app.relay, 1)
    expect((await server.post('/submitTaskResult', { request_id: viaV1, client_name: 'com.exteragram.messenger' })).status).toBe(200)
    expect(await third).toEqual({ status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger', verified: false })
    await heldPollsBecome(server.app.relay, 0)
  })

  it('answers when the wait passes', async () => {
    const alice = await signIn()
    const requestId = await alice.ask(user())
    expect(await alice.result(requestId, 0.3)).toEqual({ status: 'pending' })
    expect(await alice.tasks(0.3)).toEqual([])
    await heldPollsBecome(server.app.relay, 0)
  })
})

describe('a held v1 poll', () => {
  it('on tasks is woken by a plain question asked through v2 (its target has no v2 session)', async () => {
    const carol = user()
    const held = server.get(`/getTasks/${carol}?wait=20`).then(async (res) => res.json())
    await heldPollsBecome(server.app.relay, 1)
    const requestId = await (await signIn()).ask(carol)
    expect(await held).toEqual({ tasks: [requestId] })
  })

  it('on a result is woken by an answer through v2', async () => {
    const bob = await signIn()
    const requestId = await v1Ask(user(), bob.userId)
    const held = server.get(`/getRequestResult/${requestId}?wait=20`).then(async (res) => res.json())
    await heldPollsBecome(server.app.relay, 1)
    await bob.answer(requestId, { package_name: 'tw.nekomimi.nekogram' })
    expect(await held).toMatchObject({ status: 'completed', package_name: 'tw.nekomimi.nekogram' })
  })
})

describe('the caps on held polls', () => {
  it('hold a signed-in user\'s v2 polls up to MAX_HELD_POLLS_PER_USER; their v1 polls answer at once and take no place', async () => {
    const bob = await signIn()
    // The v1 key sees nothing of Bob, and cannot hold a poll on him either.
    const v1 = await Promise.all([1, 2, 3].map(async () => server.get(`/getTasks/${bob.userId}?wait=20`)))
    expect(v1.map((res) => res.status)).toEqual([200, 200, 200])
    expect(server.app.relay.heldPolls()).toBe(0)
    const controller = new AbortController()
    const held = [1, 2].map(async () => bob.get(`/v2/tasks?wait=20`, controller.signal).catch(() => undefined))
    await heldPollsBecome(server.app.relay, 2)
    const third = await bob.get('/v2/tasks?wait=20')
    expect(third.status).toBe(429)
    expect(third.body).toEqual({ detail: 'Too many waiting polls for this id; close one before opening another.' })
    controller.abort()
    await Promise.all(held)
    await heldPollsBecome(server.app.relay, 0)
  })
})

describe('closing', () => {
  it('answers held v2 polls at once, and refuses v2 calls that arrive meanwhile with 503', async () => {
    const gate = new ReplyGate()
    const closing = await build(SIGN_IN, { beforeListen: (app) => gate.install(app) })
    const bob = await V2User.signIn(closing.url, user())
    const held = bob.tasks(30)
    await heldPollsBecome(closing.app.relay, 1)
    // Another call is held in flight, as a slow Redis would hold it, so that closing takes a while.
    // ?wait=0: through the routes, where the gate is (a plain idle poll is answered in front of them).
    const request = requestText('GET', '/v2/tasks?wait=0', { authorization: `Bearer ${bob.token}`, connection: 'keep-alive' })
    const { first, second, received } = await callAgainWhileClosing(closing, gate, request)
    expect(await held).toEqual([])
    expect(first.status, received).toBe(200)
    expect(second.status, received).toBe(503)
    expect(second.headers['retry-after']).toBe('1')
    expect(JSON.parse(second.body)).toEqual({ detail: 'The server is shutting down; try again later.' })
  })
})
