/**
 * Where an HmacKey keeps its pads: in native memory. Apart from the other
 * HmacKey tests, in a file of its own, so that no garbage of theirs (large
 * Buffers) is freed while this one counts.
 */
import { describe, expect, it } from 'vitest'
import { HmacKey } from '../../src/crypto/hmac.js'

describe('HmacKey memory', () => {
  it('keeps its pads in native memory, outside the JavaScript heap (V8 keeps a small typed array on its heap)', () => {
    // One secret for all: the keys' pads are then all that the loop allocates outside the heap.
    const secret = Buffer.alloc(32, 1)
    const before = process.memoryUsage().arrayBuffers
    const keys = Array.from({ length: 200_000 }, () => new HmacKey(secret))
    // 160 bytes each (32 MB in all, so that other buffers freed meanwhile hardly count) if they
    // are outside the heap; about none if inside.
    const perKey = (process.memoryUsage().arrayBuffers - before) / keys.length
    expect(perKey).toBeGreaterThanOrEqual(150)
  })
})
