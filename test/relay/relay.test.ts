import { describe, expect, it, vi } from 'vitest'
import { Sealer } from '../../src/crypto/sealer.js'
import { Relay } from '../../src/relay/relay.js'
import { MemoryTaskStore } from '../../src/store/memory-task-store.js'
import { closeWhenDone, heldPollsBecome, sleep } from '../helper.js'
import { heldInbox, heldOwnResult, heldResult, heldTasks } from '../kit/held.js'

const LIMITS = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }

/** A relay over a memory store, closed when the test is done. */
async function memoryRelay (): Promise<Relay> {
  return closeWhenDone(await Relay.open((listener) => new MemoryTaskStore({ ...LIMITS, listener }), { maxPerKey: 4, maxTotal: 100 }))
}

/** Every value the sealer hashes from now until vi.restoreAllMocks(), in order. */
function recordHashes (): string[] {
  const hashed: string[] = []
  const hash = Sealer.prototype.hash
  vi.spyOn(Sealer.prototype, 'hash').mockImplementation(function (this: Sealer, value: string) {
    hashed.push(value)
    return hash.call(this, value)
  })
  return hashed
}

describe('the relay holding polls', () => {
  it('does not take an answer for a reader that has left', async () => {
    const relay = await memoryRelay()
    const { requestId } = await relay.createRequest(1, 2)
    const reader = new AbortController()
    const held = heldResult(relay, requestId, 10_000, reader.signal)
    await heldPollsBecome(relay, 1)
    // The reader leaves just as the answer lands: both wake the hold.
    reader.abort()
    await relay.submitAnswer(requestId, 'com.exteragram.messenger')
    await held
    expect(await relay.resultOf(requestId)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
  })

  it('answers at once, without looking, for a reader that left before the hold began', async () => {
    const relay = await memoryRelay()
    const { requestId } = await relay.createRequest(1, 2)
    await relay.submitAnswer(requestId, 'a.b')
    const gone = AbortSignal.abort()
    expect((await heldResult(relay, requestId, 10_000, gone)).status).toBe('pending')
    expect(await relay.resultOf(requestId)).toEqual({ status: 'completed', packageName: 'a.b' })
  })

  it('ends a hold when its wait is over, though the wall clock stepped back meanwhile', async () => {
    const relay = await memoryRelay()
    try {
      const held = heldTasks(relay, 7, 300)
      await heldPollsBecome(relay, 1)
      const stepped = Date.now() - 3_600_000
      vi.spyOn(Date, 'now').mockImplementation(() => stepped)
      const ended = await Promise.race([held.then(() => 'answered'), sleep(5000).then(() => 'still held')])
      expect(ended).toBe('answered')
    } finally {
      vi.restoreAllMocks()
    }
  })

  it('answers a task poll whose wait passes with no wake-up without looking again; a woken one looks again', async () => {
    let looks = 0
    const relay = closeWhenDone(await Relay.open((listener) => {
      const store = new MemoryTaskStore({ ...LIMITS, listener })
      const pendingTasks = store.pendingTasks.bind(store)
      const inbox = store.inbox.bind(store)
      store.pendingTasks = async (userId) => { looks++; return pendingTasks(userId) }
      store.inbox = async (userId) => { looks++; return inbox(userId) }
      return store
    }, { maxPerKey: 4, maxTotal: 100 }))
    expect(await heldTasks(relay, 7, 100)).toEqual([])
    expect(looks, 'v1: the look when the hold began, none at its deadline').toBe(1)
    expect(await heldInbox(relay, { userId: 7, expiresAt: Date.now() / 1000 + 60 }, 100)).toEqual([])
    expect(looks, 'v2: the same').toBe(2)
    // A task that lands while it sleeps still wakes it, and it looks again to find it.
    const held = heldTasks(relay, 8, 10_000)
    await heldPollsBecome(relay, 1)
    const { requestId } = await relay.createRequest(1, 8)
    expect(await held).toEqual([requestId])
    expect(looks).toBe(4)
  })

  it('hashes the id a hold waits on once, not again on each look', async () => {
    const relay = await memoryRelay()
    const { requestId } = await relay.createRequest(1, 2)
    const hashed = recordHashes()
    try {
      // Its wake key, then two looks: one when it begins, one when the answer wakes it.
      const held = heldResult(relay, requestId, 10_000)
      await heldPollsBecome(relay, 1)
      await relay.submitAnswer(requestId, 'com.exteragram.messenger')
      expect(await held).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
    } finally {
      vi.restoreAllMocks()
    }
    // The hold's one hash and the submit's.
    expect(hashed).toEqual([`request:${requestId}`, `request:${requestId}`])
  })

  it('hashes the id a v2 hold waits on once, too', async () => {
    const relay = await memoryRelay()
    const { requestId } = await relay.ask(1, 2, { named: false })
    const hashed = recordHashes()
    try {
      const held = heldOwnResult(relay, 1, requestId, 10_000)
      await heldPollsBecome(relay, 1)
      expect(await relay.answerAs(2, requestId, { kind: 'plain', packageName: 'com.exteragram.messenger' })).toBe('accepted')
      expect(await held).toMatchObject({ status: 'completed' })
    } finally {
      vi.restoreAllMocks()
    }
    // The hold's one hash and the answer's (user ids are keyed by the permutation in memory mode).
    expect(hashed).toEqual([`request:${requestId}`, `request:${requestId}`])
  })

  it('releases every hold and refuses new requests once it closes', async () => {
    const relay = await memoryRelay()
    const held = heldTasks(relay, 7, 30_000)
    await heldPollsBecome(relay, 1)
    await relay.close()
    expect(await held).toEqual([])
    expect(relay.heldPolls()).toBe(0)
    await expect(relay.createRequest(1, 2)).rejects.toMatchObject({ code: 'WC_ERR_SHUTTING_DOWN' })
  })
})
