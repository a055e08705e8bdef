/**
 * The watch on requests just created (src/store/redis/fresh-requests.ts), on
 * a clock the test sets: spent once, by its own caller, within its window, and
 * dropped by any wake-up on its key.
 */
import { describe, expect, it } from 'vitest'
import { FreshRequests } from '../../../src/store/redis/fresh-requests.js'
import { sleep } from '../../helper.js'

const TTL_MS = 60_000

describe('FreshRequests', () => {
  it('vouches once for a watched request, to its own caller, with the time left to its expiry', () => {
    const fresh = new FreshRequests(TTL_MS)
    fresh.watch('r1', '', 1000)
    fresh.watch('r2', 'alice-hash', 1000)
    expect(fresh.spend('r1', 'alice-hash', 1010)).toBeUndefined()
    expect(fresh.spend('r2', '', 1010)).toBeUndefined()
    expect(fresh.spend('r1', '', 1250)).toBe(TTL_MS - 250)
    expect(fresh.spend('r1', '', 1260)).toBeUndefined()
    expect(fresh.spend('r2', 'alice-hash', 1300)).toBe(TTL_MS - 300)
    expect(fresh.size).toBe(0)
  })

  it('vouches for nothing a wake-up named, after a clear, once forgotten, or past its window', () => {
    const fresh = new FreshRequests(TTL_MS)
    for (const hash of ['heard', 'cleared', 'forgotten', 'old']) fresh.watch(hash, '', 0)
    fresh.heard('heard')
    fresh.forget('forgotten')
    expect(fresh.spend('heard', '', 10)).toBeUndefined()
    expect(fresh.spend('forgotten', '', 10)).toBeUndefined()
    expect(fresh.spend('old', '', 2000)).toBeUndefined()
    fresh.watch('cleared', '', 3000)
    fresh.clear()
    expect(fresh.spend('cleared', '', 3010)).toBeUndefined()
  })

  it('keeps a window of at most half the expiry, for a short TTL', () => {
    const fresh = new FreshRequests(1000)
    fresh.watch('a', '', 0)
    fresh.watch('b', '', 0)
    expect(fresh.spend('a', '', 499)).toBe(501)
    expect(fresh.spend('b', '', 500)).toBeUndefined()
  })

  it('forgets every watch soon after its window, even when no other create comes', async () => {
    // A TTL of 200 ms: a window of 100 ms, a sweep within two.
    const fresh = new FreshRequests(200)
    fresh.watch('a', '')
    fresh.watch('b', 'alice-hash')
    expect(fresh.size).toBe(2)
    await sleep(400)
    expect(fresh.size).toBe(0)
  })

  it('drops the oldest watches: those past their window, and beyond its bound', () => {
    const fresh = new FreshRequests(TTL_MS)
    fresh.watch('stale', '', 0)
    fresh.watch('recent', '', 1500)
    // A watch made after the first one's window has passed drops it, and only it.
    fresh.watch('new', '', 2100)
    expect(fresh.size).toBe(2)
    for (let i = 0; i < 10_000; i++) fresh.watch(`many-${i}`, '', 2200)
    expect(fresh.size).toBe(10_000)
    expect(fresh.spend('recent', '', 2300)).toBeUndefined()
    expect(fresh.spend('many-9999', '', 2300)).toBe(TTL_MS - 100)
  })
})
