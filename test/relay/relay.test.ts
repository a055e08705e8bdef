import { describe, expect, it, vi } from 'vitest'
import { Relay } from '../../src/relay/relay.js'
import { MemoryTaskStore } from '../../src/store/memory-task-store.js'
import { sleep } from '../helper.js'

const LIMITS = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }

async function memoryRelay (): Promise<Relay> {
  return Relay.open((listener) => new MemoryTaskStore({ ...LIMITS, listener }), { maxPerKey: 4, maxTotal: 100 })
}

async function heldPollsBecome (relay: Relay, n: number): Promise<void> {
  for (let i = 0; i < 200 && relay.heldPolls() !== n; i++) await sleep(5)
  expect(relay.heldPolls()).toBe(n)
}

describe('the relay holding polls', () => {
  it('does not take an answer for a reader that has left', async () => {
    const relay = await memoryRelay()
    try {
      const { requestId } = await relay.createRequest(1, 2)
      const reader = new AbortController()
      const held = relay.resultOf(requestId, 10_000, reader.signal)
      await heldPollsBecome(relay, 1)
      // The reader leaves just as the answer lands: both wake the hold.
      reader.abort()
      await relay.submitAnswer(requestId, 'com.exteragram.messenger')
      await held
      expect(await relay.resultOf(requestId, 0)).toEqual({ status: 'completed', packageName: 'com.exteragram.messenger' })
    } finally {
      await relay.close()
    }
  })

  it('answers at once, without looking, for a reader that left before the hold began', async () => {
    const relay = await memoryRelay()
    try {
      const { requestId } = await relay.createRequest(1, 2)
      await relay.submitAnswer(requestId, 'a.b')
      const gone = AbortSignal.abort()
      expect((await relay.resultOf(requestId, 10_000, gone)).status).toBe('pending')
      expect(await relay.resultOf(requestId, 0)).toEqual({ status: 'completed', packageName: 'a.b' })
    } finally {
      await relay.close()
    }
  })

  it('ends a hold when its wait is over, though the wall clock stepped back meanwhile', async () => {
    const relay = await memoryRelay()
    try {
      const held = relay.tasksFor(7, 300)
      await heldPollsBecome(relay, 1)
      const stepped = Date.now() - 3_600_000
      vi.spyOn(Date, 'now').mockImplementation(() => stepped)
      const ended = await Promise.race([held.then(() => 'answered'), sleep(5000).then(() => 'still held')])
      expect(ended).toBe('answered')
    } finally {
      vi.restoreAllMocks()
      await relay.close()
    }
  })

  it('releases every hold and refuses new requests once it closes', async () => {
    const relay = await memoryRelay()
    const held = relay.tasksFor(7, 30_000)
    await heldPollsBecome(relay, 1)
    await relay.close()
    expect(await held).toEqual([])
    expect(relay.heldPolls()).toBe(0)
    await expect(relay.createRequest(1, 2)).rejects.toMatchObject({ code: 'WC_ERR_SHUTTING_DOWN' })
  })
})
