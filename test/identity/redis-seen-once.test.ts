import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { signInitData } from '../../src/identity/init-data.js'
import { RedisSeenOnce } from '../../src/identity/redis-seen-once.js'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import type { StoreLimits, StoreListener } from '../../src/store/task-store.js'
import { BOT_TOKEN, build, closeWhenDone, eventually, signInWith, userIds } from '../helper.js'
import { deleteKeys, dumpKeys, SHARED_REDIS, startPrivateRedis, testPrefix } from '../store/redis-helper.js'
import { TcpProxy } from '../store/tcp-proxy.js'
import { seenOnceConformance } from './seen-once-conformance.js'

const NO_LISTENER: StoreListener = { wake: () => {}, wakeAll: () => {} }
const LIMITS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 10, maxPendingTotal: 1000, retryGraceMs: 5000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }
const user = userIds()
const prefixes: string[] = []
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

/** A task store, as an instance of a deployment opens it: the single-use memory borrows its connection. */
async function store (url = SHARED_REDIS, prefix = testPrefix(), callTimeoutMs?: number): Promise<RedisTaskStore> {
  prefixes.push(prefix)
  return closeWhenDone(await RedisTaskStore.connect({ ...LIMITS, listener: NO_LISTENER, url, prefix, storeKey: randomBytes(32), callTimeoutMs }))
}

// Without the minute kept for other instances' clocks, so that "forgets once its time is up" need not wait it out.
seenOnceConformance('redis', async () => new RedisSeenOnce({ redis: await store(), secret: randomBytes(32), clockSkewMs: 0 }))

describe('RedisSeenOnce', () => {
  it('is shared by every instance with the same secret and prefix, and by no other', async () => {
    const prefix = testPrefix()
    const secret = randomBytes(32)
    const one = new RedisSeenOnce({ redis: await store(SHARED_REDIS, prefix), secret })
    const two = new RedisSeenOnce({ redis: await store(SHARED_REDIS, prefix), secret })
    const otherDeployment = new RedisSeenOnce({ redis: await store(SHARED_REDIS, prefix), secret: randomBytes(32) })
    expect(await one.firstTime('user={"id":5}', 60_000)).toBe(true)
    expect(await two.firstTime('user={"id":5}', 60_000)).toBe(false)
    expect(await otherDeployment.firstTime('user={"id":5}', 60_000)).toBe(true)
  })

  it('keeps one key per init data, named by a keyed hash, for its freshness and a minute more, and nothing in clear', async () => {
    const prefix = testPrefix()
    const memory = new RedisSeenOnce({ redis: await store(SHARED_REDIS, prefix), secret: randomBytes(32) })
    await memory.firstTime('auth_date=1800000000\nuser={"id":987654321}', 30_000)
    const keys = await dumpKeys(prefix)
    expect(keys).toHaveLength(1)
    expect(keys[0]?.key).toMatch(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}seen:[A-Za-z0-9_-]{22}$`))
    expect(JSON.stringify(keys)).not.toContain('987654321')
    const client = createClient({ url: SHARED_REDIS })
    await client.connect()
    try {
      // A minute past the 30 s asked for: another instance whose clock runs behind must still find it.
      const ttl = await client.pTTL(keys[0]?.key as string)
      expect(ttl).toBeGreaterThan(80_000)
      expect(ttl).toBeLessThanOrEqual(90_000)
    } finally {
      client.destroy()
    }
  })

  it('answers 503 while Redis is gone, and works again when it is back', async () => {
    const redis = await startPrivateRedis()
    const memory = new RedisSeenOnce({ redis: await store(redis.url, testPrefix(), 300), secret: randomBytes(32) })
    expect(await memory.firstTime('a', 60_000)).toBe(true)
    await redis.stop()
    await expect(memory.firstTime('b', 60_000)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE', statusCode: 503 })
    await redis.start()
    // The first answer once Redis is back: `b` was refused above, so it is new.
    const back = await eventually(async () => memory.firstTime('b', 60_000).then((first) => ({ first }), () => undefined),
      { timeoutMs: 10_000, intervalMs: 50, message: 'Redis to answer again' })
    expect(back.first).toBe(true)
  })

  it('answers 503 within the store\'s deadline while Redis is frozen, and works again once it runs', async () => {
    const redis = await startPrivateRedis()
    const memory = new RedisSeenOnce({ redis: await store(redis.url, testPrefix(), 1000), secret: randomBytes(32) })
    expect(await memory.firstTime('a', 60_000)).toBe(true)
    redis.freeze()
    try {
      const started = Date.now()
      await expect(memory.firstTime('b', 60_000)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE', statusCode: 503 })
      expect(Date.now() - started).toBeLessThan(3000)
    } finally {
      redis.thaw()
    }
    // `b` may have landed once Redis ran again (a retried sign-in is then a replay): `c` is new.
    const back = await eventually(async () => memory.firstTime('c', 60_000).then((first) => ({ first }), () => undefined),
      { timeoutMs: 5000, intervalMs: 50, message: 'Redis to answer again' })
    expect(back.first).toBe(true)
  })
})

describe('sign-in in Redis mode', () => {
  it('rides the task store\'s command connection: two connections in all, and a silent one is replaced by the store\'s watch', async () => {
    const redis = await startPrivateRedis()
    const cut = closeWhenDone(await TcpProxy.start(redis.port))
    const server = await build({ STORE: 'redis', REDIS_URL: cut.url, REDIS_KEY_PREFIX: testPrefix(), STORE_KEY: randomBytes(32).toString('hex'), TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    expect((await signInWith(server.url, signInitData({ botToken: BOT_TOKEN, user: user() }))).status).toBe(200)
    // The task store's commands and wake-ups, and no connection of sign-in's own.
    expect(cut.connections).toBe(2)
    expect(cut.subscriptions).toBe(1)
    // A half-open command connection: a sign-in fails (503: its first store call, marking the
    // user signed in, misses the deadline) until the store's heartbeat has found it and
    // connected again; then its SET, through the new connection, lets it in.
    cut.silenceCommands()
    expect((await signInWith(server.url, signInitData({ botToken: BOT_TOKEN, user: user() }))).status).toBe(503)
    await eventually(async () => (await signInWith(server.url, signInitData({ botToken: BOT_TOKEN, user: user() }))).status === 200,
      { timeoutMs: 10_000, intervalMs: 100, message: 'sign-in to work again' })
    expect(cut.connections).toBe(3)
  })
})
