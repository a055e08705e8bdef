import { createHmac, generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { InitDataVerifier, parseInitData, signInitData, TELEGRAM_PUBLIC_KEYS, ed25519PublicKey } from '../../src/identity/init-data.js'
import { codeOf } from '../kit/refusals.js'

const BOT_ID = 7000000001
const BOT_TOKEN = `${BOT_ID}:AAtest-bot-token_for_WhatClient_tests`
const NOW = 1_800_000_000
const clock = (): number => NOW

const hashVerifier = (maxAgeSeconds = 300): InitDataVerifier => new InitDataVerifier({ botToken: BOT_TOKEN, maxAgeSeconds, now: clock })

describe('hash check (TELEGRAM_BOT_TOKEN)', () => {
  it('accepts init data signed with the bot token and returns its user', () => {
    const data = signInitData({ botToken: BOT_TOKEN, user: 123456789, authDate: NOW - 10, fields: { query_id: 'AAE', chat_type: 'sender' } })
    const verified = hashVerifier().verify(data)
    expect(verified.userId).toBe(123456789)
    expect(verified.authDate).toBe(NOW - 10)
    expect(verified.freshForSeconds).toBe(291)
  })

  it('refuses an altered field, an altered hash, another bot and a missing hash', () => {
    const data = signInitData({ botToken: BOT_TOKEN, user: 123456789, authDate: NOW })
    expect(codeOf(() => hashVerifier().verify(data.replace('123456789', '123456780')))).toBe('WC_ERR_INIT_DATA_INVALID')
    const hash = /hash=([0-9a-f]{64})/.exec(data)?.[1] as string
    const flipped = hash.slice(0, -1) + (hash.endsWith('0') ? '1' : '0')
    expect(codeOf(() => hashVerifier().verify(data.replace(hash, flipped)))).toBe('WC_ERR_INIT_DATA_INVALID')
    const foreign = signInitData({ botToken: '7000000002:AAanother-bot', user: 123456789, authDate: NOW })
    expect(codeOf(() => hashVerifier().verify(foreign))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => hashVerifier().verify(data.replace(/&?hash=[0-9a-f]+/, '')))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => hashVerifier().verify(data.replace(hash, 'zz')))).toBe('WC_ERR_INIT_DATA_INVALID')
  })

  it('covers the signature field too (a stripped or swapped signature fails the hash)', () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const data = signInitData({ botToken: BOT_TOKEN, user: 5, authDate: NOW, ed25519: { privateKey, botId: BOT_ID } })
    expect(hashVerifier().verify(data).userId).toBe(5)
    expect(codeOf(() => hashVerifier().verify(data.replace(/signature=[^&]+&?/, '')))).toBe('WC_ERR_INIT_DATA_INVALID')
  })

  it('is not fooled by re-spelling: reordered fields give the same fingerprint', () => {
    const data = signInitData({ botToken: BOT_TOKEN, user: 42, authDate: NOW, fields: { query_id: 'Q' } })
    const reordered = data.split('&').reverse().join('&')
    const a = hashVerifier().verify(data)
    const b = hashVerifier().verify(reordered)
    expect(b.fingerprint).toBe(a.fingerprint)
    expect(a.fingerprint).not.toContain('hash=')
  })
})

describe('signature check (only TELEGRAM_BOT_ID)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const verifier = (botId = BOT_ID): InitDataVerifier => new InitDataVerifier({ botId, maxAgeSeconds: 300, publicKey, now: clock })

  it('accepts init data signed by the key for this bot id, whatever its hash', () => {
    const data = signInitData({ user: 777, authDate: NOW, ed25519: { privateKey, botId: BOT_ID }, fields: { chat_type: 'private' } })
    expect(verifier().mode).toBe('signature')
    expect(verifier().verify(data).userId).toBe(777)
    expect(verifier().verify(`${data}&hash=${'0'.repeat(64)}`).userId).toBe(777)
  })

  it('refuses another bot, another key, an altered field and a malformed signature', () => {
    const data = signInitData({ user: 777, authDate: NOW, ed25519: { privateKey, botId: BOT_ID } })
    expect(codeOf(() => verifier(BOT_ID + 1).verify(data))).toBe('WC_ERR_INIT_DATA_INVALID')
    const other = generateKeyPairSync('ed25519')
    const forged = signInitData({ user: 777, authDate: NOW, ed25519: { privateKey: other.privateKey, botId: BOT_ID } })
    expect(codeOf(() => verifier().verify(forged))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => verifier().verify(data.replace('777', '778')))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => verifier().verify(data.replace(/signature=[^&]+/, 'signature=abc')))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => verifier().verify(data.replace(/signature=[^&]+/, `signature=${'A'.repeat(86)}`)))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => verifier().verify(data.replace(/&?signature=[^&]+/, '')))).toBe('WC_ERR_INIT_DATA_INVALID')
    // Telegram's real key does not sign our test data.
    const real = new InitDataVerifier({ botId: BOT_ID, maxAgeSeconds: 300, now: clock })
    expect(codeOf(() => real.verify(data))).toBe('WC_ERR_INIT_DATA_INVALID')
  })
})

// Telegram's documented example (core.telegram.org/bots/webapps, "Validating data for
// third-party use"): init data received by bot 7342037359, signed with the production key.
const TELEGRAM_EXAMPLE = 'user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%20%2B%20-%20%3F%20%5C%2F%22%2C%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%2C%22allows_write_to_pm%22%3Atrue%2C%22photo_url%22%3A%22https%3A%5C%2F%5C%2Ft.me%5C%2Fi%5C%2Fuserpic%5C%2F320%5C%2F4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg%22%7D&chat_instance=8134722200314281151&chat_type=private&auth_date=1733584787&hash=2174df5b000556d044f3f020384e879c8efcab55ddea2ced4eb752e93e7080d6&signature=zL-ucjNyREiHDE8aihFwpfR9aggP2xiAo3NSpfe-p7IbCisNlDKlo7Kb6G4D0Ao2mBrSgEk4maLSdv6MLIlADQ'
const EXAMPLE_DATE = 1733584787

describe("Telegram's documented example", () => {
  const at = (seconds: number) => () => seconds

  it("verifies with Telegram's production key and bot id 7342037359", () => {
    const verifier = new InitDataVerifier({ botId: 7342037359, maxAgeSeconds: 300, now: at(EXAMPLE_DATE + 5) })
    const verified = verifier.verify(TELEGRAM_EXAMPLE)
    expect(verified.userId).toBe(279058397)
    expect(verified.authDate).toBe(EXAMPLE_DATE)
    // The first name holds "+", "?" and "/" percent-encoded: decoded once, they are what Telegram signed.
    expect(parseInitData(TELEGRAM_EXAMPLE).get('user')).toContain('"first_name":"Vladislav + - ? \\/"')
  })

  it('fails with another bot id, the test-environment key, an altered field, or once stale', () => {
    const options = { maxAgeSeconds: 300, now: at(EXAMPLE_DATE + 5) }
    expect(codeOf(() => new InitDataVerifier({ ...options, botId: 7342037358 }).verify(TELEGRAM_EXAMPLE))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => new InitDataVerifier({ ...options, botId: 7342037359, testEnvironment: true }).verify(TELEGRAM_EXAMPLE))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => new InitDataVerifier({ ...options, botId: 7342037359 }).verify(TELEGRAM_EXAMPLE.replace('chat_type=private', 'chat_type=group')))).toBe('WC_ERR_INIT_DATA_INVALID')
    expect(codeOf(() => new InitDataVerifier({ ...options, botId: 7342037359, now: at(EXAMPLE_DATE + 301) }).verify(TELEGRAM_EXAMPLE))).toBe('WC_ERR_INIT_DATA_STALE')
  })

  it('also carries a hash that covers the signature field', () => {
    // This bot's token is not in Telegram's documentation; it was published with the
    // same example in the test suite of @telegram-apps/init-data-node. It shows that the
    // hash is computed over every field but `hash`, `signature` included.
    const token = ['7342037359', 'AAFZehRPBRs8Seg40oDjTMIW8uTGPuW1zfQ'].join(':')
    const verifier = new InitDataVerifier({ botToken: token, maxAgeSeconds: 300, now: at(EXAMPLE_DATE) })
    expect(verifier.verify(TELEGRAM_EXAMPLE).userId).toBe(279058397)
  })

  it('uses the key values of the contract', () => {
    expect(ed25519PublicKey(TELEGRAM_PUBLIC_KEYS.production).export({ format: 'jwk' }).x).toBe(Buffer.from(TELEGRAM_PUBLIC_KEYS.production, 'hex').toString('base64url'))
    expect(TELEGRAM_PUBLIC_KEYS).toEqual({
      production: 'e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d',
      test: '40055058a4ee38156a06562e52eece92a771bcd8346a8c4615cb7376eddf72ec'
    })
  })
})

describe('freshness', () => {
  const at = (authDate: number, maxAge = 300): string | undefined =>
    codeOf(() => hashVerifier(maxAge).verify(signInitData({ botToken: BOT_TOKEN, user: 1, authDate })))

  it('accepts now - INIT_DATA_MAX_AGE_SECONDS <= auth_date <= now + 60', () => {
    expect(at(NOW)).toBeUndefined()
    expect(at(NOW - 300)).toBeUndefined()
    expect(at(NOW + 60)).toBeUndefined()
    expect(at(NOW - 3600, 3600)).toBeUndefined()
  })

  it('refuses stale and future init data', () => {
    expect(at(NOW - 301)).toBe('WC_ERR_INIT_DATA_STALE')
    expect(at(NOW + 61)).toBe('WC_ERR_INIT_DATA_FUTURE')
    expect(at(0)).toBe('WC_ERR_INIT_DATA_STALE')
  })

  it('refuses a missing or non-numeric auth_date', () => {
    const user = '{"id":1}'
    expect(codeOf(() => hashVerifier().verify(signedFields({ user })))).toBe('WC_ERR_INIT_DATA_MALFORMED')
    expect(codeOf(() => hashVerifier().verify(signedFields({ user, auth_date: `${NOW}.5` })))).toBe('WC_ERR_INIT_DATA_MALFORMED')
    expect(codeOf(() => hashVerifier().verify(signedFields({ user, auth_date: `-${NOW}` })))).toBe('WC_ERR_INIT_DATA_MALFORMED')
    expect(codeOf(() => hashVerifier().verify(signedFields({ user, auth_date: String(NOW) })))).toBeUndefined()
  })
})

describe('user', () => {
  const check = (user: string | undefined): string | undefined =>
    codeOf(() => hashVerifier().verify(signedFields({ auth_date: String(NOW), ...(user === undefined ? {} : { user }) })))

  it('accepts ids 1..2^53-1', () => {
    expect(check('{"id":1}')).toBeUndefined()
    expect(check(`{"id":${Number.MAX_SAFE_INTEGER}}`)).toBeUndefined()
  })

  it('refuses a missing user, bad JSON, and ids that are not integers in range', () => {
    for (const user of [undefined, 'not json', 'null', '[]', '{}', '{"id":0}', '{"id":-5}', '{"id":1.5}', '{"id":"5"}',
      `{"id":${2 ** 53}}`, '{"id":9007199254740993}', '{"id":1e400}']) {
      expect(check(user), String(user)).toBe('WC_ERR_INIT_DATA_NO_USER')
    }
  })
})

describe('parsing', () => {
  it('refuses duplicate keys, even when each spelling is signed', () => {
    const data = signInitData({ botToken: BOT_TOKEN, user: 1, authDate: NOW })
    expect(codeOf(() => parseInitData(`${data}&user=%7B%22id%22%3A2%7D`))).toBe('WC_ERR_INIT_DATA_MALFORMED')
    expect(codeOf(() => parseInitData('a=1&%61=2'))).toBe('WC_ERR_INIT_DATA_MALFORMED')
  })

  it('refuses empty, key-only and badly encoded fields', () => {
    for (const text of ['', 'a=1&', '&a=1', 'a', '=1', 'a=%zz', 'a=%E0%A4%A']) {
      expect(codeOf(() => parseInitData(text)), text).toBe('WC_ERR_INIT_DATA_MALFORMED')
    }
  })

  it('decodes values once, "+" as a space', () => {
    expect(parseInitData('a=x+y%2By%252B')).toEqual(new Map([['a', 'x y+y%2B']]))
  })

  it('refuses more than 4,096 characters before any work', () => {
    const data = signInitData({ botToken: BOT_TOKEN, user: 1, authDate: NOW, fields: { pad: 'x'.repeat(4000) } })
    expect(data.length).toBeGreaterThan(4096)
    expect(codeOf(() => hashVerifier().verify(data))).toBe('WC_ERR_INIT_DATA_TOO_LONG')
    expect(codeOf(() => parseInitData('a='.padEnd(4096, 'x')))).toBeUndefined()
  })
})

/** Fields with a hash computed here, independently of signInitData, so any field can be reached. */
function signedFields (fields: Record<string, string>): string {
  const secret = createHmac('sha256', 'WebAppData').update(BOT_TOKEN).digest()
  const check = Object.keys(fields).sort().map((k) => `${k}=${fields[k] as string}`).join('\n')
  const hash = createHmac('sha256', secret).update(check).digest('hex')
  const pairs: Array<[string, string]> = [...Object.entries(fields), ['hash', hash]]
  return pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')
}
