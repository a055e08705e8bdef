import { describe, expect, it } from 'vitest'
import { sleep, sleeping, unsleep, type Sleeper } from '../../src/relay/sleepers.js'

/** A sleeper that records when it wakes; `woke` resolves then. */
function sleeper (name: string, order: string[]): Sleeper & { woke: Promise<void> } {
  let done = (): void => {}
  const woke = new Promise<void>((resolve) => { done = resolve })
  return { due: 0, slot: -1, woke, timeUp () { order.push(name); done() } }
}

describe('the sleepers of held polls (one timer for all)', () => {
  it('wakes each sleeper once, earliest due first, whatever order they fell asleep in; one taken out never wakes', async () => {
    const order: string[] = []
    const [late, early, middle, gone, soon] = ['late', 'early', 'middle', 'gone', 'soon'].map((name) => sleeper(name, order)) as Array<ReturnType<typeof sleeper>>
    // The first arms the timer; the earlier ones after it re-arm it.
    sleep(late!, 60)
    sleep(middle!, 30)
    sleep(gone!, 20)
    sleep(early!, 10)
    sleep(soon!, 15)
    unsleep(gone!)
    unsleep(gone!)
    expect(sleeping()).toBe(4)
    await Promise.all([late!.woke, early!.woke, middle!.woke, soon!.woke])
    expect(order).toEqual(['early', 'soon', 'middle', 'late'])
    expect(sleeping()).toBe(0)
    expect([late, early, middle, gone, soon].map((s) => s!.slot)).toEqual([-1, -1, -1, -1, -1])
  })

  it('keeps its order as sleepers in the middle are taken out', async () => {
    const order: string[] = []
    const all = Array.from({ length: 40 }, (_, i) => sleeper(String(i), order))
    // Due in a scrambled order; every third taken out again.
    for (const [i, s] of all.entries()) sleep(s, 5 + ((i * 17) % 40))
    const kept = all.filter((_, i) => i % 3 !== 0)
    for (const [i, s] of all.entries()) if (i % 3 === 0) unsleep(s)
    expect(sleeping()).toBe(kept.length)
    await Promise.all(kept.map((s) => s.woke))
    const expected = [...kept].sort((a, b) => a.due - b.due).map((s) => all.indexOf(s).toString())
    expect(order).toEqual(expected)
    expect(sleeping()).toBe(0)
  })
})
