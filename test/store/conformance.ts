/**
 * The one suite every TaskStore adapter must pass (memory, Redis): v1
 * semantics, caps, dedupe, delivery once, retries, expiry, order and
 * wake-ups, with the concurrency a busy server brings; then v2 beside v1
 * (verified asks, who sees, answers and reads what, sealed and plain,
 * declines, the quota, the unverified cap and the signed-in shield).
 */
import { describe, expect, it, vi } from 'vitest'
import type { StoreLimits, StoreListener, TaskStore } from '../../src/store/task-store.js'
import { closeWhenDone, eventually, refusal, sleep, userIds } from '../helper.js'

/** A store under test, and how many requests it counts towards MAX_PENDING_TOTAL now (adapter-specific test code). */
export interface StoreUnderTest {
  store: TaskStore
  counted: () => Promise<number>
}

export type StoreFactory = (limits: StoreLimits, listener: StoreListener) => Promise<StoreUnderTest>

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const DEFAULTS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 100_000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }

/** Fresh user ids per test, so adapters sharing a backend do not see each other's data. */
const userId = userIds()

/** A listener that records the wake keys it is told. */
function recorder (): StoreListener & { woken: string[], wokeAll: number } {
  const seen = { woken: [] as string[], wokeAll: 0 }
  return Object.assign(seen, {
    wake: (key: string) => { seen.woken.push(key) },
    wakeAll: () => { seen.wokeAll++ }
  })
}

/** Runs `n` calls at once: how many succeeded, and how many were refused, by error code. */
async function atOnce (n: number, call: () => Promise<unknown>): Promise<{ made: number, refused: Record<string, number> }> {
  const outcomes = await Promise.allSettled(Array.from({ length: n }, call))
  const refused: Record<string, number> = {}
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') {
      const code = String((outcome.reason as { code?: string }).code)
      refused[code] = (refused[code] ?? 0) + 1
    }
  }
  return { made: outcomes.filter((o) => o.status === 'fulfilled').length, refused }
}

/** Makes stores with `factory` (limits over the defaults), each closed when its test is done. */
function maker (factory: StoreFactory): (limits?: Partial<StoreLimits>, listener?: StoreListener) => Promise<StoreUnderTest> {
  return async (limits: Partial<StoreLimits> = {}, listener: StoreListener = recorder()): Promise<StoreUnderTest> => {
    const made = await factory({ ...DEFAULTS, ...limits }, listener)
    closeWhenDone(made.store)
    return made
  }
}

export function storeConformance (name: string, factory: StoreFactory): void {
  describe(`TaskStore conformance: ${name}`, () => {
    const make = maker(factory)

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

    it('looks up with its own wake key as without it (a held poll passes the key it has)', async () => {
      const { store } = await make()
      const [alice, bob, carol] = [userId(), userId(), userId()]
      const { requestId } = await store.createRequest(alice, bob)
      const tasksKey = store.wakeKey({ kind: 'tasks', userId: bob })
      const resultKey = store.wakeKey({ kind: 'result', requestId })
      expect(await store.pendingTasks(bob, tasksKey)).toEqual([requestId])
      expect(await store.pendingTasks(carol, store.wakeKey({ kind: 'tasks', userId: carol }))).toEqual([])
      expect(await store.takeResult(requestId, undefined, resultKey)).toMatchObject({ status: 'pending' })
      expect(await store.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(true)
      expect(await store.takeResult(requestId, undefined, resultKey)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
      expect(await store.pendingTasks(bob, tasksKey)).toEqual([])
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
      expect(await atOnce(100, () => perTarget.store.createRequest(userId(), bob))).toEqual({ made: 10, refused: { WC_ERR_TARGET_BUSY: 90 } })
      expect(await perTarget.store.pendingTasks(bob)).toHaveLength(10)

      const total = await make({ maxPendingTotal: 10 })
      expect(await atOnce(100, () => total.store.createRequest(userId(), userId()))).toEqual({ made: 10, refused: { WC_ERR_STORE_FULL: 90 } })
      expect(await total.counted()).toBe(10)
    })

    it('caps requests in total, until they expire', async () => {
      const { store } = await make({ maxPendingTotal: 3, ttlMs: 300 })
      for (let i = 0; i < 3; i++) await store.createRequest(userId(), userId())
      await expect(store.createRequest(userId(), userId())).rejects.toMatchObject({ code: 'WC_ERR_STORE_FULL', statusCode: 503 })
      // A request counts until at most a second after it expires.
      await eventually(() => store.createRequest(userId(), userId()).then((r) => r.created, () => false), { timeoutMs: 3000 })
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
      await eventually(async () => (await counted()) === 0, { timeoutMs: 10_000 })
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


/** Two different valid-looking X25519 public keys (base64url, 32 bytes). */
const KEY_1 = Buffer.alloc(32, 1).toString('base64url')
const KEY_2 = Buffer.alloc(32, 2).toString('base64url')
const SEALED = { enc: Buffer.alloc(32, 3).toString('base64url'), ciphertext: Buffer.alloc(272, 4).toString('base64url') }
const ANON = { named: false }

export function storeConformanceV2 (name: string, factory: StoreFactory): void {
  describe(`TaskStore conformance, v2 beside v1: ${name}`, () => {
    const make = maker(factory)

    it('lists v1 and v2 questions to their target, naming only a v2 asker who chose it; v1 sees no sealed one', async () => {
      const { store } = await make()
      const [alice, carol, dave, erin, bob] = [userId(), userId(), userId(), userId(), userId()]
      const named = await store.ask(alice, bob, { named: true })
      const anonymous = await store.ask(carol, bob, ANON)
      const unverified = await store.createRequest(dave, bob)
      const sealed = await store.ask(erin, bob, { named: true, publicKey: KEY_1 })
      expect(named).toMatchObject({ requestId: expect.stringMatching(UUID4), created: true })
      expect(named.expiresInMs).toBe(60_000)
      const inbox = await store.inbox(bob)
      expect(inbox.map(({ expiresInMs: _, ...task }) => task)).toEqual([
        { requestId: named.requestId, requesterId: alice, verified: true },
        { requestId: anonymous.requestId, requesterId: null, verified: true },
        { requestId: unverified.requestId, requesterId: null, verified: false },
        { requestId: sealed.requestId, requesterId: erin, verified: true, publicKey: KEY_1 }
      ])
      for (const task of inbox) expect(task.expiresInMs > 55_000 && task.expiresInMs <= 60_000, String(task.expiresInMs)).toBe(true)
      expect(await store.pendingTasks(bob)).toEqual([named.requestId, anonymous.requestId, unverified.requestId])
      expect(await store.inbox(alice)).toEqual([])
      expect(await store.inbox(userId())).toEqual([])
    })

    it('looks up v2 with its own wake key as without it', async () => {
      const { store } = await make()
      const [alice, bob] = [userId(), userId()]
      const { requestId } = await store.ask(alice, bob, { named: true })
      const tasksKey = store.wakeKey({ kind: 'tasks', userId: bob })
      const resultKey = store.wakeKey({ kind: 'result', requestId })
      expect((await store.inbox(bob, tasksKey)).map((task) => task.requestId)).toEqual([requestId])
      expect(await store.resultFor(alice, requestId, undefined, resultKey)).toMatchObject({ status: 'pending' })
      expect(await store.answerAs(bob, requestId, { kind: 'plain', packageName: 'com.radolyn.ayugram' })).toBe('accepted')
      // The key names the request; who may read it is still checked.
      expect(await store.resultFor(bob, requestId, undefined, resultKey)).toEqual({ status: 'expired' })
      expect(await store.resultFor(alice, requestId, undefined, resultKey)).toEqual({ status: 'completed', answer: { kind: 'plain', packageName: 'com.radolyn.ayugram' }, verified: true })
      expect(await store.inbox(bob, tasksKey)).toEqual([])
    })

    it('dedupes v2 asks per asker, target and public key, apart from v1 requests', async () => {
      const { store } = await make()
      const [alice, bob] = [userId(), userId()]
      const plain = await store.ask(alice, bob, ANON)
      const again = await store.ask(alice, bob, { named: true })
      // The same request, as it was first asked (anonymous).
      expect(again).toMatchObject({ requestId: plain.requestId, created: false })
      expect(again.expiresInMs > 0 && again.expiresInMs <= 60_000).toBe(true)
      const withKey = await store.ask(alice, bob, { named: false, publicKey: KEY_1 })
      expect(withKey.created).toBe(true)
      expect(await store.ask(alice, bob, { named: false, publicKey: KEY_1 })).toMatchObject({ requestId: withKey.requestId, created: false })
      const otherKey = await store.ask(alice, bob, { named: false, publicKey: KEY_2 })
      expect(otherKey.created).toBe(true)
      // A v1 caller only claims to be Alice: it is never handed her v2 requests.
      const v1 = await store.createRequest(alice, bob)
      expect(v1.created).toBe(true)
      expect(new Set([plain.requestId, withKey.requestId, otherKey.requestId, v1.requestId]).size).toBe(4)
      expect(await store.createRequest(alice, bob)).toEqual({ requestId: v1.requestId, created: false })
      expect((await store.inbox(bob)).map((t) => t.requesterId)).toEqual([null, null, null, null])
    })

    it('makes one request out of 200 parallel asks for one pair, and charges it once', async () => {
      const { store } = await make({ askQuota: { limit: 2, periodMs: 3_600_000 } })
      const [alice, bob] = [userId(), userId()]
      const made = await Promise.all(Array.from({ length: 200 }, () => store.ask(alice, bob, ANON)))
      expect(new Set(made.map((m) => m.requestId)).size).toBe(1)
      expect(made.filter((m) => m.created)).toHaveLength(1)
      expect((await store.ask(alice, userId(), ANON)).created).toBe(true)
      expect(await refusal(store.ask(alice, userId(), ANON))).toMatchObject({ code: 'WC_ERR_QUOTA_EXCEEDED', statusCode: 429 })
    })

    it('lets only the target answer, plain to a plain request and sealed to a sealed one', async () => {
      const { store } = await make()
      const [alice, bob, mallory] = [userId(), userId(), userId()]
      const plain = await store.ask(alice, bob, ANON)
      const sealed = await store.ask(alice, bob, { named: false, publicKey: KEY_1 })
      // Not about the caller: the same answer whatever the request is (the kind does not leak).
      for (const answer of [{ kind: 'plain', packageName: 'a.b' }, { kind: 'sealed', sealed: SEALED }, { kind: 'declined' }] as const) {
        expect(await store.answerAs(mallory, plain.requestId, answer)).toBe('not_found')
        expect(await store.answerAs(mallory, sealed.requestId, answer)).toBe('not_found')
        expect(await store.answerAs(alice, plain.requestId, answer)).toBe('not_found')
      }
      expect(await store.answerAs(bob, plain.requestId, { kind: 'sealed', sealed: SEALED })).toBe('mismatch')
      expect(await store.answerAs(bob, sealed.requestId, { kind: 'plain', packageName: 'a.b' })).toBe('mismatch')
      expect(await store.answerAs(bob, '00000000-0000-4000-8000-000000000000', { kind: 'plain', packageName: 'a.b' })).toBe('not_found')

      expect(await store.answerAs(bob, plain.requestId, { kind: 'plain', packageName: 'com.radolyn.ayugram' })).toBe('accepted')
      expect(await store.answerAs(bob, sealed.requestId, { kind: 'sealed', sealed: SEALED })).toBe('accepted')
      // A retry of the same answer succeeds again; anything else finds the request processed.
      expect(await store.answerAs(bob, plain.requestId, { kind: 'plain', packageName: 'com.radolyn.ayugram' })).toBe('accepted')
      expect(await store.answerAs(bob, sealed.requestId, { kind: 'sealed', sealed: SEALED })).toBe('accepted')
      expect(await store.answerAs(bob, plain.requestId, { kind: 'plain', packageName: 'org.telegram.messenger' })).toBe('not_found')
      expect(await store.answerAs(bob, plain.requestId, { kind: 'declined' })).toBe('not_found')
      expect(await store.answerAs(bob, sealed.requestId, { kind: 'sealed', sealed: { ...SEALED, enc: KEY_2 } })).toBe('not_found')
      expect(await store.inbox(bob)).toEqual([])
    })

    it('delivers a v2 result to its asker only, once; nobody else, v1 included, can read or spend it', async () => {
      const { store } = await make()
      const [alice, bob, mallory] = [userId(), userId(), userId()]
      const plain = await store.ask(alice, bob, ANON)
      const sealed = await store.ask(alice, bob, { named: true, publicKey: KEY_1 })
      const pending = await store.resultFor(alice, plain.requestId)
      expect(pending.status === 'pending' && pending.expiresInMs > 0 && pending.expiresInMs <= 60_000).toBe(true)
      expect(await store.resultFor(mallory, plain.requestId)).toEqual({ status: 'expired' })
      expect(await store.resultFor(bob, plain.requestId)).toEqual({ status: 'expired' })
      expect(await store.takeResult(plain.requestId)).toEqual({ status: 'expired' })

      await store.answerAs(bob, plain.requestId, { kind: 'plain', packageName: 'com.exteragram.messenger' })
      await store.answerAs(bob, sealed.requestId, { kind: 'sealed', sealed: SEALED })
      for (const id of [plain.requestId, sealed.requestId]) {
        expect(await store.resultFor(mallory, id)).toEqual({ status: 'expired' })
        expect(await store.resultFor(bob, id)).toEqual({ status: 'expired' })
        expect(await store.takeResult(id)).toEqual({ status: 'expired' })
      }
      expect(await store.resultFor(alice, plain.requestId)).toEqual({ status: 'completed', answer: { kind: 'plain', packageName: 'com.exteragram.messenger' }, verified: true })
      expect(await store.resultFor(alice, sealed.requestId)).toEqual({ status: 'completed', answer: { kind: 'sealed', sealed: SEALED }, verified: true })
      expect(await store.resultFor(alice, plain.requestId)).toEqual({ status: 'expired' })
      expect(await store.resultFor(alice, sealed.requestId)).toEqual({ status: 'expired' })
      // A v1 request is not any v2 caller's to read.
      const v1 = await store.createRequest(alice, bob)
      expect(await store.resultFor(alice, v1.requestId)).toEqual({ status: 'expired' })
      expect(await store.takeResult(v1.requestId)).toMatchObject({ status: 'pending' })
    })

    it('takes a decline: its asker hears it once, a v1 asker hears expired, the question is gone', async () => {
      const { store } = await make()
      const [alice, dave, bob] = [userId(), userId(), userId()]
      const verified = await store.ask(alice, bob, { named: false, publicKey: KEY_1 })
      const unverified = await store.createRequest(dave, bob)
      expect(await store.answerAs(bob, verified.requestId, { kind: 'declined' })).toBe('accepted')
      expect(await store.answerAs(bob, verified.requestId, { kind: 'declined' })).toBe('accepted')
      expect(await store.answerAs(bob, verified.requestId, { kind: 'sealed', sealed: SEALED })).toBe('not_found')
      expect(await store.answerAs(bob, unverified.requestId, { kind: 'declined' })).toBe('accepted')
      expect(await store.submitAnswer(unverified.requestId, 'a.b')).toBe(false)
      expect(await store.inbox(bob)).toEqual([])
      expect(await store.pendingTasks(bob)).toEqual([])
      expect(await store.resultFor(alice, verified.requestId)).toEqual({ status: 'declined' })
      expect(await store.resultFor(alice, verified.requestId)).toEqual({ status: 'expired' })
      expect(await store.takeResult(unverified.requestId)).toEqual({ status: 'expired' })
      expect(await store.takeResult(unverified.requestId)).toEqual({ status: 'expired' })
      // Asking again opens a new question.
      expect((await store.createRequest(dave, bob)).created).toBe(true)
    })

    it('lets v1 answer a plain v2 question (unverified), never a sealed one; v2 answers v1 questions as v1 reads them', async () => {
      const { store } = await make()
      const [alice, dave, bob] = [userId(), userId(), userId()]
      const plain = await store.ask(alice, bob, ANON)
      const sealed = await store.ask(alice, bob, { named: false, publicKey: KEY_1 })
      const v1 = await store.createRequest(dave, bob)
      expect(await store.submitAnswer(sealed.requestId, 'com.exteragram.messenger')).toBe(false)
      expect(await store.submitAnswer(plain.requestId, 'com.exteragram.messenger')).toBe(true)
      expect(await store.submitAnswer(plain.requestId, 'com.exteragram.messenger')).toBe(true)
      // The v2 target retrying "the same" answer is not a retry: it came another way.
      expect(await store.answerAs(bob, plain.requestId, { kind: 'plain', packageName: 'com.exteragram.messenger' })).toBe('not_found')
      expect(await store.answerAs(bob, v1.requestId, { kind: 'plain', packageName: 'tw.nekomimi.nekogram' })).toBe('accepted')
      expect(await store.submitAnswer(v1.requestId, 'tw.nekomimi.nekogram')).toBe(false)
      expect((await store.inbox(bob)).map((t) => t.requestId)).toEqual([sealed.requestId])
      expect(await store.resultFor(alice, plain.requestId)).toEqual({ status: 'completed', answer: { kind: 'plain', packageName: 'com.exteragram.messenger' }, verified: false })
      expect(await store.takeResult(v1.requestId)).toEqual({ status: 'completed', packageName: 'tw.nekomimi.nekogram' })
    })

    it('shields a signed-in user from v1 until the mark ends; a mark only moves later', async () => {
      const { store } = await make()
      const [alice, dave, bob, carol] = [userId(), userId(), userId(), userId()]
      const verified = await store.ask(alice, bob, ANON)
      const before = await store.createRequest(dave, bob)
      const toCarol = await store.createRequest(dave, carol)
      await store.markSignedIn(bob, Date.now() + 2500)
      // An earlier end does not cut the mark short.
      await store.markSignedIn(bob, Date.now() + 10)
      await sleep(50)
      // null, not []: v1 sees nothing of Bob, and must not even wait for something.
      expect(await store.pendingTasks(bob)).toBeNull()
      expect(await store.submitAnswer(before.requestId, 'a.b')).toBe(false)
      expect(await store.submitAnswer(verified.requestId, 'a.b')).toBe(false)
      // v1 can still ask about Bob: the question reaches his v2 list, unverified.
      const after = await store.createRequest(userId(), bob)
      expect((await store.inbox(bob)).map((t) => [t.requestId, t.verified])).toEqual([
        [verified.requestId, true], [before.requestId, false], [after.requestId, false]
      ])
      expect(await store.answerAs(bob, before.requestId, { kind: 'plain', packageName: 'a.b' })).toBe('accepted')
      expect(await store.takeResult(before.requestId)).toEqual({ status: 'completed', packageName: 'a.b' })
      // Nobody else is shielded.
      expect(await store.pendingTasks(carol)).toEqual([toCarol.requestId])
      // Once the session would have ended, v1 sees Bob's questions again.
      await eventually(async () => (await store.pendingTasks(bob))?.length === 2, { timeoutMs: 8000 })
      expect(await store.submitAnswer(after.requestId, 'c.d')).toBe(true)
    })

    it("keeps a signed-in user's mark up from their own v2 look, until their session ends", async () => {
      const { store } = await make()
      const [dave, bob, carol] = [userId(), userId(), userId()]
      const toBob = await store.createRequest(dave, bob)
      // Bob was never marked here (as after Redis lost its data): his v2 look with his session's end marks him.
      expect(await store.pendingTasks(bob)).toEqual([toBob.requestId])
      expect((await store.inbox(bob, undefined, Date.now() + 2500)).map((t) => t.requestId)).toEqual([toBob.requestId])
      expect(await store.pendingTasks(bob)).toBeNull()
      expect(await store.submitAnswer(toBob.requestId, 'a.b')).toBe(false)
      // A look with an earlier end, or with none, does not cut it short; one without an end marks nobody.
      await store.inbox(bob, store.wakeKey({ kind: 'tasks', userId: bob }), Date.now() + 10)
      await store.inbox(bob)
      await sleep(50)
      expect(await store.pendingTasks(bob)).toBeNull()
      await store.inbox(carol)
      expect(await store.pendingTasks(carol)).toEqual([])
      // Once the session would have ended, v1 sees Bob's question again.
      await eventually(async () => (await store.pendingTasks(bob))?.length === 1, { timeoutMs: 8000 })
    })

    it('charges the quota only for requests it opens, and says when the next ask fits', async () => {
      const { store } = await make({ askQuota: { limit: 2, periodMs: 3_600_000 }, maxPendingPerTarget: 1 })
      const [alice, carol, busy, bob] = [userId(), userId(), userId(), userId()]
      await store.ask(carol, busy, ANON)
      // Refused for the target's cap: not charged.
      expect(await refusal(store.ask(alice, busy, ANON))).toMatchObject({ code: 'WC_ERR_TARGET_BUSY' })
      expect((await store.ask(alice, bob, ANON)).created).toBe(true)
      // Asking again for a pending request: not charged.
      expect((await store.ask(alice, bob, ANON)).created).toBe(false)
      expect((await store.ask(alice, userId(), ANON)).created).toBe(true)
      const refused = await refusal(store.ask(alice, userId(), ANON))
      expect(refused).toMatchObject({ code: 'WC_ERR_QUOTA_EXCEEDED', statusCode: 429 })
      // Two an hour: the next one half an hour after the first.
      expect(refused.retryAfterMs !== undefined && refused.retryAfterMs > 1_790_000 && refused.retryAfterMs <= 1_800_000, String(refused.retryAfterMs)).toBe(true)
      // Still a pending request may be asked for again.
      expect((await store.ask(alice, bob, ANON)).created).toBe(false)
    })

    it('counts concurrent asks against the quota exactly, and each asker apart', async () => {
      const { store } = await make({ askQuota: { limit: 3, periodMs: 3_600_000 } })
      const [alice, carol] = [userId(), userId()]
      const asks = await Promise.allSettled(Array.from({ length: 12 }, () => store.ask(alice, userId(), ANON)))
      expect(asks.filter((a) => a.status === 'fulfilled')).toHaveLength(3)
      const refused = asks.filter((a): a is PromiseRejectedResult => a.status === 'rejected').map((a) => a.reason as { code: string, retryAfterMs: number })
      expect(refused.every((r) => r.code === 'WC_ERR_QUOTA_EXCEEDED')).toBe(true)
      // An hour's three: the next one in 20 minutes.
      for (const r of refused) expect(r.retryAfterMs > 1_190_000 && r.retryAfterMs <= 1_200_000, String(r.retryAfterMs)).toBe(true)
      expect((await store.ask(carol, userId(), ANON)).created).toBe(true)
      // v1 has no quota: a v1 requester id is only claimed.
      expect((await store.createRequest(alice, userId())).created).toBe(true)
    })

    it('lets the quota refill at its rate', async () => {
      const { store } = await make({ askQuota: { limit: 2, periodMs: 1200 } })
      const alice = userId()
      await store.ask(alice, userId(), ANON)
      await store.ask(alice, userId(), ANON)
      const { retryAfterMs } = await refusal(store.ask(alice, userId(), ANON))
      expect(retryAfterMs !== undefined && retryAfterMs > 0 && retryAfterMs <= 600).toBe(true)
      await sleep((retryAfterMs ?? 0) + 40)
      expect((await store.ask(alice, userId(), ANON)).created).toBe(true)
    })

    it('caps unverified questions per target inside the target cap, leaving room for verified ones', async () => {
      const { store } = await make({ maxPendingPerTarget: 5, maxUnverifiedPerTarget: 2 })
      const bob = userId()
      const v1 = [await store.createRequest(userId(), bob), await store.createRequest(userId(), bob)]
      const refused = await refusal(store.createRequest(userId(), bob))
      expect(refused).toMatchObject({ code: 'WC_ERR_UNVERIFIED_BUSY', statusCode: 429 })
      expect(refused.retryAfterMs !== undefined && refused.retryAfterMs > 55_000 && refused.retryAfterMs <= 60_000).toBe(true)
      for (let i = 0; i < 3; i++) expect((await store.ask(userId(), bob, ANON)).created).toBe(true)
      expect(await refusal(store.ask(userId(), bob, ANON))).toMatchObject({ code: 'WC_ERR_TARGET_BUSY' })
      expect(await refusal(store.createRequest(userId(), bob))).toMatchObject({ code: 'WC_ERR_TARGET_BUSY' })
      // Another target has room of its own.
      expect((await store.createRequest(userId(), userId())).created).toBe(true)
      // An answered v1 question frees its slot, in both caps.
      await store.answerAs(bob, v1[0]?.requestId as string, { kind: 'declined' })
      expect((await store.createRequest(userId(), bob)).created).toBe(true)
    })

    it('keeps the unverified cap exact under 50 parallel creates, and has none when not set', async () => {
      const capped = await make({ maxUnverifiedPerTarget: 3 })
      const bob = userId()
      expect(await atOnce(50, () => capped.store.createRequest(userId(), bob))).toEqual({ made: 3, refused: { WC_ERR_UNVERIFIED_BUSY: 47 } })
      const open = await make({ maxPendingPerTarget: 6 })
      const carol = userId()
      for (let i = 0; i < 6; i++) expect((await open.store.createRequest(userId(), carol)).created).toBe(true)
    })

    it('says when a full target has room again: when its oldest pending request expires', async () => {
      const { store } = await make({ maxPendingPerTarget: 2, ttlMs: 3000 })
      const bob = userId()
      await store.createRequest(userId(), bob)
      // A little over 400 ms: a timer may fire a fraction of a millisecond before the store's clock says so.
      await sleep(410)
      await store.ask(userId(), bob, ANON)
      const refused = await refusal(store.ask(userId(), bob, ANON))
      expect(refused.code).toBe('WC_ERR_TARGET_BUSY')
      expect(refused.retryAfterMs !== undefined && refused.retryAfterMs > 0 && refused.retryAfterMs <= 2600, String(refused.retryAfterMs)).toBe(true)
    })

    it('forgets v2 requests after their TTL', async () => {
      const { store } = await make({ ttlMs: 300 })
      const [alice, bob] = [userId(), userId()]
      const asked = await store.ask(alice, bob, { named: true, publicKey: KEY_1 })
      await sleep(450)
      expect(await store.inbox(bob)).toEqual([])
      expect(await store.resultFor(alice, asked.requestId)).toEqual({ status: 'expired' })
      expect(await store.answerAs(bob, asked.requestId, { kind: 'declined' })).toBe('not_found')
      expect((await store.ask(alice, bob, { named: true, publicKey: KEY_1 })).created).toBe(true)
    })

    it('wakes the target on a v2 ask, and the asker on an answer or a decline', async () => {
      const listener = recorder()
      const { store } = await make({}, listener)
      const [alice, bob] = [userId(), userId()]
      const bobTasks = store.wakeKey({ kind: 'tasks', userId: bob })
      const plain = await store.ask(alice, bob, ANON)
      await eventually(async () => listener.woken.includes(bobTasks))
      const sealed = await store.ask(alice, bob, { named: false, publicKey: KEY_1 })
      for (const [id, answer] of [[plain.requestId, { kind: 'declined' }], [sealed.requestId, { kind: 'sealed', sealed: SEALED }]] as const) {
        await store.answerAs(bob, id, answer)
        const key = store.wakeKey({ kind: 'result', requestId: id })
        await eventually(async () => listener.woken.includes(key))
      }
    })

    it("wakes a user's task polls when they sign in, not when a sign-in only extends their mark", async () => {
      const listener = recorder()
      const { store } = await make({}, listener)
      const bob = userId()
      const bobTasks = store.wakeKey({ kind: 'tasks', userId: bob })
      // Their held v1 polls look again and answer at once: held, they would take the places of bob's own.
      await store.markSignedIn(bob, Date.now() + 60_000)
      await eventually(async () => listener.woken.includes(bobTasks))
      // Marked already: nothing to wake (its v1 polls are not held any more), however often bob signs in.
      await store.markSignedIn(bob, Date.now() + 120_000)
      await store.markSignedIn(bob, Date.now() + 30_000)
      await store.inbox(bob, bobTasks, Date.now() + 200_000)
      // A wake-up is told at once in memory, through Redis pub/sub there: the ask's wake-up after them comes after theirs too.
      await store.ask(userId(), userId(), ANON)
      await eventually(async () => listener.woken.length >= 2)
      expect(listener.woken.filter((key) => key === bobTasks)).toHaveLength(1)
    })
  })
}
