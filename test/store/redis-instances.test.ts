import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeKeyPair, openAnswer, sealAnswer } from 'whatclient-sdk'
import { signInitData } from '../../src/identity/init-data.js'
import { BOT_TOKEN, eventually, SIGN_IN, signedClient, signInWith, sleep, userIds, V2User, type SignedClient } from '../helper.js'
import { freePort, runCli, serveProcess, type Child } from '../process-helper.js'
import { deleteKeys, dumpKeys, SHARED_REDIS, startPrivateRedis, testPrefix } from './redis-helper.js'

const KEY = 'multi-instance-key'

interface Instance { child: Child, url: string }

const caller = (url: string): SignedClient => signedClient(url, KEY)

async function startInstance (env: Record<string, string>): Promise<Instance> {
  return serveProcess({ API_SECRET_KEY: KEY, STORE: 'redis', LOG_LEVEL: 'info', ...env })
}

async function stopInstance (instance: Instance | undefined): Promise<void> {
  if (instance === undefined || instance.child.process.exitCode !== null) return
  instance.child.process.kill('SIGTERM')
  await instance.child.exited
}

describe('two instances, one Redis', () => {
  const prefix = testPrefix()
  const storeKey = randomBytes(32).toString('base64')
  let a: Instance | undefined
  let b: Instance | undefined

  beforeAll(async () => {
    const env = { REDIS_URL: SHARED_REDIS, REDIS_KEY_PREFIX: prefix, STORE_KEY: storeKey }
    ;[a, b] = await Promise.all([startInstance(env), startInstance(env)])
  })
  afterAll(async () => {
    await Promise.all([stopInstance(a), stopInstance(b)])
    await deleteKeys(prefix)
  })

  it('relays Alice on A to Bob on B, with long-polls released across instances, delivered once', async () => {
    const onA = caller((a as Instance).url)
    const onB = caller((b as Instance).url)
    const [alice, bob] = [9_100_000_000_001, 9_100_000_000_002]

    // Bob's poll is held on B before Alice asks on A.
    const bobPoll = onB.get(`/getTasks/${bob}?wait=20`).then((res) => res.json()) as Promise<{ tasks: string[] }>
    await sleep(300)
    const created = await onA.post('/requestClient', { requester_id: alice, target_id: bob })
    const { request_id: requestId } = (await created.json()) as { request_id: string }
    expect((await bobPoll).tasks).toEqual([requestId])

    // Alice's result poll is held on A; Bob answers on B.
    const alicePoll = onA.get(`/getRequestResult/${requestId}?wait=20`).then((res) => res.json())
    await sleep(300)
    expect((await onB.post('/submitTaskResult', { request_id: requestId, client_name: 'com.radolyn.ayugram' })).status).toBe(200)
    expect(await alicePoll).toEqual({ status: 'completed', client_name: 'AyuGram', package_name: 'com.radolyn.ayugram' })

    // Delivered once, whichever instance is asked next; one answer only.
    expect(await (await onB.get(`/getRequestResult/${requestId}`)).json()).toEqual({ status: 'expired' })
    expect((await onA.post('/submitTaskResult', { request_id: requestId, client_name: 'x.y' })).status).toBe(404)
  })

  it('dedupes and caps across instances', async () => {
    const onA = caller((a as Instance).url)
    const onB = caller((b as Instance).url)
    const [alice, bob] = [9_100_000_000_011, 9_100_000_000_012]
    const first = (await (await onA.post('/requestClient', { requester_id: alice, target_id: bob })).json()) as { request_id: string }
    const second = (await (await onB.post('/requestClient', { requester_id: alice, target_id: bob })).json()) as { request_id: string }
    expect(second.request_id).toBe(first.request_id)
    // Two answers racing on two instances: exactly one wins.
    const answers = await Promise.all([
      onA.post('/submitTaskResult', { request_id: first.request_id, client_name: 'a.one' }),
      onB.post('/submitTaskResult', { request_id: first.request_id, client_name: 'b.two' })
    ])
    expect(answers.map((r) => r.status).sort()).toEqual([200, 404])
  })

  it('keeps no user id, request id or package name in any Redis key or value', async () => {
    const onA = caller((a as Instance).url)
    const onB = caller((b as Instance).url)
    const secrets: string[] = []
    for (let i = 0; i < 5; i++) {
      const alice = 9_200_000_000_000 + i
      const bob = 9_300_000_000_000 + i
      const pkg = `org.keyspace.canary${i}`
      const { request_id: requestId } = (await (await onA.post('/requestClient', { requester_id: alice, target_id: bob })).json()) as { request_id: string }
      if (i % 2 === 0) await onB.post('/submitTaskResult', { request_id: requestId, client_name: pkg })
      secrets.push(String(alice), String(bob), requestId, pkg)
    }
    const keyspace = await dumpKeys(prefix)
    // Pending requests, an answered one, target queues, pairs and the total set are all there...
    expect(keyspace.length).toBeGreaterThan(10)
    expect(keyspace.some(({ value }) => value.includes('"st":"c"'))).toBe(true)
    // ...and none names anybody.
    const text = keyspace.map(({ key, value }) => `${key}\n${value}`).join('\n')
    for (const secret of secrets) expect(text, secret).not.toContain(secret)
    for (const secret of secrets.filter((s) => /^\d+$/.test(s))) expect(text).not.toContain(Buffer.from(secret).toString('base64'))
  })
})

/** A pending promise's state, without waiting for it: a poll still held has not settled. */
function settled (promise: Promise<unknown>): () => boolean {
  let done = false
  promise.then(() => { done = true }, () => { done = true })
  return () => done
}

describe('two instances, one Redis: v2', () => {
  const prefix = testPrefix()
  const storeKey = randomBytes(32).toString('base64')
  let a: Instance | undefined
  let b: Instance | undefined
  const user = userIds()

  beforeAll(async () => {
    const env = { REDIS_URL: SHARED_REDIS, REDIS_KEY_PREFIX: prefix, STORE_KEY: storeKey, ...SIGN_IN, ASK_LIMIT_PER_HOUR: '2' }
    ;[a, b] = await Promise.all([startInstance(env), startInstance(env)])
  })
  afterAll(async () => {
    await Promise.all([stopInstance(a), stopInstance(b)])
    await deleteKeys(prefix)
  })

  it('accepts on one instance the token the other gave, and init data only once across both', async () => {
    const { url: urlA } = a as Instance
    const { url: urlB } = b as Instance
    const alice = await V2User.signIn(urlA, user())
    const bob = await V2User.signIn(urlB, user())
    const requestId = await alice.on(urlB).ask(bob.userId)
    expect((await bob.on(urlA).tasks()).map((t) => t.request_id)).toEqual([requestId])
    const initData = signInitData({ botToken: BOT_TOKEN, user: user() })
    expect((await signInWith(urlA, initData)).status).toBe(200)
    expect((await signInWith(urlB, initData)).status).toBe(401)
  })

  it('keeps one quota per asker across instances', async () => {
    const alice = await V2User.signIn((a as Instance).url, user())
    await alice.ask(user())
    await alice.on((b as Instance).url).ask(user())
    const refused = await alice.post('/v2/requests', { target_id: user() })
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(1790)
    expect((await alice.on((b as Instance).url).post('/v2/requests', { target_id: user() })).status).toBe(429)
  })

  it('shields a user signed in on one instance from the v1 key on the other', async () => {
    const onA = caller((a as Instance).url)
    const bob = await V2User.signIn((b as Instance).url, user())
    const created = await onA.post('/requestClient', { requester_id: user(), target_id: bob.userId })
    const { request_id: requestId } = (await created.json()) as { request_id: string }
    expect(await (await onA.get(`/getTasks/${bob.userId}`)).json()).toEqual({ tasks: [] })
    expect((await onA.post('/submitTaskResult', { request_id: requestId, client_name: 'com.exteragram.messenger' })).status).toBe(404)
    expect((await bob.tasks()).map((t) => [t.request_id, t.verified, t.requester_id])).toEqual([[requestId, false, null]])
  })

  it('wakes polls held on one instance with questions and answers that come through the other, v1 or v2', async () => {
    const { url: urlA } = a as Instance
    const { url: urlB } = b as Instance
    const alice = await V2User.signIn(urlA, user())
    const bob = await V2User.signIn(urlB, user())

    const bobPoll = bob.tasks(20)
    const bobDone = settled(bobPoll)
    await sleep(300)
    expect(bobDone()).toBe(false)
    const requestId = await alice.ask(bob.userId, { anonymous: false })
    expect((await bobPoll).map((t) => [t.request_id, t.requester_id])).toEqual([[requestId, alice.userId]])

    const alicePoll = alice.result(requestId, 20)
    const aliceDone = settled(alicePoll)
    await sleep(300)
    expect(aliceDone()).toBe(false)
    expect((await bob.answer(requestId, { package_name: 'com.radolyn.ayugram' })).status).toBe(200)
    expect(await alicePoll).toEqual({ status: 'completed', client_name: 'AyuGram', package_name: 'com.radolyn.ayugram', verified: true })

    // A v1 question through A wakes Bob's v2 poll on B.
    const again = bob.tasks(20)
    const againDone = settled(again)
    await sleep(300)
    expect(againDone()).toBe(false)
    const v1 = (await (await caller(urlA).post('/requestClient', { requester_id: user(), target_id: bob.userId })).json()) as { request_id: string }
    expect((await again).map((t) => [t.request_id, t.verified])).toEqual([[v1.request_id, false]])
  })

  it('keeps nothing of a v2 flow, plain or sealed, in clear in Redis', async () => {
    const { url: urlA } = a as Instance
    const { url: urlB } = b as Instance
    const alice = await V2User.signIn(urlA, user())
    const bob = await V2User.signIn(urlB, user())
    const keys = await makeKeyPair()
    const sealedPackage = `org.keyspace.sealed${randomBytes(6).toString('hex')}`
    const plainPackage = `org.keyspace.plain${randomBytes(6).toString('hex')}`
    const sealedId = await alice.ask(bob.userId, { public_key: keys.publicKey, anonymous: false })
    const plainId = await alice.on(urlB).ask(bob.userId, { anonymous: false })
    const sealed = await sealAnswer(keys.publicKey, sealedId, sealedPackage)
    expect((await bob.answer(sealedId, { sealed })).status).toBe(200)
    expect((await bob.on(urlA).answer(plainId, { package_name: plainPackage })).status).toBe(200)

    const keyspace = await dumpKeys(prefix)
    const text = keyspace.map(({ key, value }) => `${key}\n${value}`).join('\n')
    // The records, the shield marks and the quota are there...
    expect(keyspace.some(({ key }) => key.startsWith(`${prefix}s:`))).toBe(true)
    expect(keyspace.some(({ key }) => key.startsWith(`${prefix}quota:`))).toBe(true)
    expect(keyspace.some(({ value }) => value.includes('"ak":"sealed"'))).toBe(true)
    // ...and none names anybody or says anything.
    const secrets = [String(alice.userId), String(bob.userId), sealedId, plainId, sealedPackage, plainPackage, alice.token, bob.token,
      keys.publicKey, sealed.enc, sealed.ciphertext.slice(0, 32), Buffer.from(String(alice.userId)).toString('base64')]
    for (const secret of secrets) expect(text, secret).not.toContain(secret)

    const result = await alice.on(urlB).result(sealedId)
    expect(await openAnswer(keys.privateKey, result.sealed as typeof sealed, sealedId)).toBe(sealedPackage)
    expect(await alice.result(plainId)).toMatchObject({ status: 'completed', package_name: plainPackage })
  })
})

describe('Redis faults', () => {
  it('answers 503 while Redis is down, releases held polls, and serves again when it is back', async () => {
    const redis = await startPrivateRedis()
    const server = await startInstance({ REDIS_URL: redis.url, STORE_KEY: randomBytes(32).toString('hex') })
    const api = caller(server.url)
    const ok = await api.post('/requestClient', { requester_id: 1, target_id: 2 })
    expect(ok.status).toBe(200)
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)

    const held = api.get('/getTasks/77?wait=30')
    await sleep(300)
    await redis.stop()

    const released = await held
    expect(released.status).toBe(503)
    expect(await released.json()).toEqual({ detail: 'The task store is unavailable; try again later.' })

    for (const call of [api.post('/requestClient', { requester_id: 3, target_id: 4 }), api.get('/getTasks/2'), api.get('/getRequestResult/x'),
      api.post('/submitTaskResult', { request_id: 'x', client_name: 'a.b' })]) {
      const res = await call
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('1')
    }
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toEqual({ status: 'store unavailable' })
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200)

    await redis.start()
    await eventually(async () => (await fetch(`${server.url}/readyz`)).status === 200, { timeoutMs: 10_000, intervalMs: 100, message: '/readyz to answer 200' })
    const again = await api.post('/requestClient', { requester_id: 5, target_id: 6 })
    expect(again.status).toBe(200)
    const { request_id: requestId } = (await again.json()) as { request_id: string }
    expect(await (await api.get('/getTasks/6?wait=1')).json()).toEqual({ tasks: [requestId] })
    // The same process served throughout.
    expect(server.child.process.exitCode).toBeNull()
    await server.child.waitFor(/store unreachable/)
  })

  it('refuses to start when Redis cannot be reached, saying so', async () => {
    const port = await freePort()
    const child = runCli(['serve'], { PORT: '0', API_SECRET_KEY: KEY, STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${port}`, STORE_KEY: randomBytes(32).toString('base64') })
    expect(await child.exited).toBe(1)
    expect(child.stderr()).toMatch(/cannot start \[WC_ERR_REDIS_UNREACHABLE\]: cannot reach Redis/)
  })
})
