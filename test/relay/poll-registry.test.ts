import { describe, expect, it } from 'vitest'
import { PollRegistry, type Waiter } from '../../src/relay/poll-registry.js'

/** A poll that waits from the start, as the relay's are once their first look says so; a new waiter per call. */
function hold (polls: PollRegistry, key: string, onWake: () => void): { release: () => void } {
  const waiter: Waiter = { key, waiting: true, wake: onWake }
  polls.admit(waiter)
  return { release: () => { polls.dismiss(waiter) } }
}

describe('the held-poll registry', () => {
  it('caps held polls per key (429) and in total (503)', () => {
    const polls = new PollRegistry({ maxPerKey: 2, maxTotal: 3 })
    const first = hold(polls, 'bob', () => {})
    hold(polls, 'bob', () => {})
    expect(() => hold(polls, 'bob', () => {})).toThrow(expect.objectContaining({ code: 'WC_ERR_TOO_MANY_POLLS', statusCode: 429 }))
    hold(polls, 'carol', () => {})
    expect(() => hold(polls, 'dave', () => {})).toThrow(expect.objectContaining({ code: 'WC_ERR_POLLS_FULL', statusCode: 503 }))
    expect(polls.size).toBe(3)
    first.release()
    first.release()
    expect(polls.size).toBe(2)
    expect(() => hold(polls, 'bob', () => {}).release()).not.toThrow()
    expect(polls.size).toBe(2)
  })

  it('counts the same callback held twice as two polls', () => {
    const polls = new PollRegistry({ maxPerKey: 5, maxTotal: 5 })
    let woke = 0
    const onWake = (): void => { woke++ }
    const a = hold(polls, 'bob', onWake)
    hold(polls, 'bob', onWake)
    polls.wake('bob')
    expect(woke).toBe(2)
    a.release()
    polls.wake('bob')
    expect(woke).toBe(3)
  })

  it('wakes the polls of one key, or all of them', () => {
    const polls = new PollRegistry({ maxPerKey: 5, maxTotal: 5 })
    const woke: string[] = []
    hold(polls, 'bob', () => woke.push('bob'))
    hold(polls, 'carol', () => woke.push('carol'))
    polls.wake('bob')
    polls.wake('nobody')
    expect(woke).toEqual(['bob'])
    polls.wakeAll()
    expect(woke.sort()).toEqual(['bob', 'bob', 'carol'])
  })

  it('lets a released key be held up to its cap again', () => {
    const polls = new PollRegistry({ maxPerKey: 1, maxTotal: 10 })
    hold(polls, 'bob', () => {}).release()
    const again = hold(polls, 'bob', () => {})
    expect(() => hold(polls, 'bob', () => {})).toThrow(expect.objectContaining({ code: 'WC_ERR_TOO_MANY_POLLS' }))
    again.release()
    expect(polls.size).toBe(0)
  })

  it('counts under a key only the polls that wait; every poll under the total', () => {
    const polls = new PollRegistry({ maxPerKey: 2, maxTotal: 6 })
    // As the relay's holds are: admitted before their first look, waiting once it says so.
    const looking = (): { key: string, waiting: boolean, wake: () => void } => ({ key: 'bob', waiting: false, wake: () => {} })
    const wait = (poll: { waiting: boolean }): void => {
      polls.startWaiting(poll as ReturnType<typeof looking>)
      poll.waiting = true
    }
    const [a, b, c, d] = [looking(), looking(), looking(), looking()]
    polls.admit(a)
    wait(a) // alone on its key, then joined by others
    for (const poll of [b, c, d]) polls.admit(poll)
    wait(b)
    expect(() => { wait(c) }).toThrow(expect.objectContaining({ code: 'WC_ERR_TOO_MANY_POLLS', statusCode: 429 }))
    // A poll that only looked frees no place; one that waited does.
    polls.dismiss(d)
    expect(() => { wait(c) }).toThrow(expect.objectContaining({ code: 'WC_ERR_TOO_MANY_POLLS' }))
    polls.dismiss(a)
    wait(c)
    // A waiting poll admitted at once is held to the cap at once (as `hold` here is).
    expect(() => hold(polls, 'bob', () => {})).toThrow(expect.objectContaining({ code: 'WC_ERR_TOO_MANY_POLLS' }))
    for (let i = 0; i < 4; i++) polls.admit(looking())
    expect(() => { polls.admit(looking()) }).toThrow(expect.objectContaining({ code: 'WC_ERR_POLLS_FULL', statusCode: 503 }))
    polls.dismiss(b)
    polls.dismiss(c)
    expect(polls.size).toBe(4)
    // Its places free again, the key takes two waiting polls, no more.
    hold(polls, 'bob', () => {}).release()
    const e = hold(polls, 'bob', () => {})
    hold(polls, 'bob', () => {})
    expect(() => hold(polls, 'carol', () => {})).toThrow(expect.objectContaining({ code: 'WC_ERR_POLLS_FULL' }))
    e.release()
    expect(() => hold(polls, 'bob', () => {}).release()).not.toThrow()
  })
})
