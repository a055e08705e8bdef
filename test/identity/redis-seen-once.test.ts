import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type RedisClientType } from 'redis'
import { connectRedisSeenOnce, RedisSeenOnce } from '../../src/identity/redis-seen-once.js'
import { deleteKeys, dumpKeys, freePort, PrivateRedis, SHARED_REDIS, testPrefix } from '../store/redis-helper.js'
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
    const redis = new PrivateRedis(await freePort())
    await redis.start()
    const memory = await connectRedisSeenOnce({ url: redis.url, secret: randomBytes(32), prefix: testPrefix(), commandTimeoutMs: 300 })
    try {
      expect(await memory.firstTime('a', 60_000)).toBe(true)
      await redis.stop()
      await expect(memory.firstTime('b', 60_000)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE', statusCode: 503 })
      await redis.start()
      let back: boolean | undefined
      for (let i = 0; i < 100 && back === undefined; i++) {
        back = await memory.firstTime('b', 60_000).catch(async () => { await new Promise((resolve) => setTimeout(resolve, 50)); return undefined })
      }
      expect(back).toBe(true)
    } finally {
      await memory.close()
      await redis.stop()
    }
  })
})
