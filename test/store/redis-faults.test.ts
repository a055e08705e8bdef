/**
 * The Redis store against a redis-server the test controls: slept
 * (DEBUG SLEEP), frozen (SIGSTOP), and behind a proxy that cuts a reply in
 * the middle, drops the pub/sub connection or silences a connection. Every
 * call stays bounded, and every call that may have taken effect unseen gives
 * the same result when retried: nothing lost, nothing delivered twice (a
 * delivery whose confirmation fails unsent is the documented exception).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { Relay } from '../../src/relay/relay.js'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import { SCRIPTS } from '../../src/store/redis/scripts.js'
import type { StoreLimits, StoreListener, TaskStore } from '../../src/store/task-store.js'
import { closeWhenDone, eventually, heldPollsBecome, sleep, userIds } from '../helper.js'
import { heldTasks } from '../kit/held.js'
import { PrivateRedis, startPrivateRedis, TEST_STORE_KEY } from './redis-helper.js'
import { TcpProxy } from './tcp-proxy.js'

const LIMITS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }
const NO_LISTENER: StoreListener = { wake: () => {}, wakeAll: () => {} }

let redis: PrivateRedis
const user = userIds()

beforeAll(async () => {
  redis = await startPrivateRedis(['--enable-debug-command', 'local'])
})
afterEach(() => { redis.thaw() })

/** A store on `url`; `said` collects what it tells the log ('down: <reason>', 'up', 'warn: <message>'). */
async function store (url = redis.url, listener = NO_LISTENER, said: string[] = []): Promise<RedisTaskStore> {
  const onStateChange = (state: 'up' | 'down', reason?: string): void => { said.push(state === 'up' ? 'up' : `down: ${reason}`) }
  const onWarning = (message: string): void => { said.push(`warn: ${message}`) }
  return closeWhenDone(await RedisTaskStore.connect({ ...LIMITS, listener, url, storeKey: TEST_STORE_KEY, prefix: 'faults:', onStateChange, onWarning }))
}

async function proxy (): Promise<TcpProxy> {
  return closeWhenDone(await TcpProxy.start(redis.port))
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
  const answer = await eventually(async () => {
    try {
      return { value: await call() }
    } catch (err) {
      if ((err as { code?: string }).code !== 'WC_ERR_STORE_UNAVAILABLE') throw err
      return undefined
    }
  }, { timeoutMs: 5000, intervalMs: 50, message: 'the store to answer again' })
  return answer.value
}

/** Takes the result of `requestId` until it is no longer pending, as a reader looks again after a hand-out it did not hear. */
async function settledResult (s: RedisTaskStore, requestId: string): Promise<Awaited<ReturnType<RedisTaskStore['takeResult']>>> {
  return eventually(async () => {
    const result = await retried(() => s.takeResult(requestId))
    return result.status === 'pending' ? undefined : result
  }, { timeoutMs: 10_000, intervalMs: 100, message: 'the result to settle' })
}

describe('a Redis that stops answering', () => {
  it('answers 503 within about a second while Redis sleeps, then serves again', async () => {
    const s = await store()
    const { requestId } = await s.createRequest(user(), user())
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
    await eventually(() => s.isReady(), { timeoutMs: 3000 })
    expect(await s.takeResult(requestId)).toMatchObject({ status: 'pending' })
  })

  it('makes a call that timed out and landed later harmless: the retry finds what it did', async () => {
    const s = await store()
    const [alice, bob] = [user(), user()]
    await s.createRequest(user(), user()) // scripts loaded before the freeze
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
    const result = await settledResult(s, again.requestId)
    expect(result).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
    expect(await s.takeResult(again.requestId)).toEqual({ status: 'expired' })
  })
})

describe('a reply cut in the middle', () => {
  it('loses no answer: the retried read gets it, and only once', async () => {
    const writer = await store()
    const cut = await proxy()
    const reader = await store(cut.url)
    const { requestId } = await writer.createRequest(user(), user())
    await reader.takeResult(requestId) // the take script is loaded: the next one goes by its SHA1
    expect(await writer.submitAnswer(requestId, 'com.radolyn.ayugram')).toBe(true)
    cut.cutReplyTo(SCRIPTS.wcTake.SHA1)
    await expect(reader.takeResult(requestId)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE' })
    // Until the first hand-out settles, another reader only hears to look again.
    const result = await settledResult(reader, requestId)
    expect(result).toEqual({ status: 'completed', packageName: 'com.radolyn.ayugram' })
    expect(await writer.takeResult(requestId)).toEqual({ status: 'expired' })
  })

  it('gives the reader its answer when the confirmation ran but its reply was lost', async () => {
    const writer = await store()
    const cut = await proxy()
    const reader = await store(cut.url)
    // One answer read first: from then on the confirmation goes by its SHA1.
    const earlier = await writer.createRequest(user(), user())
    await writer.submitAnswer(earlier.requestId, 'org.telegram.messenger')
    await reader.takeResult(earlier.requestId)
    const { requestId } = await writer.createRequest(user(), user())
    expect(await writer.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(true)
    cut.cutReplyTo(SCRIPTS.wcDelivered.SHA1)
    expect(await reader.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
    // It ran: the answer is forgotten, as after any delivery.
    expect(await writer.takeResult(requestId)).toEqual({ status: 'expired' })
  })

  it('lets a retried submit succeed after its reply was cut', async () => {
    const cut = await proxy()
    const s = await store(cut.url)
    const { requestId } = await s.createRequest(user(), user())
    await s.submitAnswer('00000000-0000-4000-8000-000000000000', 'x')
    cut.cutReplyTo(SCRIPTS.wcSubmit.SHA1)
    await expect(s.submitAnswer(requestId, 'tw.nekomimi.nekogram')).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE' })
    expect(await retried(() => s.submitAnswer(requestId, 'tw.nekomimi.nekogram'))).toBe(true)
    expect(await retried(() => s.submitAnswer(requestId, 'org.telegram.messenger'))).toBe(false)
  })

  it('gives a retried create the request the first one made', async () => {
    const cut = await proxy()
    const s = await store(cut.url)
    const [alice, bob] = [user(), user()]
    await s.createRequest(user(), user())
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
    const bob = user()
    const held = timed(heldTasks(relay, bob, 8000))
    await heldPollsBecome(relay, 1)
    // Wake-ups published while the subscriber reconnects are lost.
    cut.cutSubscriber(600)
    await sleep(300)
    const { requestId } = await writer.createRequest(user(), bob)
    const released = await held
    expect(released.value).toEqual([requestId])
    expect(released.ms).toBeLessThan(6000)
  })
})

describe('the pub/sub connection going silent', () => {
  it('is found by the heartbeat and connected again, and every held poll looks again', async () => {
    const cut = await proxy()
    const writer = await store()
    let wokenAll = 0
    const said: string[] = []
    const relay = await Relay.open(async (listener) => store(cut.url, { wake: listener.wake, wakeAll: () => { wokenAll++; listener.wakeAll() } }, said), { maxPerKey: 4, maxTotal: 100 })
    closeWhenDone(relay)
    const bob = user()
    // A task poll whose wait ends with no wake-up answers the empty list without looking again.
    const held = timed(heldTasks(relay, bob, 15_000))
    await heldPollsBecome(relay, 1)
    // Its first look is done (else it could find the request below by itself).
    await sleep(300)
    const wokenAtStart = wokenAll
    // A half-open socket: node-redis still says it is up, and the wake-up below never arrives.
    cut.silenceSubscriber()
    const { requestId } = await writer.createRequest(user(), bob)
    const released = await held
    expect(released.value).toEqual([requestId])
    expect(released.ms).toBeLessThan(10_000)
    // Released by the look that the lost connection called for.
    expect(wokenAll).toBeGreaterThan(wokenAtStart)
    expect(said).toContain('down: wake-ups silent')
    // Wake-ups come through the new connection, once it is up and subscribed.
    await eventually(() => relay.isReady(), { timeoutMs: 5000, message: 'the store to be ready again' })
    const carol = user()
    const next = timed(heldTasks(relay, carol, 15_000))
    await heldPollsBecome(relay, 1)
    // Its first look is done: only a wake-up releases it before its wait ends.
    await sleep(300)
    const forCarol = await writer.createRequest(user(), carol)
    const woken = await next
    expect(woken.value).toEqual([forCarol.requestId])
    expect(woken.ms).toBeLessThan(10_000)
    expect(cut.subscriptions).toBe(2)
    expect(said).toEqual(['warn: the Redis connection for wake-ups went silent: connecting it again', 'down: wake-ups silent', 'up'])
  })

  it('is not taken for gone while Redis itself is frozen: that is a stall, and the connection stays', async () => {
    const cut = await proxy()
    const relay = await Relay.open((listener) => store(cut.url, listener), { maxPerKey: 4, maxTotal: 100 })
    closeWhenDone(relay)
    expect(cut.subscriptions).toBe(1)
    const held = timed(heldTasks(relay, user(), 15_000))
    await heldPollsBecome(relay, 1)
    redis.freeze()
    const answered = await held
    expect(answered.error?.code).toBe('WC_ERR_STORE_UNAVAILABLE')
    // Shorter than the clients' idle timeout (5 s), which reconnects both during a long freeze.
    await sleep(1000)
    redis.thaw()
    await eventually(() => relay.isReady(), { timeoutMs: 5000, message: 'the store to be ready again' })
    await sleep(1500)
    expect(cut.subscriptions).toBe(1)
    // Nor the command connection: both connections' pings waited alike.
    expect(cut.connections).toBe(2)
  })
})

describe('the command connection going silent', () => {
  it('is found by the heartbeat and connected again: calls answer 503 for about a second, then Redis serves again', async () => {
    const cut = await proxy()
    const said: string[] = []
    const s = await store(cut.url, NO_LISTENER, said)
    const [alice, bob] = [user(), user()]
    const { requestId } = await s.createRequest(alice, bob)
    expect(cut.connections).toBe(2)
    // A half-open socket: node-redis still says it is up, and no reply comes back.
    cut.silenceCommands()
    const during = await timed(s.takeResult(requestId))
    expect(during.error?.code).toBe('WC_ERR_STORE_UNAVAILABLE')
    expect(during.ms).toBeLessThan(3000)
    // Within `retried`'s five seconds, not the minutes TCP takes to give the socket up.
    expect(await retried(() => s.pendingTasks(bob))).toEqual([requestId])
    expect(cut.connections).toBe(3)
    expect(s.isReady()).toBe(true)
    // The missed deadline says it first; the reconnect says why.
    expect(said).toEqual(['down: Redis does not answer', 'warn: the Redis connection for commands went silent: connecting it again', 'up'])
    expect(await s.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(true)
    expect(await s.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
  })
})

describe('both connections going silent at once', () => {
  it('are closed by the idle timeout, with nothing to judge either by, and connected again', async () => {
    const cut = await proxy()
    const relay = await Relay.open((listener) => store(cut.url, listener), { maxPerKey: 4, maxTotal: 100 })
    closeWhenDone(relay)
    const bob = user()
    cut.silenceCommands()
    cut.silenceSubscriber()
    await eventually(() => !relay.isReady(), { timeoutMs: 3000, message: 'the store to be unreachable' })
    // Within seconds (the idle timeout is five), not the minutes TCP takes to give a socket up.
    await eventually(() => relay.isReady(), { timeoutMs: 15_000, intervalMs: 100, message: 'the store to be ready again' })
    expect(cut.connections).toBe(4)
    expect(cut.subscriptions).toBe(2)
    const writer = await store()
    const held = timed(heldTasks(relay, bob, 15_000))
    await heldPollsBecome(relay, 1)
    await sleep(300)
    const { requestId } = await writer.createRequest(user(), bob)
    expect((await held).value).toEqual([requestId])
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

describe('a Redis at its memory limit (maxmemory, noeviction)', () => {
  it('refuses new requests, asks and answers with 503 instead of writing past the limit, serves polls and deliveries, and takes them again once there is room', async () => {
    const s = closeWhenDone(await RedisTaskStore.connect({ ...LIMITS, maxPendingTotal: 100_000, listener: NO_LISTENER, url: redis.url, storeKey: TEST_STORE_KEY, prefix: 'full:' }))
    const admin = closeWhenDone(createClient({ url: redis.url }))
    await admin.connect()
    const used = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
    // The first calls load the scripts and grow Redis's own tables, by a few hundred KB.
    for (let i = 0; i < 20; i++) await Promise.all([s.createRequest(user(), user()), s.ask(user(), user(), { named: true })])
    const [answered, unanswered, bob] = [await s.createRequest(user(), user()), await s.createRequest(user(), user()), user()]
    expect(await s.submitAnswer(answered.requestId, 'com.radolyn.ayugram')).toBe(true)
    const limit = await used() + 100_000
    await admin.configSet('maxmemory', String(limit))
    try {
      const outcomes: string[] = []
      const outcome = async (call: Promise<unknown>): Promise<void> => {
        try {
          await call
          outcomes.push('ok')
        } catch (err) {
          outcomes.push((err as { code?: string }).code ?? String(err))
        }
      }
      // Each create and ask writes a few hundred bytes: 100 KB fills within the first few hundred.
      for (let i = 0; i < 1500; i++) await outcome(s.createRequest(user(), user()))
      for (let i = 0; i < 300; i++) await outcome(s.ask(user(), user(), { named: true }))
      const refused = outcomes.filter((o) => o === 'WC_ERR_STORE_UNAVAILABLE').length
      expect(new Set(outcomes)).toEqual(new Set(['ok', 'WC_ERR_STORE_UNAVAILABLE']))
      expect(refused).toBeGreaterThan(1000)
      // Past the limit by no more than one script's writes (and Redis's own buffers), not by megabytes.
      expect(await used() - limit).toBeLessThan(50_000)
      // Polls and deliveries go on: what was made can still be read. A new answer is a write like any other.
      expect(await s.pendingTasks(bob)).toEqual([])
      expect(await s.inbox(bob, undefined, Date.now() + 60_000)).toEqual([])
      expect(await s.takeResult(answered.requestId)).toEqual({ status: 'completed', packageName: 'com.radolyn.ayugram' })
      await expect(s.submitAnswer(unanswered.requestId, 'a.b')).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE' })
    } finally {
      await admin.configSet('maxmemory', '0')
    }
    await retried(() => s.createRequest(user(), user()))
  })
})
