/**
 * The wake-ups the Redis store publishes: every instance hears each one, so
 * a wake-up nobody waits for costs every instance for nothing. A new task
 * wakes its target, a new answer its request; a confirmed hand-out wakes only
 * readers told to wait for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import { SCRIPTS } from '../../src/store/redis/scripts.js'
import type { StoreLimits } from '../../src/store/task-store.js'
import { closeWhenDone, eventually, userIds } from '../helper.js'
import { deleteKeys, SHARED_REDIS, TEST_STORE_KEY, testPrefix } from './redis-helper.js'

const LIMITS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }
const user = userIds()

describe('wake-ups from the Redis store', () => {
  const prefixes: string[] = []
  // Runs the store's own scripts as another instance would, between the store's calls.
  const other = createClient({ url: SHARED_REDIS, scripts: SCRIPTS })
  beforeAll(async () => { await other.connect() })
  afterAll(async () => {
    other.destroy()
    for (const prefix of prefixes) await deleteKeys(prefix)
  })

  async function open (): Promise<{ store: RedisTaskStore, prefix: string, woken: string[] }> {
    const prefix = testPrefix()
    prefixes.push(prefix)
    const woken: string[] = []
    const store = closeWhenDone(await RedisTaskStore.connect({ ...LIMITS, listener: { wake: (key) => woken.push(key), wakeAll: () => {} }, url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix }))
    return { store, prefix, woken }
  }

  it('wakes the target for a new task and the request for its answer, and no one for a result read', async () => {
    const { store, woken } = await open()
    const bob = user()
    const { requestId } = await store.createRequest(user(), bob)
    const task = store.wakeKey({ kind: 'tasks', userId: bob })
    const result = store.wakeKey({ kind: 'result', requestId })
    await eventually(() => woken.includes(task), { timeoutMs: 3000 })
    expect(await store.submitAnswer(requestId, 'com.exteragram.messenger')).toBe(true)
    await eventually(() => woken.includes(result), { timeoutMs: 3000 })
    expect(await store.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
    // A wake-up published after the read arrives after any the read published.
    const later = user()
    await store.createRequest(user(), later)
    await eventually(() => woken.includes(store.wakeKey({ kind: 'tasks', userId: later })), { timeoutMs: 3000 })
    expect(woken.filter((key) => key === result)).toHaveLength(1)
    expect(woken.filter((key) => key === task)).toHaveLength(1)
  })

  it('wakes a reader told to wait for a hand-out once that hand-out is confirmed', async () => {
    const { store, prefix, woken } = await open()
    const { requestId } = await store.createRequest(user(), user())
    expect(await store.submitAnswer(requestId, 'com.radolyn.ayugram')).toBe(true)
    const requestHash = store.wakeKey({ kind: 'result', requestId })
    const recordKey = `${prefix}q:${requestHash}`
    await eventually(() => woken.includes(requestHash), { timeoutMs: 3000 })
    // Another instance hands the answer out and has not confirmed yet...
    const handedOut = await other.wcTake({ recordKey, prefix, callerHash: '', retryGraceMs: LIMITS.retryGraceMs, settleMs: 60_000 })
    if (handedOut.kind !== 'completed') throw new Error(`not handed out: ${handedOut.kind}`)
    // ...so this reader is told to look again later...
    expect(await store.takeResult(requestId)).toMatchObject({ status: 'pending' })
    const before = woken.filter((key) => key === requestHash).length
    // ...and is woken when the other instance confirms, to find it delivered.
    expect(await other.wcDelivered({ recordKey, prefix, requestHash, handedOutAt: handedOut.handedOutAt })).toBe(true)
    await eventually(() => woken.filter((key) => key === requestHash).length > before, { timeoutMs: 3000 })
    expect(await store.takeResult(requestId)).toEqual({ status: 'expired' })
  })
})
