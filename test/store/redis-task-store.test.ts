import { afterAll } from 'vitest'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import { storeConformance, storeConformanceV2, type StoreFactory } from './conformance.js'
import { countedInRedis, deleteKeys, SHARED_REDIS, TEST_STORE_KEY, testPrefix } from './redis-helper.js'

const prefixes: string[] = []
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

const redis: StoreFactory = async (limits, listener) => {
  const prefix = testPrefix()
  prefixes.push(prefix)
  const store = await RedisTaskStore.connect({ ...limits, listener, url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix })
  return { store, counted: () => countedInRedis(prefix) }
}

storeConformance('redis', redis)
storeConformanceV2('redis', redis)
