import { describe, expect, it } from 'vitest'
import { BoundedExpiries } from '../src/bounded-expiries.js'

describe('a bounded table of keys that end', () => {
  it('tells a live key from an ended one, and holds an ended one until it is dropped', () => {
    const table = new BoundedExpiries(5)
    expect(table.set('a', 10, 0)).toBe(true)
    expect(table.isLive('a', 9)).toBe(true)
    expect(table.isLive('a', 10)).toBe(false)
    expect(table.isLive('b', 0)).toBe(false)
    expect(table.get('a')).toBe(10)
    expect(table.has('a')).toBe(true)
    table.dropExpiredHead(10)
    expect(table.has('a')).toBe(false)
    expect(table.size).toBe(0)
  })

  it('refuses a new key when every place is live, yet lets a held key move', () => {
    const table = new BoundedExpiries(2)
    table.set('a', 100, 0)
    table.set('b', 100, 0)
    expect(table.set('c', 100, 50)).toBe(false)
    expect(table.has('c')).toBe(false)
    expect(table.set('a', 200, 50)).toBe(true)
    expect(table.get('a')).toBe(200)
    expect(table.size).toBe(2)
  })

  it('sweeps a full table for ended keys out of order before it refuses', () => {
    const table = new BoundedExpiries(2)
    table.set('a', 100, 0)
    table.set('b', 5, 0) // ends first, yet sits behind a live key
    table.dropExpiredHead(6)
    expect(table.size).toBe(2)
    expect(table.set('c', 100, 6)).toBe(true)
    expect(table.has('b')).toBe(false)
    expect(table.has('a')).toBe(true)
  })

  it('sweeps again once the earliest live key of the last sweep has ended', () => {
    const table = new BoundedExpiries(2)
    table.set('a', 10, 0)
    table.set('b', 20, 0)
    expect(table.set('c', 30, 5)).toBe(false)
    expect(table.set('c', 30, 10)).toBe(true) // a ended at 10
    expect(table.set('d', 40, 15)).toBe(false)
    expect(table.set('d', 40, 20)).toBe(true) // b ended at 20
    expect([table.has('a'), table.has('b'), table.has('c'), table.has('d')]).toEqual([false, false, true, true])
  })

  it('walks a full table only when a key set out of order may have ended behind a live one', () => {
    const table = new BoundedExpiries(3)
    for (const [key, until] of [['a', 10], ['b', 20], ['c', 30]] as const) table.set(key, until, 0)
    // Full of live keys, in order: refused at once, again and again, without a walk.
    for (let now = 1; now < 10; now++) expect(table.set(`x${now}`, 100, now)).toBe(false)
    // One ends: it leaves from the front, still without a walk.
    expect(table.set('d', 40, 10)).toBe(true)
    expect(table.sweeps).toBe(0)
    // A key that ends before one set ahead of it: only once it may have ended does a refusal walk.
    table.set('b', 12, 10)
    for (let now = 10; now < 12; now++) expect(table.set(`y${now}`, 100, now)).toBe(false)
    expect(table.sweeps).toBe(0)
    expect(table.set('e', 50, 12)).toBe(true)
    expect(table.sweeps).toBe(1)
    expect([table.has('b'), table.has('c'), table.has('d'), table.has('e')]).toEqual([false, true, true, true])
    // Back in order: no more walks.
    for (let now = 13; now < 30; now++) expect(table.set(`z${now}`, 100, now)).toBe(false)
    expect(table.sweeps).toBe(1)
  })

  it('drops from the front only up to the first live key', () => {
    const table = new BoundedExpiries(5)
    table.set('a', 10, 0)
    table.set('b', 5, 0)
    table.dropExpiredHead(7)
    expect(table.size).toBe(2)
    table.dropExpiredHead(11)
    expect(table.size).toBe(0)
  })

  it('moves a key set again to the end of the order', () => {
    const table = new BoundedExpiries(5)
    table.set('a', 10, 0)
    table.set('b', 20, 0)
    table.set('a', 30, 0)
    table.dropExpiredHead(25)
    expect([table.has('a'), table.has('b')]).toEqual([true, false])
  })

  it('forgets everything on clear, and deletes one key', () => {
    const table = new BoundedExpiries(1)
    table.set('a', 10, 0)
    table.delete('a')
    expect(table.set('b', 10, 0)).toBe(true)
    table.clear()
    expect(table.size).toBe(0)
    expect(table.set('c', 10, 0)).toBe(true)
  })
})
