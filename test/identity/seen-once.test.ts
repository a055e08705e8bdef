import { describe, expect, it } from 'vitest'
import { MemorySeenOnce } from '../../src/identity/seen-once.js'
import { seenOnceConformance } from './seen-once-conformance.js'

seenOnceConformance('memory', async () => new MemorySeenOnce({ maxEntries: 1000 }))

describe('MemorySeenOnce bounds', () => {
  const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => p.then(() => undefined, (err) => (err as { code?: string }).code)

  it('refuses with 503 when full of fresh entries, rather than forget one', async () => {
    let now = 1_000_000
    const memory = new MemorySeenOnce({ maxEntries: 3, now: () => now })
    for (const f of ['a', 'b', 'c']) expect(await memory.firstTime(f, 10_000)).toBe(true)
    expect(await codeOf(memory.firstTime('d', 10_000))).toBe('WC_ERR_SIGN_INS_FULL')
    // Still remembered: a replay is still refused, not let through.
    expect(await memory.firstTime('a', 10_000)).toBe(false)
    now += 10_000
    expect(await memory.firstTime('d', 10_000)).toBe(true)
    expect(memory.size).toBe(1)
  })

  it('sweeps entries that expired behind a longer-lived one when full', async () => {
    let now = 1_000_000
    const memory = new MemorySeenOnce({ maxEntries: 3, now: () => now })
    expect(await memory.firstTime('long', 60_000)).toBe(true)
    expect(await memory.firstTime('short1', 1_000)).toBe(true)
    expect(await memory.firstTime('short2', 1_000)).toBe(true)
    now += 1_000
    // The head ('long') is fresh, so the cheap pass frees nothing; the full sweep does.
    expect(await memory.firstTime('new', 1_000)).toBe(true)
    expect(memory.size).toBe(2)
    expect(await memory.firstTime('long', 60_000)).toBe(false)
  })
})
