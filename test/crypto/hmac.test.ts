import { createHmac, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { HmacKey } from '../../src/crypto/hmac.js'

describe('HmacKey', () => {
  it('is createHmac\'s HMAC-SHA256: any key length, any message, call after call', () => {
    // Keys shorter than, as long as, and longer than SHA-256's 64-byte block (hashed first); empty and long messages.
    for (const keyBytes of [0, 1, 31, 63, 64, 65, 200]) {
      const secret = randomBytes(keyBytes)
      const key = new HmacKey(secret)
      for (const messageBytes of [0, 1, 55, 56, 64, 119, 120, 1000, 70_000]) {
        const message = randomBytes(messageBytes)
        const expected = createHmac('sha256', secret).update(message).digest()
        expect(key.digest(message).equals(expected), `key ${keyBytes} B, message ${messageBytes} B`).toBe(true)
        expect(key.digest(Buffer.concat([message, Buffer.of(0)])).equals(expected)).toBe(false)
      }
    }
    // Each MAC is a value of its own, not a view of the key's working buffer that the next call overwrites.
    const key = new HmacKey('k')
    const first = key.digest('/getTasks/1')
    const copy = Buffer.from(first)
    key.digest('/getTasks/2')
    expect(first.equals(copy)).toBe(true)
    // A string key and message are UTF-8, as the field's plugins sign them.
    expect(new HmacKey('ваш_секретный_ключ').digest('/getTasks/тест').equals(createHmac('sha256', 'ваш_секретный_ключ').update('/getTasks/тест').digest())).toBe(true)
  })
})
