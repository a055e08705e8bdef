import { describe, expect, it } from 'vitest'
import { HmacKey } from '../../src/crypto/hmac.js'
import { sign, signedPath, verify } from '../../src/crypto/signature.js'

// The test vectors of the v1 protocol (docs/protocol.md).
const VECTORS: Array<[string, string, string]> = [
  ['lainapi.gay', '{"requester_id": 123, "target_id": 456}', '71fef23b87faa592beaacff3a1af9fc904a76e5806814e57c1b5103ce0de92f5'],
  ['lainapi.gay', '/getTasks/456', '8e1090cfdd7e4ccabb9c87075b71d53fde6d30129da3b42720b6238eb3fcba37'],
  ['lainapi.gay', '/getRequestResult/test-id', '031c89068d71f3591a0bdf8a96f1f93f54b50472e388de10ffe55060e90c6b97'],
  ['lainapi.gay', '{"request_id": "test-id", "client_name": "com.exteragram.messenger"}', 'bc994e89adca9ec9fff06bc1572586fa97b344147077bb4edf092a419449efe5'],
  ['ваш_секретный_ключ', '/getTasks/456', '3cc5e9d5baed1bfde10e58267e3c3521d9beac0a75a9ecfa74bba55072728e3f']
]

describe('v1 signatures', () => {
  it.each(VECTORS)('key %s over %s', (key, material, expected) => {
    expect(sign(key, material)).toBe(expected)
    expect(verify(new HmacKey(Buffer.from(key)), Buffer.from(material), expected)).toBe(true)
    expect(verify(new HmacKey(key), material, expected)).toBe(true)
    expect(verify(new HmacKey(key), Buffer.from(material), expected)).toBe(true)
  })

  it('accepts upper-case hex and rejects any other change', () => {
    const [secret, material, good] = VECTORS[0] as [string, string, string]
    const key = new HmacKey(secret)
    expect(verify(key, material, good.toUpperCase())).toBe(true)
    expect(verify(key, material, good.slice(0, -1) + (good.endsWith('5') ? '6' : '5'))).toBe(false)
    expect(verify(key, material, good.slice(0, 62))).toBe(false)
    expect(verify(key, material, good + '00')).toBe(false)
    expect(verify(key, material, 'z'.repeat(64))).toBe(false)
    expect(verify(key, material, '')).toBe(false)
    expect(verify(key, material + ' ', good)).toBe(false)
  })

  it('refuses a signature re-spelled with characters above U+00FF (Node hex-decodes those by their low byte)', () => {
    const [secret, material, good] = VECTORS[0] as [string, string, string]
    const key = new HmacKey(secret)
    const respelled = [...good].map((c) => String.fromCharCode(c.charCodeAt(0) + 0x100)).join('')
    expect(Buffer.from(respelled, 'hex').toString('hex')).toBe(good)
    expect(verify(key, material, respelled)).toBe(false)
    expect(verify(key, material, good.slice(0, 63) + String.fromCharCode(good.charCodeAt(63) + 0x100))).toBe(false)
  })

  it('signs GET paths percent-decoded, without the query', () => {
    expect(signedPath('/getTasks/456?wait=20')).toBe('/getTasks/456')
    expect(signedPath('/getRequestResult/a%20b')).toBe('/getRequestResult/a b')
    expect(signedPath('/getTasks/%ZZ')).toBeUndefined()
  })
})
