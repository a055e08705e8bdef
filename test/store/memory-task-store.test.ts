import { describe, expect, it } from 'vitest'
import { MemoryTaskStore } from '../../src/store/memory-task-store.js'
import { sleep } from '../helper.js'
import type { StoreFactory } from './conformance.js'
import { storeConformance, storeConformanceV2 } from './conformance.js'

const memory: StoreFactory = async (limits, listener) => {
  const store = new MemoryTaskStore({ ...limits, listener })
  return { store, counted: async () => store.size() }
}

storeConformance('memory', memory)
storeConformanceV2('memory', memory)

describe('MemoryTaskStore: signed-in marks at their bound (MAX_SIGNED_IN_USERS)', () => {
  const make = (): MemoryTaskStore => new MemoryTaskStore({
    ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 3,
    listener: { wake: () => {}, wakeAll: () => {} }
  })

  it("counts only live marks, however often their users' polls renew them", async () => {
    const store = make()
    const aEnds = Date.now() + 300
    await store.markSignedIn(1, aEnds)
    await store.markSignedIn(2, Date.now() + 10_000)
    // User 1 polls on, each poll with their session's end (its figure jitters by a millisecond).
    for (let i = 0; i < 200; i++) await store.inbox(1, undefined, aEnds)
    await sleep(400)
    await store.markSignedIn(3, Date.now() + 10_000)
    // Live: 2 and 3. User 1's mark has ended and must not hold a place.
    await expect(store.markSignedIn(4, Date.now() + 10_000)).resolves.toBeUndefined()
    await expect(store.markSignedIn(5, Date.now() + 10_000)).rejects.toMatchObject({ code: 'WC_ERR_SIGN_INS_FULL' })
  })

  it('sweeps an ended mark that sits behind a live one before it refuses a sign-in', async () => {
    const store = make()
    await store.markSignedIn(1, Date.now() + 10_000)
    // Shorter than the one before it (sessions share one TTL, so only a test does this): out of expiry order.
    await store.markSignedIn(2, Date.now() + 200)
    await store.markSignedIn(3, Date.now() + 10_000)
    await sleep(300)
    await expect(store.markSignedIn(4, Date.now() + 10_000)).resolves.toBeUndefined()
    await expect(store.markSignedIn(5, Date.now() + 10_000)).rejects.toMatchObject({ code: 'WC_ERR_SIGN_INS_FULL' })
  })

  it("puts back a poller's mark at the bound once the map is swept, and shields them", async () => {
    const store = make()
    await store.markSignedIn(1, Date.now() + 10_000)
    await store.markSignedIn(2, Date.now() + 200)
    await store.markSignedIn(3, Date.now() + 10_000)
    await sleep(300)
    // User 4 holds a live token but no mark (as after a clock step): their poll marks them.
    await store.inbox(4, undefined, Date.now() + 10_000)
    expect(await store.pendingTasks(4)).toBeNull()
  })
})
