import { createDecipheriv, generateKeySync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { IdPermutation } from '../../src/crypto/id-permutation.js'

describe('IdPermutation', () => {
  it('gives one 22-character base64url value per id and namespace, every time', () => {
    const ids = new IdPermutation()
    const value = ids.of(1, 123_456_789)
    expect(value).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(ids.of(1, 123_456_789)).toBe(value)
    expect(ids.of(2, 555)).toBe(ids.of(2, 555))
  })

  it('keeps ids, namespaces and keys apart', () => {
    const ids = new IdPermutation()
    const values = new Set<string>()
    for (const namespace of [1, 2]) {
      for (const id of [1, 2, 3, 255, 256, 2 ** 32, Number.MAX_SAFE_INTEGER]) values.add(ids.of(namespace, id))
    }
    expect(values.size).toBe(14)
    expect(new IdPermutation().of(1, 42)).not.toBe(ids.of(1, 42))
  })

  it('is AES-128 of the namespace and the id under its key', () => {
    const key = generateKeySync('aes', { length: 128 })
    const value = new IdPermutation(key).of(7, 9_007_199_254_740_991)
    const decipher = createDecipheriv('aes-128-ecb', key, null)
    decipher.setAutoPadding(false)
    const block = decipher.update(Buffer.from(value, 'base64url'))
    expect(block[0]).toBe(7)
    expect(block.readDoubleBE(8)).toBe(9_007_199_254_740_991)
  })
})
