import { afterEach, describe, expect, it, vi } from 'vitest'
import { MemoryTaskStore } from '../../src/store/memory-task-store.js'
import { sleep } from '../helper.js'
import { storeConformance } from './conformance.js'

storeConformance('memory', async (limits, listener) => {
  const store = new MemoryTaskStore({ ...limits, listener })
  return { store, counted: async () => store.size() }
})

describe('memory store clock', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('expires on time when the wall clock steps back', async () => {
    const store = new MemoryTaskStore({ ttlMs: 300, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, listener: { wake: () => {}, wakeAll: () => {} } })
    try {
      const first = await store.createRequest(1, 2)
      // NTP steps the clock back an hour.
      const stepped = Date.now() - 3_600_000
      vi.spyOn(Date, 'now').mockImplementation(() => stepped)
      await sleep(400)
      expect(await store.pendingTasks(2)).toEqual([])
      expect(await store.takeResult(first.requestId)).toEqual({ status: 'expired' })
      const again = await store.createRequest(1, 2)
      expect(again.created).toBe(true)
      expect(again.requestId).not.toBe(first.requestId)
    } finally {
      await store.close()
    }
  })
})
