import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type RedisClientType } from 'redis'
import { connectRedisSeenOnce, RedisSeenOnce } from '../../src/identity/redis-seen-once.js'
import { closeWhenDone, eventually, sleep } from '../helper.js'
import { deleteKeys, dumpKeys, SHARED_REDIS, startPrivateRedis, testPrefix } from '../store/redis-helper.js'
import { TcpProxy } from '../store/tcp-proxy.js'
import { seenOnceConformance } from './seen-once-conformance.js'

const prefixes: string[] = []
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

seenOnceConformance('redis', async () => {
  const prefix = testPrefix()
  prefixes.push(prefix)
  return connectRedisSeenOnce({ url: SHARED_REDIS, secret: randomBytes(32), prefix })
})

/** A RedisSeenOnce on a private Redis through a proxy, its connection made and used once (`a`). */
async function behindProxy (): Promise<{ cut: TcpProxy, memory: RedisSeenOnce }> {
  const redis = await startPrivateRedis()
  const cut = closeWhenDone(await TcpProxy.start(redis.port))
  const memory = closeWhenDone(await connectRedisSeenOnce({ url: cut.url, secret: randomBytes(32), prefix: testPrefix(), deadlineMs: 1000 }))
  expect(await memory.firstTime('a', 60_000)).toBe(true)
  return { cut, memory }
}

describe('RedisSeenOnce', () => {
  let client: RedisClientType
  beforeAll(async () => {
    client = createClient({ url: SHARED_REDIS })
    await client.connect()
  })
  afterAll(() => { client.destroy() })

  it('is shared by every instance with the same secret and prefix, and by no other', async () => {
    const prefix = testPrefix()
    prefixes.push(prefix)
    const secret = randomBytes(32)
    const one = new RedisSeenOnce({ client, secret, prefix })
    const two = new RedisSeenOnce({ client, secret, prefix })
    const otherDeployment = new RedisSeenOnce({ client, secret: randomBytes(32), prefix })
    expect(await one.firstTime('user={"id":5}', 60_000)).toBe(true)
    expect(await two.firstTime('user={"id":5}', 60_000)).toBe(false)
    expect(await otherDeployment.firstTime('user={"id":5}', 60_000)).toBe(true)
  })

  it('keeps one key per init data, named by a keyed hash, with a TTL, and nothing in clear', async () => {
    const prefix = testPrefix()
    prefixes.push(prefix)
    const memory = new RedisSeenOnce({ client, secret: randomBytes(32), prefix })
    await memory.firstTime('auth_date=1800000000\nuser={"id":987654321}', 30_000)
    const keys = await dumpKeys(prefix)
    expect(keys).toHaveLength(1)
    expect(keys[0]?.key).toMatch(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}seen:[A-Za-z0-9_-]{22}$`))
    expect(JSON.stringify(keys)).not.toContain('987654321')
    const ttl = await client.pTTL(keys[0]?.key as string)
    expect(ttl).toBeGreaterThan(20_000)
    expect(ttl).toBeLessThanOrEqual(30_000)
  })

  it('answers 503 while Redis is gone, and works again when it is back', async () => {
    const redis = await startPrivateRedis()
    const memory = closeWhenDone(await connectRedisSeenOnce({ url: redis.url, secret: randomBytes(32), prefix: testPrefix(), deadlineMs: 300 }))
    expect(await memory.firstTime('a', 60_000)).toBe(true)
    await redis.stop()
    await expect(memory.firstTime('b', 60_000)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE', statusCode: 503 })
    await redis.start()
    // The first answer once Redis is back: `b` was refused above, so it is new.
    const back = await eventually(async () => memory.firstTime('b', 60_000).then((first) => ({ first }), () => undefined),
      { timeoutMs: 10_000, intervalMs: 50, message: 'Redis to answer again' })
    expect(back.first).toBe(true)
  })

  it('answers 503 within its deadline while Redis is frozen, and works again once it runs', async () => {
    const redis = await startPrivateRedis()
    const memory = closeWhenDone(await connectRedisSeenOnce({ url: redis.url, secret: randomBytes(32), prefix: testPrefix(), deadlineMs: 1000 }))
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

  it('connects again when a sign-in finds its connection silent, instead of failing until TCP gives the socket up', async () => {
    const { cut, memory } = await behindProxy()
    // A half-open socket: node-redis still says it is up, and nothing reaches Redis.
    cut.silenceCommands()
    const started = Date.now()
    await expect(memory.firstTime('b', 60_000)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE', statusCode: 503 })
    const back = await eventually(async () => memory.firstTime('b', 60_000).then((first) => ({ first }), () => undefined),
      { timeoutMs: 10_000, intervalMs: 50, message: 'a new connection to answer' })
    // `b` never reached Redis through the silent connection: it is new.
    expect(back.first).toBe(true)
    expect(cut.connections).toBe(2)
    // At once after the missed deadline, not at the idle timeout (5 s).
    expect(Date.now() - started).toBeLessThan(4000)
  })

  it('keeps a healthy idle connection: its pings keep the idle timeout (5 s) from closing it', async () => {
    const { cut, memory } = await behindProxy()
    await sleep(7000)
    expect(await memory.firstTime('b', 60_000)).toBe(true)
    expect(cut.connections).toBe(1)
  })

  it('connects again by itself when its idle connection goes silent, before any sign-in finds it', async () => {
    const { cut, memory } = await behindProxy()
    cut.silenceCommands()
    // Its ping goes unanswered, and the socket is idle from then on: closed after 5 s.
    await eventually(() => cut.connections === 2, { timeoutMs: 12_000, intervalMs: 100, message: 'a new connection' })
    await eventually(async () => memory.firstTime('b', 60_000).then((first) => ({ first }), () => undefined),
      { timeoutMs: 3000, intervalMs: 50, message: 'the new connection to answer' })
  })
})
