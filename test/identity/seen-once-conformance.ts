/**
 * The one suite every single-use memory adapter must pass (memory, Redis).
 */
import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { SeenOnce } from '../../src/identity/seen-once.js'
import { sleep } from '../helper.js'

export function seenOnceConformance (name: string, factory: () => Promise<SeenOnce>): void {
  describe(`SeenOnce conformance: ${name}`, () => {
    const open: SeenOnce[] = []
    const make = async (): Promise<SeenOnce> => {
      const memory = await factory()
      open.push(memory)
      return memory
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((m) => m.close()))
    })
    const fingerprint = (): string => `auth_date=1\nuser={"id":1,"nonce":"${randomUUID()}"}`

    it('accepts a fingerprint once, and others independently', async () => {
      const memory = await make()
      const [a, b] = [fingerprint(), fingerprint()]
      expect(await memory.firstTime(a, 60_000)).toBe(true)
      expect(await memory.firstTime(a, 60_000)).toBe(false)
      expect(await memory.firstTime(b, 60_000)).toBe(true)
      expect(await memory.firstTime(a, 60_000)).toBe(false)
    })

    it('lets exactly one of many concurrent offers through', async () => {
      const memory = await make()
      const a = fingerprint()
      const results = await Promise.all(Array.from({ length: 20 }, async () => memory.firstTime(a, 60_000)))
      expect(results.filter(Boolean)).toHaveLength(1)
    })

    it('forgets a fingerprint once its time is up', async () => {
      const memory = await make()
      const a = fingerprint()
      expect(await memory.firstTime(a, 150)).toBe(true)
      expect(await memory.firstTime(a, 150)).toBe(false)
      let again = false
      for (let i = 0; i < 40 && !again; i++) {
        await sleep(50)
        again = await memory.firstTime(a, 60_000)
      }
      expect(again).toBe(true)
      expect(await memory.firstTime(a, 60_000)).toBe(false)
    })
  })
}
