/**
 * The one suite every TaskStore adapter must pass (memory, Redis): v1
 * semantics, caps, dedupe, delivery once, retries, expiry, order and
 * wake-ups, with the concurrency a busy server brings.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { StoreLimits, StoreListener, TaskStore } from '../../src/store/task-store.js'
import { sleep } from '../helper.js'

/** A store under test, and how many requests it counts towards MAX_PENDING_TOTAL now (adapter-specific test code). */
export interface StoreUnderTest {
  store: TaskStore
  counted: () => Promise<number>
}

export type StoreFactory = (limits: StoreLimits, listener: StoreListener) => Promise<StoreUnderTest>

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const DEFAULTS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 100_000, retryGraceMs: 30_000 }

let nextId = Math.floor(Math.random() * 1e9) * 1000
/** Fresh user ids per test, so adapters sharing a backend do not see each other's data. */
const userId = (): number => ++nextId

/** A listener that records the wake keys it is told. */
function recorder (): StoreListener & { woken: string[], wokeAll: number } {
  const seen = { woken: [] as string[], wokeAll: 0 }
  return Object.assign(seen, {
    wake: (key: string) => { seen.woken.push(key) },
    wakeAll: () => { seen.wokeAll++ }
  })
}

export function storeConformance (name: string, factory: StoreFactory): void {
  describe(`TaskStore conformance: ${name}`, () => {
    const open: TaskStore[] = []
    const make = async (limits: Partial<StoreLimits> = {}, listener: StoreListener = recorder()): Promise<StoreUnderTest> => {
      const made = await factory({ ...DEFAULTS, ...limits }, listener)
      open.push(made.store)
      return made
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()))
    })

    it('creates requests and lists them for their target only, oldest first', async () => {
      const { store } = await make()
      const [alice, carol, bob, dave] = [userId(), userId(), userId(), userId()]
      const first = await store.createRequest(alice, bob)
      const second = await store.createRequest(carol, bob)
      expect(first.requestId).toMatch(UUID4)
      expect(first.created).toBe(true)
      expect(second.requestId).not.toBe(first.requestId)
      expect(await store.pendingTasks(bob)).toEqual([first.requestId, second.requestId])
      expect(await store.pendingTasks(dave)).toEqual([])
      expect(await store.pendingTasks(alice)).toEqual([])
      expect(await store.takeResult(first.requestId)).toMatchObject({ status: 'pending' })
    })

    it('keeps creation order for requests made in the same instant', async () => {
      const { store } = await make()
      for (let round = 0; round < 10; round++) {
        const bob = userId()
        // Issued together: Redis runs them within the same millisecond.
        const made = await Promise.all(Array.from({ length: 32 }, () => store.createRequest(userId(), bob)))
        expect(await store.pendingTasks(bob)).toEqual(made.map((m) => m.requestId))
      }
    })

    it('returns the pending request again for the same requester and target', async () => {
      const { store } = await make()
      const [alice, bob, carol] = [userId(), userId(), userId()]
      const first = await store.createRequest(alice, bob)
      const again = await store.createRequest(alice, bob)
      expect(again).toEqual({ requestId: first.requestId, created: false })
      expect((await store.createRequest(carol, bob)).created).toBe(true)
      expect((await store.createRequest(bob, alice)).created).toBe(true)
      expect(await store.pendingTasks(bob)).toHaveLength(2)
      // Once answered, a new question is a new request.
      expect(await store.submitAnswer(first.requestId, 'com.radolyn.ayugram')).toBe(true)
      const later = await store.createRequest(alice, bob)
      expect(later.created).toBe(true)
      expect(later.requestId).not.toBe(first.requestId)
    })

    it('makes one request out of 1,000 parallel creates for one pair', async () => {
      const { store } = await make()
      const [alice, bob] = [userId(), userId()]
      const made = await Promise.all(Array.from({ length: 1000 }, () => store.createRequest(alice, bob)))
      expect(new Set(made.map((m) => m.requestId)).size).toBe(1)
      expect(made.filter((m) => m.created)).toHaveLength(1)
      expect(await store.pendingTasks(bob)).toEqual([made[0]?.requestId])
    })

    it('takes one answer per request and delivers it once', async () => {
      const { store } = await make()
      const [alice, bob] = [userId(), userId()]
      const { requestId } = await store.createRequest(alice, bob)
      expect(await store.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(true)
      expect(await store.submitAnswer(requestId, 'org.telegram.messenger')).toBe(false)
      expect(await store.pendingTasks(bob)).toEqual([])
      expect(await store.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
      expect(await store.takeResult(requestId)).toEqual({ status: 'expired' })
      expect(await store.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(false)
    })

    it('accepts a retried submit of the same answer, and no other', async () => {
      const { store } = await make()
      const { requestId } = await store.createRequest(userId(), userId())
      expect(await store.submitAnswer(requestId, 'tw.nekomimi.nekogram')).toBe(true)
      expect(await store.submitAnswer(requestId, 'tw.nekomimi.nekogram')).toBe(true)
      expect(await store.submitAnswer(requestId, 'tw.nekomimi.nekogram.x')).toBe(false)
      expect(await store.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'tw.nekomimi.nekogram' })
    })

    it('forgets a submitted answer for retries once the grace is over', async () => {
      const { store } = await make({ retryGraceMs: 200 })
      const { requestId } = await store.createRequest(userId(), userId())
      expect(await store.submitAnswer(requestId, 'a.b')).toBe(true)
      await sleep(300)
      expect(await store.submitAnswer(requestId, 'a.b')).toBe(false)
      expect(await store.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'a.b' })
    })

    it('knows nothing of ids it never issued', async () => {
      const { store } = await make()
      expect(await store.submitAnswer('00000000-0000-4000-8000-000000000000', 'x')).toBe(false)
      expect(await store.takeResult('not-a-request')).toEqual({ status: 'expired' })
      expect(await store.pendingTasks(userId())).toEqual([])
    })

    it('lets exactly one of 200 parallel answers win', async () => {
      const { store } = await make()
      const { requestId } = await store.createRequest(userId(), userId())
      const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => store.submitAnswer(requestId, `pkg.n${i}`)))
      expect(outcomes.filter(Boolean)).toHaveLength(1)
      const result = await store.takeResult(requestId)
      expect(result).toEqual({ status: 'completed', packageName: `pkg.n${outcomes.indexOf(true)}` })
    })

    it('delivers a result once to concurrent readers', async () => {
      const { store } = await make()
      const { requestId } = await store.createRequest(userId(), userId())
      await store.submitAnswer(requestId, 'tw.nekomimi.nekogram')
      const reads = await Promise.all(Array.from({ length: 20 }, () => store.takeResult(requestId)))
      expect(reads.filter((r) => r.status === 'completed')).toHaveLength(1)
      // The others hear that it is gone, or (Redis, while the first reader confirms) to look again.
      expect(reads.filter((r) => r.status === 'completed' || r.status === 'pending' || r.status === 'expired')).toHaveLength(20)
      expect(await store.takeResult(requestId)).toEqual({ status: 'expired' })
    })

    it('forgets requests after their TTL, answered or not', async () => {
      const { store } = await make({ ttlMs: 300 })
      const [alice, bob, carol] = [userId(), userId(), userId()]
      const pending = await store.createRequest(alice, bob)
      const answered = await store.createRequest(carol, bob)
      await store.submitAnswer(answered.requestId, 'nekox.messenger')
      const before = await store.takeResult(pending.requestId)
      expect(before.status).toBe('pending')
      expect(before.status === 'pending' && before.expiresInMs > 0 && before.expiresInMs <= 300).toBe(true)
      await sleep(450)
      expect(await store.pendingTasks(bob)).toEqual([])
      expect(await store.takeResult(pending.requestId)).toEqual({ status: 'expired' })
      expect(await store.takeResult(answered.requestId)).toEqual({ status: 'expired' })
      expect(await store.submitAnswer(pending.requestId, 'x')).toBe(false)
      // The pair is free again.
      expect((await store.createRequest(alice, bob)).created).toBe(true)
    })

    it("keeps time when this host's wall clock steps back", async () => {
      const { store } = await make({ ttlMs: 300 })
      const [alice, bob] = [userId(), userId()]
      const first = await store.createRequest(alice, bob)
      // NTP steps the clock back an hour: expiry runs on a clock that does not step (memory) or on Redis's.
      const stepped = Date.now() - 3_600_000
      vi.spyOn(Date, 'now').mockImplementation(() => stepped)
      try {
        const pending = await store.takeResult(first.requestId)
        expect(pending.status === 'pending' && pending.expiresInMs <= 300).toBe(true)
        await sleep(450)
        expect(await store.pendingTasks(bob)).toEqual([])
        expect(await store.takeResult(first.requestId)).toEqual({ status: 'expired' })
        const again = await store.createRequest(alice, bob)
        expect(again.created).toBe(true)
        expect(again.requestId).not.toBe(first.requestId)
      } finally {
        vi.restoreAllMocks()
      }
    })

    it('caps pending requests per target, then frees the slot on answer', async () => {
      const { store } = await make({ maxPendingPerTarget: 3 })
      const bob = userId()
      const ids = []
      for (let i = 0; i < 3; i++) ids.push((await store.createRequest(userId(), bob)).requestId)
      await expect(store.createRequest(userId(), bob)).rejects.toMatchObject({ code: 'WC_ERR_TARGET_BUSY', statusCode: 429 })
      expect((await store.createRequest(userId(), userId())).created).toBe(true)
      await store.submitAnswer(ids[0] as string, 'x.y')
      expect((await store.createRequest(userId(), bob)).created).toBe(true)
    })

    it('keeps both caps exact under 100 parallel creates', async () => {
      const perTarget = await make({ maxPendingPerTarget: 10 })
      const bob = userId()
      const toBob = await Promise.allSettled(Array.from({ length: 100 }, () => perTarget.store.createRequest(userId(), bob)))
      expect(toBob.filter((r) => r.status === 'fulfilled')).toHaveLength(10)
      expect(toBob.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'WC_ERR_TARGET_BUSY')).toHaveLength(90)
      expect(await perTarget.store.pendingTasks(bob)).toHaveLength(10)

      const total = await make({ maxPendingTotal: 10 })
      const anyone = await Promise.allSettled(Array.from({ length: 100 }, () => total.store.createRequest(userId(), userId())))
      expect(anyone.filter((r) => r.status === 'fulfilled')).toHaveLength(10)
      expect(anyone.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'WC_ERR_STORE_FULL')).toHaveLength(90)
      expect(await total.counted()).toBe(10)
    })

    it('caps requests in total, until they expire', async () => {
      const { store } = await make({ maxPendingTotal: 3, ttlMs: 300 })
      for (let i = 0; i < 3; i++) await store.createRequest(userId(), userId())
      await expect(store.createRequest(userId(), userId())).rejects.toMatchObject({ code: 'WC_ERR_STORE_FULL', statusCode: 503 })
      // A request counts until at most a second after it expires.
      await eventually(() => store.createRequest(userId(), userId()).then((r) => r.created, () => false), 3000)
    })

    it('counts what it holds, and stops counting a delivered result', async () => {
      const { store, counted } = await make()
      const before = await counted()
      const { requestId } = await store.createRequest(userId(), userId())
      expect(await counted()).toBe(before + 1)
      await store.submitAnswer(requestId, 'a.b')
      expect(await counted()).toBe(before + 1)
      await store.takeResult(requestId)
      expect(await counted()).toBe(before)
    })

    it('counts exactly after 10,000 staggered expiries', async () => {
      const { store, counted } = await make({ ttlMs: 1000, maxPendingTotal: 20_000 })
      // Ten waves 150 ms apart: expiries spread over a second and a half, across bucket edges.
      for (let wave = 0; wave < 10; wave++) {
        for (let batch = 0; batch < 10; batch++) {
          await Promise.all(Array.from({ length: 100 }, () => store.createRequest(userId(), userId())))
        }
        await sleep(150)
      }
      expect(await counted()).toBeGreaterThan(0)
      // Every one has expired: the count comes back to exactly nothing, and stays there.
      await eventually(async () => (await counted()) === 0, 10_000)
      await sleep(1100)
      expect(await counted()).toBe(0)
      const fresh = await store.createRequest(userId(), userId())
      expect(fresh.created).toBe(true)
      expect(await counted()).toBe(1)
    })

    it('tells its listener the wake key of what changed, and no other', async () => {
      const listener = recorder()
      const { store } = await make({}, listener)
      const [alice, bob, carol] = [userId(), userId(), userId()]
      const bobTasks = store.wakeKey({ kind: 'tasks', userId: bob })
      const carolTasks = store.wakeKey({ kind: 'tasks', userId: carol })
      expect(bobTasks).not.toBe(carolTasks)
      expect(bobTasks).not.toContain(String(bob))
      const { requestId } = await store.createRequest(alice, bob)
      await eventually(async () => listener.woken.includes(bobTasks))
      const result = store.wakeKey({ kind: 'result', requestId })
      expect(result).not.toContain(requestId)
      await store.submitAnswer(requestId, 'app.nicegram')
      await eventually(async () => listener.woken.includes(result))
      expect(listener.woken).not.toContain(carolTasks)
    })
  })
}

/** Resolves once `condition` holds; fails after `timeoutMs`. */
export async function eventually (condition: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(10)
  }
}
