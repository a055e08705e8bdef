import { createHmac, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Sealer } from '../../src/crypto/sealer.js'

/** Sealer(32 bytes of 7).hash('target:1'), as the code before HmacKey (c0ef071) computed it. */
const KNOWN_TARGET_1 = 'BL_CJHH5TcySnDQ8O9mpJQ'

describe('Sealer', () => {
  it('round-trips and hides the plaintext', () => {
    const sealer = new Sealer()
    const sealed = sealer.seal('com.example.secret', 'ctx')
    expect(sealed).not.toContain('com.example')
    expect(sealer.open(sealed, 'ctx')).toBe('com.example.secret')
  })

  it('uses a fresh IV each time', () => {
    const sealer = new Sealer()
    expect(sealer.seal('same', 'ctx')).not.toBe(sealer.seal('same', 'ctx'))
  })

  it('never repeats an IV, across sealers and however many seals (IVs are drawn in batches)', () => {
    const sealers = [new Sealer(), new Sealer()]
    const ivs = new Set<string>()
    const count = 3000
    for (let i = 0; i < count; i++) {
      const sealer = sealers[i % 2] as Sealer
      const sealed = sealer.seal(`value ${i}`, 'ctx')
      ivs.add(Buffer.from(sealed, 'latin1').subarray(0, 12).toString('hex'))
      expect(sealer.open(sealed, 'ctx')).toBe(`value ${i}`)
    }
    expect(ivs.size).toBe(count)
  })

  it('refuses a wrong context, a wrong key and tampering', () => {
    const secret = randomBytes(32)
    const sealer = new Sealer(secret)
    const sealed = sealer.seal('answer', 'ctx')
    expect(sealer.open(sealed, 'other')).toBeUndefined()
    expect(new Sealer().open(sealed, 'ctx')).toBeUndefined()
    expect(new Sealer(Buffer.from(secret)).open(sealed, 'ctx')).toBe('answer')
    const bytes = Buffer.from(sealed, 'latin1')
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
    expect(sealer.open(bytes.toString('latin1'), 'ctx')).toBeUndefined()
    expect(sealer.open('short', 'ctx')).toBeUndefined()
  })

  it('hashes to stable, key-dependent lookup keys', () => {
    const secret = randomBytes(32)
    expect(new Sealer(secret).hash('target:1')).toBe(new Sealer(secret).hash('target:1'))
    expect(new Sealer(secret).hash('target:1')).not.toBe(new Sealer().hash('target:1'))
    expect(new Sealer(secret).hash('target:1')).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(new Sealer(secret).hash('target:1')).not.toBe(new Sealer(secret).hash('target:2'))
  })

  it('hashes as it always has: HMAC-SHA256 under the derived hash key, 128 bits (the keys Redis holds stay the same)', () => {
    const secret = Buffer.alloc(32, 7)
    const hashKey = createHmac('sha256', secret).update('whatclient hash v1').digest()
    for (const value of ['target:1', 'request:0b6a3f0e-9a4c-4e1b-8f0e-2d6c1b7a9e55', 'pair:1:2', 'quota:ünïcode', '']) {
      expect(new Sealer(secret).hash(value)).toBe(createHmac('sha256', hashKey).update(value).digest().subarray(0, 16).toString('base64url'))
    }
    // One fixed value, so that a change of derivation shows even if both sides above changed alike.
    expect(new Sealer(secret).hash('target:1')).toBe(KNOWN_TARGET_1)
  })

  it('needs a 32-byte secret', () => {
    expect(() => new Sealer(Buffer.alloc(16))).toThrow(RangeError)
  })
})
