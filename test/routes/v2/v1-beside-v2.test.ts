/**
 * v1 beside v2 (PROTOCOL.md): a signed-in user is shielded from holders of
 * the shared key, v2 requests are read only through v2, sealed ones never
 * reach v1, and questions and answers cross between the versions marked for
 * what they are.
 */
import { randomBytes } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { build, eventually, heldPollsBecome, SIGN_IN, userIds, V2User, type Reply, type TestServer } from '../../helper.js'
import { startPrivateRedis, testPrefix, type PrivateRedis } from '../../store/redis-helper.js'

let server: TestServer
const user = userIds()
const signIn = async (id = user()): Promise<V2User> => V2User.signIn(server.url, id)
const KEY = Buffer.alloc(32, 7).toString('base64url')

beforeAll(async () => { server = await build(SIGN_IN) })

async function v1Ask (requester: number, target: number): Promise<string> {
  const res = await server.post('/requestClient', { requester_id: requester, target_id: target })
  expect(res.status).toBe(200)
  return ((await res.json()) as { request_id: string }).request_id
}
const v1Tasks = async (target: number, wait?: number): Promise<unknown> => (await server.get(`/getTasks/${target}${wait === undefined ? '' : `?wait=${wait}`}`)).json()
const v1Submit = async (requestId: string, pkg: string): Promise<number> => (await server.post('/submitTaskResult', { request_id: requestId, client_name: pkg })).status
const v1Result = async (requestId: string): Promise<unknown> => (await server.get(`/getRequestResult/${requestId}`)).json()

describe('a user with a live v2 session, seen with the v1 key', () => {
  it('has an empty v1 task list and cannot be answered for through v1; v1 questions still reach them, unverified', async () => {
    const bobId = user()
    const dave = user()
    const before = await v1Ask(dave, bobId)
    // Before Bob signs in, the v1 key sees his questions.
    expect(await v1Tasks(bobId)).toEqual({ tasks: [before] })
    const bob = await signIn(bobId)
    expect(await v1Tasks(bobId)).toEqual({ tasks: [] })
    expect(await v1Tasks(bobId, 0.3)).toEqual({ tasks: [] })
    const after = await v1Ask(user(), bobId)
    expect(await v1Tasks(bobId)).toEqual({ tasks: [] })
    for (const id of [before, after]) {
      expect(await v1Submit(id, 'org.telegram.messenger')).toBe(404)
    }
    const tasks = await bob.tasks()
    expect(tasks.map(({ expires_at: _, ...task }) => task)).toEqual([
      { request_id: before, requester_id: null, verified: false },
      { request_id: after, requester_id: null, verified: false }
    ])
    // Bob answers through v2: the v1 asker reads it as v1 always gave it.
    expect((await bob.answer(before, { package_name: 'com.radolyn.ayugram' })).status).toBe(200)
    expect(await v1Result(before)).toEqual({ status: 'completed', client_name: 'AyuGram', package_name: 'com.radolyn.ayugram' })
    // A decline reaches a v1 asker as the end of the request.
    expect((await bob.answer(after, { declined: true })).status).toBe(200)
    expect(await v1Result(after)).toEqual({ status: 'expired' })
  })

  it('answers their v1 long-polls at once, so the v1 key cannot take the places of their own held polls', async () => {
    const bobId = user()
    const bob = await signIn(bobId)
    // MAX_HELD_POLLS_PER_USER is 4: were these held for their 30 s, Bob's own poll would get 429.
    const started = Date.now()
    const v1Polls = await Promise.all([1, 2, 3, 4].map(async () => v1Tasks(bobId, 30)))
    expect(v1Polls).toEqual(Array(4).fill({ tasks: [] }))
    expect(Date.now() - started).toBeLessThan(20_000)
    const held = [1, 2, 3, 4].map(async () => server.get(`/getTasks/${bobId}?wait=30`))
    const own = await bob.get('/v2/tasks?wait=0.3')
    expect(own.status, JSON.stringify(own.body)).toBe(200)
    expect((await Promise.all(held)).map((res) => res.status)).toEqual([200, 200, 200, 200])
  })

  it('answers the v1 long-polls held about them before they signed in once they sign in', async () => {
    const bobId = user()
    // Held before Bob signs in, they fill his four places...
    const held = [1, 2, 3, 4].map(async () => v1Tasks(bobId, 30))
    await heldPollsBecome(server.app.relay, 4)
    const bob = await signIn(bobId)
    // ...until his sign-in answers them.
    expect(await Promise.all(held)).toEqual(Array(4).fill({ tasks: [] }))
    const own = bob.tasks(30)
    await heldPollsBecome(server.app.relay, 1)
    await v1Ask(user(), bobId)
    expect(await own).toHaveLength(1)
  })

  it('stays shielded across a second sign-in, and others are not', async () => {
    const bobId = user()
    await signIn(bobId)
    await signIn(bobId)
    const carol = user()
    const toCarol = await v1Ask(user(), carol)
    await v1Ask(user(), bobId)
    expect(await v1Tasks(bobId)).toEqual({ tasks: [] })
    expect(await v1Tasks(carol)).toEqual({ tasks: [toCarol] })
  })
})

describe('in Redis mode, where each look at the store is a round trip', () => {
  let redis: PrivateRedis
  let inRedis: TestServer
  beforeAll(async () => {
    redis = await startPrivateRedis()
    inRedis = await build({ ...SIGN_IN, STORE: 'redis', REDIS_URL: redis.url, REDIS_KEY_PREFIX: testPrefix(), STORE_KEY: randomBytes(32).toString('hex') })
  })

  /**
   * Four polls that are answered at once are sent while Redis is frozen, so that their looks
   * are in flight, then `own`: a poll of the user's that waits. It must be held beside them.
   */
  async function ownBesideFour (others: () => Promise<unknown>, own: () => Promise<Reply>): Promise<{ own: Reply, others: unknown[] }> {
    redis.freeze()
    const looking = [1, 2, 3, 4].map(others)
    await heldPollsBecome(inRedis.app.relay, 4)
    let answered = false
    const mine = own().finally(() => { answered = true })
    // Held (looking, frozen) beside them, or refused at once.
    await eventually(() => answered || inRedis.app.relay.heldPolls() === 5, { timeoutMs: 3000, message: 'the own poll to be held or answered' })
    redis.thaw()
    return { own: await mine, others: await Promise.all(looking) }
  }

  it("the v1 key's polls about a signed-in user take no place of theirs while they look", async () => {
    const bobId = user()
    const bob = await V2User.signIn(inRedis.url, bobId)
    const { own, others } = await ownBesideFour(async () => (await inRedis.get(`/getTasks/${bobId}?wait=30`)).json(), async () => bob.get('/v2/tasks?wait=0.3'))
    expect(own.status, JSON.stringify(own.body)).toBe(200)
    expect(own.body).toEqual({ tasks: [] })
    expect(others).toEqual(Array(4).fill({ tasks: [] }))
  })

  it("another user's polls on a request take no place of its asker's while they look", async () => {
    const [alice, bob] = [await V2User.signIn(inRedis.url, user()), await V2User.signIn(inRedis.url, user())]
    const requestId = await alice.ask(bob.userId)
    const { own, others } = await ownBesideFour(async () => (await bob.get(`/v2/requests/${requestId}?wait=30`)).body, async () => alice.get(`/v2/requests/${requestId}?wait=0.3`))
    expect(own.status, JSON.stringify(own.body)).toBe(200)
    expect(own.body).toEqual({ status: 'pending' })
    expect(others).toEqual(Array(4).fill({ status: 'expired' }))
  })

  it("a user's shield, lost with Redis's data while their token lives, is back after their next poll", async () => {
    const bobId = user()
    const bob = await V2User.signIn(inRedis.url, bobId)
    const dave = user()
    await redis.stop()
    await redis.start()
    // Redis came back empty: its mark is gone, and the v1 key would see Bob's questions again.
    await eventually(async () => (await inRedis.get('/readyz')).status === 200, { timeoutMs: 10_000, message: 'the server to reach Redis again' })
    const asked = await (await inRedis.post('/requestClient', { requester_id: dave, target_id: bobId })).json() as { request_id: string }
    expect(await (await inRedis.get(`/getTasks/${bobId}`)).json()).toEqual({ tasks: [asked.request_id] })
    // Bob's token still works; his poll marks him again.
    const own = await bob.get('/v2/tasks')
    expect(own.status, JSON.stringify(own.body)).toBe(200)
    expect(await (await inRedis.get(`/getTasks/${bobId}`)).json()).toEqual({ tasks: [] })
    expect((await inRedis.post('/submitTaskResult', { request_id: asked.request_id, client_name: 'evil.fake' })).status).toBe(404)
  })

  it('answers the v1 polls held about a user while their mark was lost once their poll puts it back', async () => {
    const bobId = user()
    const bob = await V2User.signIn(inRedis.url, bobId)
    await redis.stop()
    await redis.start()
    await eventually(async () => (await inRedis.get('/readyz')).status === 200, { timeoutMs: 10_000, message: 'the server to reach Redis again' })
    // Unshielded, Bob's v1 polls are held: they take his places...
    const held = [1, 2].map(async () => (await inRedis.get(`/getTasks/${bobId}?wait=30`)).json())
    await heldPollsBecome(inRedis.app.relay, 2)
    // ...until his own poll marks him again, which answers them.
    expect((await bob.get('/v2/tasks')).status).toBe(200)
    expect(await Promise.all(held)).toEqual([{ tasks: [] }, { tasks: [] }])
    await heldPollsBecome(inRedis.app.relay, 0)
  })
})

describe('v2 requests, seen with the v1 key', () => {
  it('are expired to v1 getRequestResult, pending or answered, and stay for their asker', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const requestId = await alice.ask(bob.userId)
    expect(await v1Result(requestId)).toEqual({ status: 'expired' })
    await bob.answer(requestId, { package_name: 'com.exteragram.messenger' })
    expect(await v1Result(requestId)).toEqual({ status: 'expired' })
    expect((await server.get(`/getRequestResult/${requestId}?wait=5`)).status).toBe(200)
    expect(await alice.result(requestId)).toMatchObject({ status: 'completed', package_name: 'com.exteragram.messenger' })
  })

  it('reach a target without a v2 session through v1 when plain, and an answer given through v1 reads verified: false', async () => {
    const alice = await signIn()
    const carol = user()
    const plain = await alice.ask(carol, { anonymous: false })
    const sealed = await alice.ask(carol, { public_key: KEY })
    // A v1 plugin sees the plain question only (it cannot seal), and answers it.
    expect(await v1Tasks(carol)).toEqual({ tasks: [plain] })
    expect(await v1Submit(sealed, 'com.exteragram.messenger')).toBe(404)
    expect(await v1Submit(plain, 'com.exteragram.messenger')).toBe(200)
    expect(await v1Submit(plain, 'com.exteragram.messenger')).toBe(200)
    expect(await alice.result(plain)).toEqual({ status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger', verified: false })
    expect(await alice.result(sealed)).toEqual({ status: 'pending' })
    // Carol signs in later: she finds the sealed question waiting.
    const carolV2 = await signIn(carol)
    expect((await carolV2.tasks()).map((t) => [t.request_id, t.public_key])).toEqual([[sealed, KEY]])
  })

  it('are never handed to a v1 caller who claims to be their asker', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const v2 = await alice.ask(bob.userId)
    const v1 = await v1Ask(alice.userId, bob.userId)
    expect(v1).not.toBe(v2)
    expect(await v1Ask(alice.userId, bob.userId)).toBe(v1)
  })
})
