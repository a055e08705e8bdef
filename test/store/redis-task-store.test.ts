import { afterAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import type { StoreLimits } from '../../src/store/task-store.js'
import { eventually } from '../helper.js'
import { storeConformance, storeConformanceV2, type StoreFactory } from './conformance.js'
import { countedInRedis, deleteKeys, dumpKeys, SHARED_REDIS, TEST_STORE_KEY, testPrefix } from './redis-helper.js'

const prefixes: string[] = []
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

const LIMITS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }

const redis: StoreFactory = async (limits, listener) => {
  const prefix = testPrefix()
  prefixes.push(prefix)
  const store = await RedisTaskStore.connect({ ...limits, listener, url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix })
  return { store, counted: () => countedInRedis(prefix) }
}

storeConformance('redis', redis)
storeConformanceV2('redis', redis)

describe('RedisTaskStore at rest', () => {
  it('holds plain answers at one length, whatever the package name', async () => {
    const prefix = testPrefix()
    prefixes.push(prefix)
    const store = await RedisTaskStore.connect({ ...LIMITS, listener: { wake: () => {}, wakeAll: () => {} }, url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix })
    try {
      const names = ['com.radolyn.ayugram', 'org.telegram.messenger', 'com.exteragram.messenger', 'a.b']
      const asked = await Promise.all(names.map(async (_name, i) => store.createRequest(1000 + i, 2000 + i)))
      for (const [i, name] of names.entries()) expect(await store.submitAnswer((asked[i] as { requestId: string }).requestId, name)).toBe(true)
      const held = (await dumpKeys(prefix)).flatMap(({ value }) => {
        const answer = (JSON.parse(value.startsWith('{') ? value : '{}') as { a?: string }).a
        return answer === undefined ? [] : [answer.length]
      })
      expect(held).toHaveLength(names.length)
      expect(new Set(held).size).toBe(1)
      // ...and read back as given, the padding off.
      for (const [i, name] of names.entries()) expect(await store.takeResult((asked[i] as { requestId: string }).requestId)).toEqual({ status: 'completed', packageName: name })
    } finally {
      await store.close()
    }
  })
})

describe('RedisTaskStore.setOnce (lent to the v2 single-use memory)', () => {
  const limits = LIMITS
  const connect = async (prefix: string): Promise<RedisTaskStore> => {
    prefixes.push(prefix)
    return await RedisTaskStore.connect({ ...limits, listener: { wake: () => {}, wakeAll: () => {} }, url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix })
  }

  it('sets a key under the prefix once, for its TTL, across instances, and answers 503 once closed', async () => {
    const prefix = testPrefix()
    const [one, two] = [await connect(prefix), await connect(prefix)]
    try {
      expect(await one.setOnce('seen:a', 30_000)).toBe(true)
      expect(await two.setOnce('seen:a', 30_000)).toBe(false)
      expect(await two.setOnce('seen:b', 30_000)).toBe(true)
      const keys = await dumpKeys(prefix)
      expect(keys.map((k) => k.key).sort()).toEqual([`${prefix}seen:a`, `${prefix}seen:b`])
      const client = createClient({ url: SHARED_REDIS })
      await client.connect()
      try {
        const ttl = await client.pTTL(`${prefix}seen:a`)
        expect(ttl).toBeGreaterThan(20_000)
        expect(ttl).toBeLessThanOrEqual(30_000)
      } finally {
        client.destroy()
      }
      // Gone once its time is up.
      expect(await one.setOnce('seen:c', 100)).toBe(true)
      await eventually(() => one.setOnce('seen:c', 100), { timeoutMs: 2000, intervalMs: 50, message: 'the key to expire' })
    } finally {
      await one.close()
      await two.close()
    }
    await expect(one.setOnce('seen:d', 30_000)).rejects.toMatchObject({ code: 'WC_ERR_STORE_UNAVAILABLE', statusCode: 503 })
  })
})
