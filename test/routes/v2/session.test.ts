import { generateKeyPairSync } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { InitDataVerifier, nowSeconds, signInitData } from '../../../src/identity/init-data.js'
import { BOT_TOKEN, build, detailOf, postSession, rawConnection, requestText, signInWith, sleep, userIds, type TestServer } from '../../helper.js'
import { parseResponse } from '../../kit/raw-http.js'

const BOT_ID = 7000000001
const user = userIds()

describe('POST /v2/session, checking hash (TELEGRAM_BOT_TOKEN)', () => {
  let server: TestServer
  beforeAll(async () => { server = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, SESSION_TTL_SECONDS: '3600' }) })

  it('signs in the init data\'s user with a token', async () => {
    const id = user()
    const before = nowSeconds()
    const res = await signInWith(server.url, signInitData({ botToken: BOT_TOKEN, user: id, fields: { query_id: 'AAE', chat_type: 'sender' } }))
    expect(res.status).toBe(200)
    expect(Object.keys(res.body).sort()).toEqual(['expires_at', 'token', 'user_id'])
    expect(res.body.user_id).toBe(id)
    expect(res.body.token).toMatch(/^[A-Za-z0-9_-]{40,80}$/)
    expect(res.body.token).not.toContain(String(id))
    expect(res.body.expires_at).toBeGreaterThanOrEqual(before + 3600)
    expect(res.body.expires_at).toBeLessThanOrEqual(nowSeconds() + 3600)
    expect(res.headers.get('cache-control')).toBe('no-store')
  })

  it('accepts init data once: a replay, even re-spelled, is refused', async () => {
    const data = signInitData({ botToken: BOT_TOKEN, user: user(), fields: { query_id: 'Q1' } })
    expect((await signInWith(server.url, data)).status).toBe(200)
    const again = await signInWith(server.url, data)
    expect(again).toMatchObject({ status: 401, body: { detail: 'Init data was already used; get fresh init data from Telegram.' } })
    expect((await signInWith(server.url, data.split('&').reverse().join('&'))).status).toBe(401)
    expect((await signInWith(server.url, data.replaceAll('%20', '+'))).status).toBe(401)
  })

  it('lets replays race: exactly one of many concurrent sign-ins wins', async () => {
    const data = signInitData({ botToken: BOT_TOKEN, user: user() })
    const results = await Promise.all(Array.from({ length: 10 }, async () => signInWith(server.url, data)))
    expect(results.filter((r) => r.status === 200)).toHaveLength(1)
    expect(results.filter((r) => r.status === 401)).toHaveLength(9)
  })

  it.each([
    ['stale', () => signInitData({ botToken: BOT_TOKEN, user: user(), authDate: nowSeconds() - 301 }), 'Init data is too old; get fresh init data from Telegram.'],
    ['from the future', () => signInitData({ botToken: BOT_TOKEN, user: user(), authDate: nowSeconds() + 120 }), "Init data is dated in the future; check the device's clock."],
    ['foreign (signed for another bot)', () => signInitData({ botToken: '7000000002:AAanother-bot-token-entirely', user: user() }), "Init data is not signed by Telegram for this server's bot."],
    ['altered', () => signInitData({ botToken: BOT_TOKEN, user: 6_199_999_990 }).replace('6199999990', '6199999991'), "Init data is not signed by Telegram for this server's bot."],
    ['unsigned', () => signInitData({ user: user() }), "Init data is not signed by Telegram for this server's bot."],
    ['bad', () => 'this is not init data', 'Init data is malformed: send the query string Telegram gave (tgWebAppData, URL-decoded once).'],
    ['without a user', () => signInitData({ botToken: BOT_TOKEN, user: { id: 0 } }), 'Init data names no valid user.'],
    ['duplicated', () => `${signInitData({ botToken: BOT_TOKEN, user: user() })}&user=%7B%22id%22%3A1%7D`, 'Init data is malformed: send the query string Telegram gave (tgWebAppData, URL-decoded once).']
  ])('refuses %s init data with 401', async (_name, make, detail) => {
    const res = await signInWith(server.url, make())
    expect(res).toMatchObject({ status: 401, body: { detail } })
  })

  it('validates the body: missing, empty, too long, not a string, unknown fields -> 422; bad JSON -> 400; not JSON -> 415', async () => {
    const valid = signInitData({ botToken: BOT_TOKEN, user: user() })
    for (const body of ['{}', '{"init_data": ""}', `{"init_data": "${'a'.repeat(4097)}"}`, '{"init_data": 5}', '[]', JSON.stringify({ init_data: valid, x: 1 })]) {
      const res = await postSession(server.url, body)
      expect(res.status, body.slice(0, 30)).toBe(422)
      expect(res.body.detail).toBeInstanceOf(Array)
    }
    const id = user()
    const unpadded = signInitData({ botToken: BOT_TOKEN, user: id, fields: { pad: '' } })
    const padded = signInitData({ botToken: BOT_TOKEN, user: id, fields: { pad: 'x'.repeat(4096 - unpadded.length) } })
    expect(padded).toHaveLength(4096)
    expect((await signInWith(server.url, padded)).status).toBe(200)

    const badJson = await postSession(server.url, '{"init_data": ')
    expect(badJson.status).toBe(400)
    expect(badJson.body).toHaveProperty('detail')
    const text = await postSession(server.url, 'x', 'text/plain')
    expect(text.status).toBe(415)
  })
})

describe('POST /v2/session, checking signature (only TELEGRAM_BOT_ID)', () => {
  it("checks Telegram's signature for the bot id: the documented example is authentic, and stale", async () => {
    const example = 'user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%20%2B%20-%20%3F%20%5C%2F%22%2C%22last_name%22%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C%22is_premium%22%3Atrue%2C%22allows_write_to_pm%22%3Atrue%2C%22photo_url%22%3A%22https%3A%5C%2F%5C%2Ft.me%5C%2Fi%5C%2Fuserpic%5C%2F320%5C%2F4FPEE4tmP3ATHa57u6MqTDih13LTOiMoKoLDRG4PnSA.svg%22%7D&chat_instance=8134722200314281151&chat_type=private&auth_date=1733584787&hash=2174df5b000556d044f3f020384e879c8efcab55ddea2ced4eb752e93e7080d6&signature=zL-ucjNyREiHDE8aihFwpfR9aggP2xiAo3NSpfe-p7IbCisNlDKlo7Kb6G4D0Ao2mBrSgEk4maLSdv6MLIlADQ'
    const telegramBot = await build({ TELEGRAM_BOT_ID: '7342037359' })
    const otherBot = await build({ TELEGRAM_BOT_ID: '7342037358' })
    // Authenticity is checked first, so "too old" means the signature held.
    expect(await signInWith(telegramBot.url, example)).toMatchObject({ status: 401, body: { detail: 'Init data is too old; get fresh init data from Telegram.' } })
    expect(await signInWith(otherBot.url, example)).toMatchObject({ status: 401, body: { detail: "Init data is not signed by Telegram for this server's bot." } })
  })

  it('signs in with init data signed by the key it checks (a test key pair standing in for Telegram\'s)', async () => {
    const server = await build({ TELEGRAM_BOT_ID: String(BOT_ID) })
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    server.app.identity.verifier = new InitDataVerifier({ botId: BOT_ID, maxAgeSeconds: 300, publicKey })
    const id = user()
    const ok = await signInWith(server.url, signInitData({ user: id, ed25519: { privateKey, botId: BOT_ID }, fields: { chat_type: 'sender' } }))
    expect(ok).toMatchObject({ status: 200, body: { user_id: id } })
    const foreign = await signInWith(server.url, signInitData({ user: user(), ed25519: { privateKey, botId: BOT_ID + 1 } }))
    expect(foreign).toMatchObject({ status: 401, body: { detail: "Init data is not signed by Telegram for this server's bot." } })
    // The hash is the bot owner's check; without the token it is neither needed nor trusted.
    const hashOnly = await signInWith(server.url, signInitData({ botToken: BOT_TOKEN, user: user() }))
    expect(hashOnly.status).toBe(401)
  })
})

describe('POST /v2/session, not configured', () => {
  it('answers 503 with the contract\'s message, whatever the body, without Retry-After', async () => {
    const server = await build()
    for (const body of [{ init_data: signInitData({ botToken: BOT_TOKEN, user: 5 }) }, {}]) {
      const res = await postSession(server.url, body)
      expect(res.status).toBe(503)
      expect(res.body).toEqual({ detail: 'Sign-in is not configured on this server.' })
      expect(res.headers.get('retry-after')).toBeNull()
    }
  })

  it('answers the same 503, not a 500, when sign-in goes away while the body arrives', async () => {
    const server = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    const body = JSON.stringify({ init_data: signInitData({ botToken: BOT_TOKEN, user: user() }) })
    const connection = rawConnection(server.url)
    // The head passes the check made before the body; then the verifier is gone (as only a test can make it).
    connection.write(requestText('POST', '/v2/session', { 'content-type': 'application/json', 'content-length': String(body.length) }))
    await sleep(100)
    server.app.identity.verifier = undefined
    connection.write(body)
    const response = parseResponse(await connection.closed)
    expect(response.status).toBe(503)
    expect(detailOf(response)).toBe('Sign-in is not configured on this server.')
    expect(response.headers['retry-after']).toBeUndefined()
  })
})

describe('POST /v2/session, memory full', () => {
  it('refuses with 503 and Retry-After rather than forget init data it has accepted', async () => {
    const server = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, MAX_REMEMBERED_SIGN_INS: '2' })
    const first = signInitData({ botToken: BOT_TOKEN, user: user() })
    expect((await signInWith(server.url, first)).status).toBe(200)
    expect((await signInWith(server.url, signInitData({ botToken: BOT_TOKEN, user: user() }))).status).toBe(200)
    const full = await signInWith(server.url, signInitData({ botToken: BOT_TOKEN, user: user() }))
    expect(full).toMatchObject({ status: 503, body: { detail: 'The server remembers too many recent sign-ins to accept another; try again later.' } })
    expect(full.headers.get('retry-after')).toBe('1')
    expect((await signInWith(server.url, first)).status).toBe(401)
  })
})
