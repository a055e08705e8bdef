import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Sealer } from '../../src/crypto/sealer.js'
import type { StoreConfig } from '../../src/config.js'
import { deriveKey, identitySecrets, SEEN_ONCE_KEY_LABEL, TOKEN_KEY_LABEL } from '../../src/identity/keys.js'
import { SessionTokens } from '../../src/identity/tokens.js'
import { codeOf } from '../kit/refusals.js'

const NOW = 1_800_000_000
const USER = 123_456_789_012
/** The labels of the token's two keys (src/identity/tokens.ts): the format, pinned. */
const CIPHER_LABEL = 'whatclient v2 session token 2: cipher'
const TAG_LABEL = 'whatclient v2 session token 2: tag'

describe('SessionTokens', () => {
  const secret = randomBytes(32)
  let now = NOW
  const tokens = new SessionTokens({ secret, ttlSeconds: 86_400, now: () => now })

  it('issues a small token bound to the user, expiring after SESSION_TTL_SECONDS', () => {
    now = NOW
    const issued = tokens.issue(USER)
    expect(issued.userId).toBe(USER)
    expect(issued.expiresAt).toBe(NOW + 86_400)
    expect(issued.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(tokens.verify(issued.token)).toEqual({ userId: USER, expiresAt: NOW + 86_400 })
    expect(tokens.verify(tokens.issue(Number.MAX_SAFE_INTEGER).token).userId).toBe(Number.MAX_SAFE_INTEGER)
  })

  it('names nobody: sealed, and different every time', () => {
    now = NOW
    const a = tokens.issue(USER).token
    const b = tokens.issue(USER).token
    expect(a).not.toBe(b)
    for (const token of [a, b]) {
      const bytes = Buffer.from(token, 'base64url')
      expect(token).not.toContain(String(USER))
      expect(bytes.toString('latin1')).not.toContain(String(USER))
      expect(bytes.toString('latin1')).not.toContain(String(NOW + 86_400))
    }
  })

  it('holds the user id and expiry only as AES-256 ciphertext under the cipher key, at the offsets the format says', () => {
    now = NOW
    const bytes = Buffer.from(tokens.issue(USER).token, 'base64url')
    expect(bytes).toHaveLength(32)
    const plaintext = createDecipheriv('aes-256-ecb', deriveKey(secret, CIPHER_LABEL), null).setAutoPadding(false).update(bytes.subarray(0, 16))
    expect(plaintext.readUInt32BE(4) * 2 ** 32 + plaintext.readUInt32BE(8)).toBe(USER)
    expect(plaintext.readUInt32BE(12)).toBe(NOW + 86_400)
    // Nothing of it in the token as it travels: not the id's bytes, not the expiry's.
    expect(bytes.includes(plaintext.subarray(4, 12))).toBe(false)
    expect(bytes.includes(plaintext.subarray(12))).toBe(false)
  })

  it('gives every caller their own session, token after token (the cipher contexts keep nothing between calls)', () => {
    now = NOW
    const issued = Array.from({ length: 200 }, (_, i) => tokens.issue(1 + i * 45_035_996_273_704))
    for (const [i, { token, userId }] of issued.entries()) {
      expect(tokens.verify(token).userId).toBe(userId)
      // Interleaved with a refusal and a new token, as polls and sign-ins interleave.
      expect(codeOf(() => tokens.verify(issued[(i + 1) % issued.length]?.token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) ?? ''))).toBe('WC_ERR_TOKEN_INVALID')
      expect(tokens.verify(tokens.issue(userId + 1).token).userId).toBe(userId + 1)
    }
  })

  it('issues for user ids 1..2^53-1 only, and until its expiry fits (2106)', () => {
    now = NOW
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53]) expect(() => tokens.issue(bad), String(bad)).toThrow(RangeError)
    now = 2 ** 32 - 1 - 86_400
    expect(tokens.verify(tokens.issue(USER).token)).toEqual({ userId: USER, expiresAt: 2 ** 32 - 1 })
    now = 2 ** 32 - 86_400
    expect(() => tokens.issue(USER)).toThrow(RangeError)
    now = NOW
  })

  it('refuses a genuine block whose user id is out of range (the second line behind the tag)', () => {
    now = NOW
    const encrypt = createCipheriv('aes-256-ecb', deriveKey(secret, CIPHER_LABEL), null).setAutoPadding(false)
    const tag = createCipheriv('aes-256-ecb', deriveKey(secret, TAG_LABEL), null).setAutoPadding(false)
    const made = (high: number, low: number): string => {
      const plaintext = Buffer.alloc(16)
      plaintext.writeUInt32BE(high, 4)
      plaintext.writeUInt32BE(low, 8)
      plaintext.writeUInt32BE(NOW + 1000, 12)
      const ciphertext = encrypt.update(plaintext)
      return Buffer.concat([ciphertext, tag.update(ciphertext)]).toString('base64url')
    }
    expect(tokens.verify(made(2 ** 21 - 1, 2 ** 32 - 1)).userId).toBe(Number.MAX_SAFE_INTEGER)
    expect(codeOf(() => tokens.verify(made(2 ** 21, 0)))).toBe('WC_ERR_TOKEN_INVALID')
    expect(codeOf(() => tokens.verify(made(0, 0)))).toBe('WC_ERR_TOKEN_INVALID')
  })

  it('is accepted by another instance with the same secret, and by no other', () => {
    now = NOW
    const { token } = tokens.issue(USER)
    expect(new SessionTokens({ secret, ttlSeconds: 60, now: () => now }).verify(token).userId).toBe(USER)
    expect(codeOf(() => new SessionTokens({ secret: randomBytes(32), ttlSeconds: 60, now: () => now }).verify(token))).toBe('WC_ERR_TOKEN_INVALID')
  })

  it('refuses every altered spelling', () => {
    now = NOW
    for (const user of [1, 12345, USER, Number.MAX_SAFE_INTEGER]) {
      const { token } = tokens.issue(user)
      for (let i = 0; i < token.length; i++) {
        const c = token[i] as string
        const altered = token.slice(0, i) + (c === 'A' ? 'B' : 'A') + token.slice(i + 1)
        expect(codeOf(() => tokens.verify(altered)), `position ${i} of ${token.length}`).toBe('WC_ERR_TOKEN_INVALID')
      }
      expect(codeOf(() => tokens.verify(token.slice(0, -1)))).toBe('WC_ERR_TOKEN_INVALID')
      expect(codeOf(() => tokens.verify(`${token}A`))).toBe('WC_ERR_TOKEN_INVALID')
      expect(codeOf(() => tokens.verify(`${token}=`))).toBe('WC_ERR_TOKEN_INVALID')
    }
  })

  it('refuses every second spelling of the same bytes (unused low bits of the last character set)', () => {
    now = NOW
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    let tried = 0
    for (const user of [1, 12, 123, 1234, 12345, USER]) {
      const { token } = tokens.issue(user)
      if (token.length % 4 === 0) continue
      expect(tokens.verify(token).userId).toBe(user)
      const bytes = Buffer.from(token, 'base64url')
      for (const c of alphabet) {
        const respelled = token.slice(0, -1) + c
        if (respelled === token || !Buffer.from(respelled, 'base64url').equals(bytes)) continue
        tried++
        expect(codeOf(() => tokens.verify(respelled)), respelled).toBe('WC_ERR_TOKEN_INVALID')
      }
    }
    expect(tried).toBeGreaterThan(0)
  })

  it('refuses forgeries: garbage, spliced tokens, blocks tagged with the wrong key, the old sealed format', () => {
    now = NOW
    for (const token of ['', 'abc', 'A'.repeat(43), 'A'.repeat(60), 'A'.repeat(500), '!'.repeat(43)]) {
      expect(codeOf(() => tokens.verify(token)), token).toBe('WC_ERR_TOKEN_INVALID')
    }
    // The ciphertext of one token with the tag of another: each half is genuine, the pair is not.
    const a = Buffer.from(tokens.issue(USER).token, 'base64url')
    const b = Buffer.from(tokens.issue(USER + 1).token, 'base64url')
    expect(codeOf(() => tokens.verify(Buffer.concat([a.subarray(0, 16), b.subarray(16)]).toString('base64url')))).toBe('WC_ERR_TOKEN_INVALID')
    // A block tagged under the cipher's key, or under the secret itself, instead of the tag's key.
    const ciphertext = a.subarray(0, 16)
    for (const key of [deriveKey(secret, CIPHER_LABEL), secret]) {
      const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
      expect(codeOf(() => tokens.verify(Buffer.concat([ciphertext, ecb.update(ciphertext)]).toString('base64url')))).toBe('WC_ERR_TOKEN_INVALID')
    }
    // The tag's key is the one that makes a token: proof that the cases above fail for their key alone.
    const tagger = createCipheriv('aes-256-ecb', deriveKey(secret, TAG_LABEL), null).setAutoPadding(false)
    expect(tokens.verify(Buffer.concat([ciphertext, tagger.update(ciphertext)]).toString('base64url')).userId).toBe(USER)
    // The format before session 14: AES-256-GCM of "<user id>.<expiry>" (68 characters for this user id).
    const sealed = Buffer.from(new Sealer(secret).seal(`${USER}.${NOW + 1000}`, 'whatclient v2 session token 1'), 'latin1').toString('base64url')
    expect(codeOf(() => tokens.verify(sealed))).toBe('WC_ERR_TOKEN_INVALID')
  })

  it('expires at expires_at', () => {
    now = NOW
    const { token, expiresAt } = tokens.issue(USER)
    now = expiresAt - 1
    expect(tokens.verify(token).userId).toBe(USER)
    now = expiresAt
    expect(codeOf(() => tokens.verify(token))).toBe('WC_ERR_TOKEN_EXPIRED')
    now = NOW
  })
})

describe('identity secrets', () => {
  const redis = (key: Buffer): StoreConfig => ({ kind: 'redis', url: 'redis://127.0.0.1:6379', prefix: 'wc:', key })

  it('derive from STORE_KEY in Redis mode, each with its own label', () => {
    const storeKey = randomBytes(32)
    const a = identitySecrets(redis(storeKey))
    const b = identitySecrets(redis(storeKey))
    expect(a.token.equals(b.token)).toBe(true)
    expect(a.seenOnce.equals(b.seenOnce)).toBe(true)
    expect(a.token.equals(a.seenOnce)).toBe(false)
    expect(a.token.equals(storeKey)).toBe(false)
    expect(a.token.equals(deriveKey(storeKey, TOKEN_KEY_LABEL))).toBe(true)
    expect(a.seenOnce.equals(deriveKey(storeKey, SEEN_ONCE_KEY_LABEL))).toBe(true)
    expect(identitySecrets(redis(randomBytes(32))).token.equals(a.token)).toBe(false)
  })

  it('are random per process in memory mode', () => {
    expect(identitySecrets({ kind: 'memory' }).token.equals(identitySecrets({ kind: 'memory' }).token)).toBe(false)
    expect(identitySecrets({ kind: 'memory' }).token).toHaveLength(32)
  })
})
