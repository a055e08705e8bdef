/**
 * The one suite every TaskStore adapter must pass (memory, Redis): v1
 * semantics, caps, dedupe, delivery once, expiry and wake-ups.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { StoreLimits, TaskStore } from '../../src/store/task-store.js'
import type { WakeupLimits } from '../../src/store/wakeups.js'
import { sleep } from '../helper.js'

export type StoreFactory = (limits: StoreLimits & WakeupLimits) => Promise<TaskStore>

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const DEFAULTS = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 100_000, maxPerKey: 4, maxTotal: 1000 }

let nextId = Math.floor(Math.random() * 1e9) * 1000
/** Fresh user ids per test, so adapters sharing a backend do not see each other's data. */
const userId = (): number => ++nextId

export function storeConformance (name: string, factory: StoreFactory): void {
  describe(`TaskStore conformance: ${name}`, () => {
    const open: TaskStore[] = []
    const make = async (limits: Partial<StoreLimits & WakeupLimits> = {}): Promise<TaskStore> => {
      const store = await factory({ ...DEFAULTS, ...limits })
      open.push(store)
      return store
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()))
    })

    it('creates requests and lists them for their target only, oldest first', async () => {
      const store = await make()
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

    it('returns the pending request again for the same requester and target', async () => {
      const store = await make()
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

    it('takes one answer per request and delivers it once', async () => {
      const store = await make()
      const [alice, bob] = [userId(), userId()]
      const { requestId } = await store.createRequest(alice, bob)
      expect(await store.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(true)
      expect(await store.submitAnswer(requestId, 'org.telegram.messenger')).toBe(false)
      expect(await store.pendingTasks(bob)).toEqual([])
      expect(await store.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
      expect(await store.takeResult(requestId)).toEqual({ status: 'expired' })
      expect(await store.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(false)
    })

    it('knows nothing of ids it never issued', async () => {
      const store = await make()
      expect(await store.submitAnswer('00000000-0000-4000-8000-000000000000', 'x')).toBe(false)
      expect(await store.takeResult('not-a-request')).toEqual({ status: 'expired' })
      expect(await store.pendingTasks(userId())).toEqual([])
    })

    it('lets exactly one of many concurrent answers win', async () => {
      const store = await make()
      const { requestId } = await store.createRequest(userId(), userId())
      const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => store.submitAnswer(requestId, `pkg.n${i}`)))
      expect(outcomes.filter(Boolean)).toHaveLength(1)
      const result = await store.takeResult(requestId)
      expect(result.status).toBe('completed')
      expect(`pkg.n${outcomes.indexOf(true)}`).toBe((result as { packageName: string }).packageName)
    })

    it('delivers a result once to concurrent readers', async () => {
      const store = await make()
      const { requestId } = await store.createRequest(userId(), userId())
      await store.submitAnswer(requestId, 'tw.nekomimi.nekogram')
      const reads = await Promise.all(Array.from({ length: 20 }, () => store.takeResult(requestId)))
      expect(reads.filter((r) => r.status === 'completed')).toHaveLength(1)
      expect(reads.filter((r) => r.status === 'expired')).toHaveLength(19)
    })

    it('forgets requests after their TTL, answered or not', async () => {
      const store = await make({ ttlMs: 300 })
      const [alice, bob, carol] = [userId(), userId(), userId()]
      const pending = await store.createRequest(alice, bob)
      const answered = await store.createRequest(carol, bob)
      await store.submitAnswer(answered.requestId, 'nekox.messenger')
      const before = await store.takeResult(pending.requestId)
      expect(before.status).toBe('pending')
      expect((before as { expiresAt: number }).expiresAt).toBeGreaterThan(Date.now())
      await sleep(450)
      expect(await store.pendingTasks(bob)).toEqual([])
      expect(await store.takeResult(pending.requestId)).toEqual({ status: 'expired' })
      expect(await store.takeResult(answered.requestId)).toEqual({ status: 'expired' })
      expect(await store.submitAnswer(pending.requestId, 'x')).toBe(false)
      // The pair is free again.
      expect((await store.createRequest(alice, bob)).created).toBe(true)
    })

    it('caps pending requests per target, then frees the slot on answer', async () => {
      const store = await make({ maxPendingPerTarget: 3 })
      const bob = userId()
      const ids = []
      for (let i = 0; i < 3; i++) ids.push((await store.createRequest(userId(), bob)).requestId)
      await expect(store.createRequest(userId(), bob)).rejects.toMatchObject({ code: 'WC_ERR_TARGET_BUSY', statusCode: 429 })
      expect((await store.createRequest(userId(), userId())).created).toBe(true)
      await store.submitAnswer(ids[0] as string, 'x.y')
      expect((await store.createRequest(userId(), bob)).created).toBe(true)
    })

    it('caps requests in total, until they expire', async () => {
      const store = await make({ maxPendingTotal: 3, ttlMs: 300 })
      for (let i = 0; i < 3; i++) await store.createRequest(userId(), userId())
      await expect(store.createRequest(userId(), userId())).rejects.toMatchObject({ code: 'WC_ERR_STORE_FULL', statusCode: 503 })
      await sleep(450)
      expect((await store.createRequest(userId(), userId())).created).toBe(true)
    })

    it('wakes task watchers of the target only, and result watchers on the answer', async () => {
      const store = await make()
      const [alice, bob, carol] = [userId(), userId(), userId()]
      const woke: string[] = []
      const bobWatch = store.watch({ kind: 'tasks', userId: bob }, () => woke.push('bob'))
      const carolWatch = store.watch({ kind: 'tasks', userId: carol }, () => woke.push('carol'))
      const { requestId } = await store.createRequest(alice, bob)
      await until(() => woke.includes('bob'))
      const resultWatch = store.watch({ kind: 'result', requestId }, () => woke.push('result'))
      await store.submitAnswer(requestId, 'app.nicegram')
      await until(() => woke.includes('result'))
      expect(woke).not.toContain('carol')
      bobWatch.cancel()
      carolWatch.cancel()
      resultWatch.cancel()
      await store.createRequest(carol, bob)
      await sleep(100)
      expect(woke.filter((w) => w === 'bob')).toHaveLength(1)
    })

    it('caps held watches per user and in total', async () => {
      const store = await make({ maxPerKey: 2, maxTotal: 3 })
      const bob = userId()
      const a = store.watch({ kind: 'tasks', userId: bob }, () => {})
      store.watch({ kind: 'tasks', userId: bob }, () => {})
      expect(() => store.watch({ kind: 'tasks', userId: bob }, () => {})).toThrow(expect.objectContaining({ code: 'WC_ERR_TOO_MANY_POLLS', statusCode: 429 }))
      store.watch({ kind: 'tasks', userId: userId() }, () => {})
      expect(() => store.watch({ kind: 'tasks', userId: userId() }, () => {})).toThrow(expect.objectContaining({ code: 'WC_ERR_POLLS_FULL', statusCode: 503 }))
      a.cancel()
      a.cancel()
      expect(() => store.watch({ kind: 'tasks', userId: bob }, () => {}).cancel()).not.toThrow()
    })

    it('counts what it holds as requests expire at different times', async () => {
      const store = await make({ ttlMs: 1000, maxPendingTotal: 5 })
      for (let i = 0; i < 3; i++) await store.createRequest(userId(), userId())
      await sleep(500)
      for (let i = 0; i < 2; i++) await store.createRequest(userId(), userId())
      await expect(store.createRequest(userId(), userId())).rejects.toMatchObject({ code: 'WC_ERR_STORE_FULL' })
      // The first three are gone (up to 1/128 of a TTL late), the last two still count.
      await sleep(600)
      expect(await store.size()).toBe(2)
      for (let i = 0; i < 3; i++) await store.createRequest(userId(), userId())
      await expect(store.createRequest(userId(), userId())).rejects.toMatchObject({ code: 'WC_ERR_STORE_FULL' })
    })

    it('counts what it holds', async () => {
      const store = await make()
      const before = await store.size()
      const { requestId } = await store.createRequest(userId(), userId())
      expect(await store.size()).toBe(before + 1)
      await store.submitAnswer(requestId, 'a.b')
      expect(await store.size()).toBe(before + 1)
      await store.takeResult(requestId)
      expect(await store.size()).toBe(before)
    })
  })
}

async function until (condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(5)
  }
}
