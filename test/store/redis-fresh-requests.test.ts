/**
 * A request's first held look, right after its create, costs no round trip
 * in Redis mode (src/store/redis/fresh-requests.ts), and still finds every
 * answer: one given before it (through another instance), one given while
 * the wake-ups were lost, and none that is not the caller's. Counted by a
 * proxy in front of the machine's Redis.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Relay } from '../../src/relay/relay.js'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import type { Reader, StoreLimits, StoreListener } from '../../src/store/task-store.js'
import { closeWhenDone, eventually, sleep, userIds } from '../helper.js'
import { heldOwnResult, heldResult } from '../kit/held.js'
import { deleteKeys, SHARED_REDIS, TEST_STORE_KEY, testPrefix } from './redis-helper.js'
import { TcpProxy } from './tcp-proxy.js'

const LIMITS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }
const user = userIds()
/** A held poll, as the store sees one (the relay's holds pass themselves). */
const HELD: Reader = { aborted: false, listening: true }
/** A hold that looks once and answers, registered for no wake-up (a pipelined poll, one made while the server closes). */
const ONCE: Reader = { aborted: false, listening: false }

describe('the first held look at a request just created (Redis)', () => {
  const prefix = testPrefix()
  afterAll(async () => { await deleteKeys(prefix) })

  /** This file's store (its prefix) at `url`, telling `listener`. */
  const connect = (url: string, listener: StoreListener): Promise<RedisTaskStore> =>
    RedisTaskStore.connect({ ...LIMITS, listener, url, storeKey: TEST_STORE_KEY, prefix })
  /** A counting proxy in front of the machine's Redis. */
  const proxied = async (): Promise<TcpProxy> => closeWhenDone(await TcpProxy.start(Number(new URL(SHARED_REDIS).port)))
  /** A relay on a store behind `proxy`. */
  const relayBehind = async (proxy: TcpProxy): Promise<Relay> =>
    closeWhenDone(await Relay.open((listener) => connect(proxy.url, listener), { maxPerKey: 4, maxTotal: 100 }))

  /** A store behind a counting proxy, and what its listener was told. */
  async function counted (): Promise<{ store: RedisTaskStore, proxy: TcpProxy, woken: string[], wokenAll: () => number }> {
    const proxy = await proxied()
    const woken: string[] = []
    let all = 0
    const store = closeWhenDone(await connect(proxy.url, { wake: (key) => woken.push(key), wakeAll: () => { all++ } }))
    return { store, proxy, woken, wokenAll: () => all }
  }
  /** Another instance, straight to Redis. */
  const other = async (): Promise<RedisTaskStore> => closeWhenDone(await connect(SHARED_REDIS, { wake: () => {}, wakeAll: () => {} }))

  it('is answered pending without a round trip, once; a look not held, or the next one, asks Redis', async () => {
    const { store, proxy } = await counted()
    const { requestId } = await store.createRequest(user(), user())
    const key = store.wakeKey({ kind: 'result', requestId })
    const before = proxy.sent('EVALSHA')
    const first = await store.takeResult(requestId, HELD, key)
    expect(first).toMatchObject({ status: 'pending' })
    expect(first.status === 'pending' && first.expiresInMs).toBeGreaterThan(LIMITS.ttlMs - 5000)
    expect(proxy.sent('EVALSHA')).toBe(before)
    expect(await store.takeResult(requestId, HELD, key)).toMatchObject({ status: 'pending' })
    expect(proxy.sent('EVALSHA')).toBe(before + 1)

    const second = await store.createRequest(user(), user())
    expect(await store.takeResult(second.requestId)).toMatchObject({ status: 'pending' })
    expect(proxy.sent('EVALSHA')).toBe(before + 3)
  })

  it('is not answered from the watch for a hold that looks once: an answer given elsewhere is found at once', async () => {
    const { store, proxy } = await counted()
    const elsewhere = await other()
    const { requestId } = await store.createRequest(user(), user())
    const key = store.wakeKey({ kind: 'result', requestId })
    expect(await elsewhere.submitAnswer(requestId, 'com.radolyn.ayugram')).toBe(true)
    // No wait for the wake-up: nothing would catch it for this look.
    const before = proxy.sent('EVALSHA')
    expect(await store.takeResult(requestId, ONCE, key)).toEqual({ status: 'completed', packageName: 'com.radolyn.ayugram' })
    expect(proxy.sent('EVALSHA')).toBeGreaterThan(before)
  })

  it('finds an answer another instance gave before it, once the wake-up has come', async () => {
    const { store, woken } = await counted()
    const elsewhere = await other()
    const { requestId } = await store.createRequest(user(), user())
    const key = store.wakeKey({ kind: 'result', requestId })
    expect(await elsewhere.submitAnswer(requestId, 'com.radolyn.ayugram')).toBe(true)
    await eventually(() => woken.includes(key), { timeoutMs: 3000 })
    expect(await store.takeResult(requestId, HELD, key)).toEqual({ status: 'completed', packageName: 'com.radolyn.ayugram' })
  })

  it('finds it through a held poll, whether the wake-up comes before or during the hold', async () => {
    const relay = await relayBehind(await proxied())
    const elsewhere = await other()
    for (let i = 0; i < 10; i++) {
      const { requestId } = await relay.createRequest(user(), user())
      const answered = elsewhere.submitAnswer(requestId, 'org.telegram.messenger')
      // Every other time, the wake-up has come before the poll (it takes well under 50 ms here).
      if (i % 2 === 1) await answered.then(async () => { await sleep(50) })
      // Had the hold missed its wake-up, it would answer pending after the whole wait.
      const result = await heldResult(relay, requestId, 20_000)
      expect(result).toEqual({ status: 'completed', packageName: 'org.telegram.messenger' })
      expect(await answered).toBe(true)
    }
  })

  it('vouches for nothing once wake-ups may have been lost (the subscriber dropped and came back)', async () => {
    const { store, proxy, wokenAll } = await counted()
    const elsewhere = await other()
    const { requestId } = await store.createRequest(user(), user())
    const key = store.wakeKey({ kind: 'result', requestId })
    proxy.cutSubscriber(300)
    await sleep(100)
    // Its wake-up is published while nobody here listens.
    expect(await elsewhere.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(true)
    await eventually(() => wokenAll() > 0, { timeoutMs: 5000, message: 'the subscriber to be back' })
    expect(await store.takeResult(requestId, HELD, key)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
  })

  it('finds an answer whose wake-up was still on its way when the look was spared, v1 and v2', async () => {
    const proxy = await proxied()
    const relay = await relayBehind(proxy)
    const elsewhere = await other()
    const [alice, bob] = [user(), user()]
    const v1 = await relay.createRequest(alice, bob)
    const v2 = await relay.ask(alice, bob, { named: false })
    const before = proxy.sent('EVALSHA')
    // (Briefly: a pub/sub connection that answers no PING for a second is reconnected.)
    proxy.holdSubscriber()
    expect(await elsewhere.submitAnswer(v1.requestId, 'com.radolyn.ayugram')).toBe(true)
    expect(await elsewhere.answerAs(bob, v2.requestId, { kind: 'plain', packageName: 'com.exteragram.messenger' })).toBe('accepted')
    const results = Promise.all([heldResult(relay, v1.requestId, 20_000), heldOwnResult(relay, alice, v2.requestId, 20_000)])
    await eventually(() => relay.heldPolls() === 2, { timeoutMs: 3000 })
    await sleep(100)
    // Both looks were spared: they hold on the watch's word, with the wake-ups held back.
    expect(proxy.sent('EVALSHA')).toBe(before)
    proxy.releaseSubscriber()
    expect(await results).toEqual([
      { status: 'completed', packageName: 'com.radolyn.ayugram' },
      { status: 'completed', answer: { kind: 'plain', packageName: 'com.exteragram.messenger' }, verified: true }
    ])
  })

  it('is the asker\'s alone for a v2 request: anyone else\'s held look asks Redis and finds it expired', async () => {
    const { store, proxy } = await counted()
    const [alice, bob, mallory] = [user(), user(), user()]
    const { requestId } = await store.ask(alice, bob, { named: true })
    const key = store.wakeKey({ kind: 'result', requestId })
    const before = proxy.sent('EVALSHA')
    expect(await store.resultFor(mallory, requestId, HELD, key)).toEqual({ status: 'expired' })
    expect(await store.takeResult(requestId, HELD, key)).toEqual({ status: 'expired' })
    expect(proxy.sent('EVALSHA')).toBe(before + 2)
    expect(await store.resultFor(alice, requestId, HELD, key)).toMatchObject({ status: 'pending' })
    expect(proxy.sent('EVALSHA')).toBe(before + 2)
  })
})
