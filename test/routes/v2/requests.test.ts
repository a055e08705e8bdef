/**
 * The v2 calls that act as a user, over real sockets: ask, tasks, answers and
 * results, each row and status of the contract, and who may see, answer or
 * read what.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer } from '../../helper.js'
import { SIGN_IN, V2User } from './v2-helper.js'

let server: TestServer
let nextUser = 6_400_000_000
const user = (): number => ++nextUser
const signIn = async (): Promise<V2User> => V2User.signIn(server.url, user())

beforeAll(async () => { server = await build({ ...SIGN_IN, REQUEST_TTL_SECONDS: '120' }) })
afterAll(async () => server.close())

describe('ask, list, answer, read', () => {
  it('relays a plain answer from Bob to Alice, delivered once, anonymous by default', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const before = Math.floor(Date.now() / 1000)
    const asked = await alice.post('/v2/requests', { target_id: bob.userId })
    expect(asked.status).toBe(200)
    expect(Object.keys(asked.body).sort()).toEqual(['expires_at', 'request_id'])
    const requestId = asked.body.request_id as string
    expect(asked.body.expires_at).toBeGreaterThanOrEqual(before + 120)
    expect(asked.body.expires_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 120)

    const tasks = await bob.tasks()
    expect(tasks).toEqual([{ request_id: requestId, requester_id: null, verified: true, expires_at: expect.any(Number) }])
    // The same instant, computed again from what is left (the two clocks may round it a second apart).
    expect(Math.abs((tasks[0]?.expires_at as number) - (asked.body.expires_at as number))).toBeLessThanOrEqual(1)
    expect(await alice.result(requestId)).toEqual({ status: 'pending' })

    expect(await bob.answer(requestId, { package_name: 'com.radolyn.ayugram' })).toMatchObject({ status: 200, body: { status: 'success' } })
    expect(await bob.tasks()).toEqual([])
    expect(await alice.result(requestId)).toEqual({ status: 'completed', client_name: 'AyuGram', package_name: 'com.radolyn.ayugram', verified: true })
    expect(await alice.result(requestId)).toEqual({ status: 'expired' })
  })

  it('names the asker only when they say "anonymous": false', async () => {
    const [alice, carol, bob] = [await signIn(), await signIn(), await signIn()]
    const named = await alice.ask(bob.userId, { anonymous: false })
    const anonymous = await carol.ask(bob.userId, { anonymous: true })
    expect((await bob.tasks()).map((t) => [t.request_id, t.requester_id])).toEqual([[named, alice.userId], [anonymous, null]])
  })

  it('returns the same request to the same asker for the same target, and a new one for someone else', async () => {
    const [alice, carol, bob] = [await signIn(), await signIn(), await signIn()]
    const first = await alice.post('/v2/requests', { target_id: bob.userId })
    const again = await alice.post('/v2/requests', { target_id: bob.userId, anonymous: false })
    expect(again.body.request_id).toBe(first.body.request_id)
    expect(Math.abs((again.body.expires_at as number) - (first.body.expires_at as number))).toBeLessThanOrEqual(1)
    expect(await carol.ask(bob.userId)).not.toBe(first.body.request_id)
    // The first ask's choice stands: still anonymous.
    expect((await bob.tasks())[0]?.requester_id).toBeNull()
  })

  it('takes a decline: the asker hears it at once, once', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const requestId = await alice.ask(bob.userId)
    const held = alice.result(requestId, 10)
    await heldPollsBecome(1)
    expect(await bob.answer(requestId, { declined: true })).toMatchObject({ status: 200, body: { status: 'success' } })
    expect(await held).toEqual({ status: 'declined' })
    expect(await alice.result(requestId)).toEqual({ status: 'expired' })
    expect(await bob.tasks()).toEqual([])
  })

  it('accepts the same answer again as a retry, and no other', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const requestId = await alice.ask(bob.userId)
    expect((await bob.answer(requestId, { package_name: 'com.exteragram.messenger' })).status).toBe(200)
    expect((await bob.answer(requestId, { package_name: 'com.exteragram.messenger' })).status).toBe(200)
    for (const other of [{ package_name: 'org.telegram.messenger' }, { declined: true }]) {
      expect(await bob.answer(requestId, other)).toMatchObject({ status: 404, body: { detail: 'Request not found or already processed.' } })
    }
  })
})

describe('one user never sees, answers or reads what is not theirs', () => {
  it('lists only questions about the caller', async () => {
    const [alice, bob, carol] = [await signIn(), await signIn(), await signIn()]
    const requestId = await alice.ask(bob.userId)
    expect(await carol.tasks()).toEqual([])
    expect(await alice.tasks()).toEqual([])
    expect((await bob.tasks()).map((t) => t.request_id)).toEqual([requestId])
  })

  it('answers 404 to an answer for a question not about the caller, whatever the answer, and the question stays', async () => {
    const [alice, bob, carol] = [await signIn(), await signIn(), await signIn()]
    const requestId = await alice.ask(bob.userId)
    const sealedId = await alice.ask(bob.userId, { public_key: Buffer.alloc(32, 9).toString('base64url') })
    const sealed = { enc: Buffer.alloc(32, 1).toString('base64url'), ciphertext: Buffer.alloc(272, 2).toString('base64url') }
    for (const answerer of [carol, alice]) {
      for (const id of [requestId, sealedId, '00000000-0000-4000-8000-000000000000']) {
        for (const answer of [{ package_name: 'com.exteragram.messenger' }, { declined: true }, { sealed }]) {
          expect(await answerer.answer(id, answer), JSON.stringify(answer)).toMatchObject({ status: 404, body: { detail: 'Request not found or already processed.' } })
        }
      }
    }
    expect((await bob.tasks()).map((t) => t.request_id)).toEqual([requestId, sealedId])
  })

  it('reads expired for a request not the caller\'s, pending or answered, and leaves it to its asker', async () => {
    const [alice, bob, carol] = [await signIn(), await signIn(), await signIn()]
    const requestId = await alice.ask(bob.userId)
    expect(await carol.result(requestId)).toEqual({ status: 'expired' })
    expect(await bob.result(requestId)).toEqual({ status: 'expired' })
    // A held read by someone else answers at once: there is nothing for them to wait for.
    expect(await carol.result(requestId, 5)).toEqual({ status: 'expired' })
    await bob.answer(requestId, { package_name: 'com.exteragram.messenger' })
    expect(await carol.result(requestId)).toEqual({ status: 'expired' })
    expect(await alice.result(requestId)).toMatchObject({ status: 'completed', package_name: 'com.exteragram.messenger' })
  })
})

describe('what the calls refuse', () => {
  it('answers 401 with WWW-Authenticate: Bearer to each call without a valid token', async () => {
    const calls: Array<[string, string, string?]> = [
      ['POST', '/v2/requests', '{"target_id": 5}'], ['GET', '/v2/tasks'], ['GET', '/v2/tasks?wait=5'],
      ['POST', '/v2/answers', '{"request_id": "x", "declined": true}'], ['GET', '/v2/requests/x']
    ]
    for (const [method, path, body] of calls) {
      for (const authorization of [undefined, 'Bearer nope', `Bearer ${'A'.repeat(64)}`]) {
        const res = await fetch(server.url + path, { method, body, headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) } })
        expect(res.status, `${method} ${path}`).toBe(401)
        expect(res.headers.get('www-authenticate')).toBe('Bearer')
        expect(Object.keys(await res.json() as object)).toEqual(['detail'])
      }
    }
    expect(server.app.relay.heldPolls()).toBe(0)
  })

  it('validates asks strictly: ids, flags, keys and nothing else', async () => {
    const alice = await signIn()
    const bodies: unknown[] = [
      {}, { target_id: '5' }, { target_id: 0 }, { target_id: 2 ** 53 }, { target_id: 1.5 }, { target_id: 5, anonymous: 'false' },
      { target_id: 5, anonymous: null }, { target_id: 5, requester_id: 7 }, { target_id: 5, anonymus: false }, { target_id: 5, publicKey: 'x' }, [], 'null'
    ]
    for (const body of bodies) {
      const res = await alice.post('/v2/requests', body)
      expect(res.status, JSON.stringify(body)).toBe(422)
      expect(Array.isArray(res.body.detail), JSON.stringify(res.body)).toBe(true)
    }
    expect((await alice.post('/v2/requests', '{"target_id": 5')).status).toBe(400)
    expect((await alice.post('/v2/requests', '')).status).toBe(400)
  })

  it('validates answers strictly: exactly one of package_name, sealed or declined, a real package name', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const requestId = await alice.ask(bob.userId)
    const bodies: Array<Record<string, unknown>> = [
      {}, { declined: false }, { declined: 'true' }, { package_name: 'com.exteragram.messenger', declined: true },
      { package_name: 'nodots' }, { package_name: 'com.evil\u001b[31m' }, { package_name: '1com.x' }, { package_name: 'a.' + 'b'.repeat(254) },
      { package_name: 'com.exteragram.messenger', client_name: 'x' }, { package_name: 5 }
    ]
    for (const body of bodies) {
      const res = await bob.answer(requestId, body)
      expect(res.status, JSON.stringify(body)).toBe(422)
    }
    expect(await bob.answer(requestId, {})).toMatchObject({ body: { detail: 'Send request_id and exactly one of "package_name", "sealed" or "declined": true.' } })
    for (const id of ['', 'x'.repeat(129)]) expect((await bob.post('/v2/answers', { request_id: id, declined: true })).status).toBe(422)
    // Nothing was taken: the question is still there.
    expect((await bob.tasks()).map((t) => t.request_id)).toEqual([requestId])
  })

  it('reads wait and request ids as v1 does', async () => {
    const alice = await signIn()
    for (const wait of ['-1', '30.5', 'abc', '1e9', 'Infinity', ' 1', '0x1', '1'.repeat(400)]) {
      for (const path of [`/v2/tasks?wait=${wait}`, `/v2/requests/some-id?wait=${wait}`]) {
        const res = await alice.get(path)
        expect(res.status, path).toBe(422)
        expect((res.body.detail as Array<{ loc: string[] }>)[0]?.loc).toEqual(['query', 'wait'])
      }
    }
    expect((await alice.get(`/v2/requests/${'x'.repeat(129)}`)).status).toBe(422)
    expect((await alice.get(`/v2/requests/${'x'.repeat(300)}`)).status).toBe(414)
    expect((await alice.get('/v2/requests/')).status).toBe(422)
    expect(server.app.relay.heldPolls()).toBe(0)
  })
})

async function heldPollsBecome (n: number): Promise<void> {
  for (let i = 0; i < 300 && server.app.relay.heldPolls() !== n; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  expect(server.app.relay.heldPolls()).toBe(n)
}
