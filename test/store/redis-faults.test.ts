/**
 * The Redis store against a redis-server the test controls: slept
 * (DEBUG SLEEP), frozen (SIGSTOP), and behind a proxy that cuts a reply in
 * the middle or drops the pub/sub connection. Every call stays bounded, and
 * every call that may have taken effect unseen gives the same result when
 * retried: nothing lost, nothing delivered twice.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { Relay } from '../../src/relay/relay.js'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import { SCRIPTS } from '../../src/store/redis/scripts.js'
import type { StoreLimits, StoreListener, TaskStore } from '../../src/store/task-store.js'
import { sleep } from '../helper.js'
import { eventually } from './conformance.js'
import { freePort, PrivateRedis, TEST_STORE_KEY } from './redis-helper.js'
import { TcpProxy } from './tcp-proxy.js'

const LIMITS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }
const NO_LISTENER: StoreListener = { wake: () => {}, wakeAll: () => {} }

let redis: PrivateRedis
const closing: Array<{ close: () => Promise<void> }> = []
let nextUser = 1000

beforeAll(async () => {
  redis = new PrivateRedis(await freePort(), ['--enable-debug-command', 'local'])
  await redis.start()
})
afterEach(async () => {
  redis.thaw()
  await Promise.all(closing.splice(0).map((c) => c.close()))
})
afterAll(async () => { await redis.stop() })

async function store (url = redis.url, listener = NO_LISTENER): Promise<RedisTaskStore> {
  const made = await RedisTaskStore.connect({ ...LIMITS, listener, url, storeKey: TEST_STORE_KEY, prefix: 'faults:' })
  closing.push(made)
  return made
}

async function proxy (): Promise<TcpProxy> {
  const made = await TcpProxy.start(redis.port)
  closing.push(made)
  return made
}

/** Runs `call` and says how it ended and after how long. */
async function timed<T> (call: Promise<T>): Promise<{ ms: number, value?: T, error?: { code?: string } }> {
  const started = Date.now()
  try {
    const value = await call
    return { ms: Date.now() - started, value }
  } catch (error) {
    return { ms: Date.now() - started, error: error as { code?: string } }
  }
}

/** Retries `call` until it stops answering 503, as a client would. */
async function retried<T> (call: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await call()
    } catch (err) {
      if ((err as { code?: string }).code !== 'WC_ERR_STORE_UNAVAILABLE' || i > 100) throw err
      await sleep(50)
    }
  }
}

describe('a Redis that stops answering', () => {
  it('answers 503 within about a second while Redis sleeps, then serves again', async () => {
    const s = await store()
    const { requestId } = await s.createRequest(++nextUser, ++nextUser)
    const sleeper = createClient({ url: redis.url })
    await sleeper.connect()
    const sleeping = sleeper.sendCommand(['DEBUG', 'SLEEP', '4'])
    await sleep(100)
    const during = await timed(s.takeResult(requestId))
    expect(during.error?.code).toBe('WC_ERR_STORE_UNAVAILABLE')
    expect(during.ms).toBeLessThan(3000)
    expect(s.isReady()).toBe(false)
    // Known unreachable: the next call fails at once, without waiting for a deadline.
    expect((await timed(s.pendingTasks(1))).error?.code).toBe('WC_ERR_STORE_UNAVAILABLE')
    await sleeping
    sleeper.destroy()
    await eventually(async () => s.isReady(), 3000)
    expect(await s.takeResult(requestId)).toMatchObject({ status: 'pending' })
  })

  it('makes a call that timed out and landed later harmless: the retry finds what it did', async () => {
    const s = await store()
    const [alice, bob] = [++nextUser, ++nextUser]
    await s.createRequest(++nextUser, ++nextUser) // scripts loaded before the freeze
    redis.freeze()
    const create = await timed(s.createRequest(alice, bob))
    expect(create.error?.code).toBe('WC_ERR_STORE_UNAVAILABLE')
    redis.thaw()
    // The create lands once Redis runs again; the retry finds it instead of making a second.
    const again = await retried(() => s.createRequest(alice, bob))
    expect(again.created).toBe(false)
    expect(await s.pendingTasks(bob)).toEqual([again.requestId])

    redis.freeze()
    expect((await timed(s.submitAnswer(again.requestId, 'com.exteragram.messenger'))).error?.code).toBe('WC_ERR_STORE_UNAVAILABLE')
    redis.thaw()
    expect(await retried(() => s.submitAnswer(again.requestId, 'com.exteragram.messenger'))).toBe(true)

    redis.freeze()
    expect((await timed(s.takeResult(again.requestId))).error?.code).toBe('WC_ERR_STORE_UNAVAILABLE')
    redis.thaw()
    // The take landed and handed the answer out to nobody: the retry gets it once the hand-out settles.
    let result = await retried(() => s.takeResult(again.requestId))
    for (let i = 0; i < 100 && result.status === 'pending'; i++) {
      await sleep(100)
      result = await retried(() => s.takeResult(again.requestId))
    }
    expect(result).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
    expect(await s.takeResult(again.requestId)).toEqual({ status: 'expired' })
  })
})

describe('a reply cut in the middle', () => {
  it('loses no answer: the retried read gets it, and only once', async () => {
    const writer = await store()
    const cut = await proxy()
    const reader = await store(cut.url)
    const { requestId } = await writer.createRequest(++nextUser, ++nextUser)
    await reader.takeResult(requestId) // the take script is loaded: the next one goes by its SHA1
    expect(await writer.submitAnswer(requestId, 'com.radolyn.ayugram')).toBe(true)
    cut.cutReplyTo(SCRIPTS.wcTake.SHA1)
    await expect(reader.takeResult(requestId)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE' })
    let result = await retried(() => reader.takeResult(requestId))
    // Until the first hand-out settles, another reader only hears to look again.
    for (let i = 0; i < 100 && result.status === 'pending'; i++) {
      await sleep(100)
      result = await retried(() => reader.takeResult(requestId))
    }
    expect(result).toEqual({ status: 'completed', packageName: 'com.radolyn.ayugram' })
    expect(await writer.takeResult(requestId)).toEqual({ status: 'expired' })
  })

  it('lets a retried submit succeed after its reply was cut', async () => {
    const cut = await proxy()
    const s = await store(cut.url)
    const { requestId } = await s.createRequest(++nextUser, ++nextUser)
    await s.submitAnswer('00000000-0000-4000-8000-000000000000', 'x')
    cut.cutReplyTo(SCRIPTS.wcSubmit.SHA1)
    await expect(s.submitAnswer(requestId, 'tw.nekomimi.nekogram')).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE' })
    expect(await retried(() => s.submitAnswer(requestId, 'tw.nekomimi.nekogram'))).toBe(true)
    expect(await retried(() => s.submitAnswer(requestId, 'org.telegram.messenger'))).toBe(false)
  })

  it('gives a retried create the request the first one made', async () => {
    const cut = await proxy()
    const s = await store(cut.url)
    const [alice, bob] = [++nextUser, ++nextUser]
    await s.createRequest(++nextUser, ++nextUser)
    cut.cutReplyTo(SCRIPTS.wcCreate.SHA1)
    await expect(s.createRequest(alice, bob)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE' })
    const again = await retried(() => s.createRequest(alice, bob))
    expect(again.created).toBe(false)
    expect(await s.pendingTasks(bob)).toEqual([again.requestId])
  })
})

describe('the pub/sub connection going away', () => {
  it('makes every held poll look again once it is back', async () => {
    const cut = await proxy()
    const writer = await store()
    const relay = await Relay.open((listener) => store(cut.url, listener), { maxPerKey: 4, maxTotal: 100 })
    const bob = ++nextUser
    const held = timed(relay.tasksFor(bob, 8000))
    await eventually(async () => relay.heldPolls() === 1)
    // Wake-ups published while the subscriber reconnects are lost.
    cut.cutSubscriber(600)
    await sleep(300)
    const { requestId } = await writer.createRequest(++nextUser, bob)
    const released = await held
    expect(released.value).toEqual([requestId])
    expect(released.ms).toBeLessThan(6000)
  })
})

describe('closing', () => {
  it('does not wait for a frozen Redis to answer what is in flight', async () => {
    const s: TaskStore = await store()
    redis.freeze()
    const inFlight = s.pendingTasks(1).catch(() => {})
    const closed = await timed(Promise.race([s.close(), sleep(8000).then(() => { throw new Error('close still waits') })]))
    expect(closed.error).toBeUndefined()
    expect(closed.ms).toBeLessThan(5000)
    await inFlight
  })
})
