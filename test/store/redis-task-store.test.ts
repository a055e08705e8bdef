import { afterAll } from 'vitest'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import { Wakeups } from '../../src/store/wakeups.js'
import { storeConformance } from './conformance.js'
import { deleteKeys, SHARED_REDIS, TEST_STORE_KEY, testPrefix } from './redis-helper.js'

const prefixes: string[] = []
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
})

storeConformance('redis', async (limits) => {
  const prefix = testPrefix()
  prefixes.push(prefix)
  return RedisTaskStore.connect({ ...limits, wakeups: new Wakeups(limits), url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix })
})
