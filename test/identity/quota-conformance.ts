/**
 * The one suite every quota adapter must pass (memory, and the Lua fragment
 * the Redis ask step carries).
 */
import { describe, expect, it } from 'vitest'
import type { Quota, QuotaRate } from '../../src/identity/quota.js'
import { closeWhenDone, sleep, userIds } from '../helper.js'

const requester = userIds()

export function quotaConformance (name: string, factory: (rate: QuotaRate) => Promise<Quota>): void {
  describe(`Quota conformance: ${name}`, () => {
    const make = async (rate: QuotaRate): Promise<Quota> => closeWhenDone(await factory(rate))

    it('allows `limit` asks at once, then says how long until the next fits', async () => {
      const quota = await make({ limit: 3, periodMs: 3_600_000 })
      const alice = requester()
      for (let i = 0; i < 3; i++) expect(await quota.take(alice)).toBe(0)
      const wait = await quota.take(alice)
      expect(wait).toBeGreaterThan(1_190_000)
      expect(wait).toBeLessThanOrEqual(1_200_000)
      // Each requester has a quota of their own.
      expect(await quota.take(requester())).toBe(0)
    })

    it('does not count refused asks, and lets one more through once its time comes', async () => {
      // Periods are long enough that a stall of a few hundred ms on a loaded machine changes
      // nothing: the last two takes fail only if the sleep overshoots by a whole interval (1.2 s).
      const quota = await make({ limit: 2, periodMs: 2400 })
      const alice = requester()
      expect(await quota.take(alice)).toBe(0)
      expect(await quota.take(alice)).toBe(0)
      let wait = 0
      for (let i = 0; i < 5; i++) {
        wait = await quota.take(alice)
        expect(wait).toBeGreaterThan(0)
        expect(wait).toBeLessThanOrEqual(1200)
      }
      await sleep(wait + 40)
      expect(await quota.take(alice)).toBe(0)
      expect(await quota.take(alice)).toBeGreaterThan(0)
    })

    it('counts concurrent asks exactly', async () => {
      const quota = await make({ limit: 5, periodMs: 3_600_000 })
      const alice = requester()
      const waits = await Promise.all(Array.from({ length: 12 }, async () => quota.take(alice)))
      expect(waits.filter((w) => w === 0)).toHaveLength(5)
    })

    it('refills at the rate: a whole period later the whole quota is back', async () => {
      const quota = await make({ limit: 3, periodMs: 1500 })
      const alice = requester()
      for (let i = 0; i < 3; i++) expect(await quota.take(alice)).toBe(0)
      expect(await quota.take(alice)).toBeGreaterThan(0)
      await sleep(1540)
      for (let i = 0; i < 3; i++) expect(await quota.take(alice)).toBe(0)
      expect(await quota.take(alice)).toBeGreaterThan(0)
    })
  })
}
