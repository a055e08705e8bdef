/**
 * `whatclient selftest` in v2, as a child process: passes against our
 * server (signing its own test users with the bot token, or with init data
 * given), and fails with a clear line against a server of another bot, one
 * that does not publish its bot, and one that is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signInitData } from '../../src/identity/init-data.js'
import { build, type TestServer } from '../helper.js'
import { freePort, runCli } from '../process-helper.js'

const BOT_TOKEN = '7000000001:AAtest-bot-token_for_WhatClient_tests'
const OTHER_BOT_TOKEN = '7000000002:AAanother-bot-token_for_WhatClient'
const PUBLISHED = { TELEGRAM_BOT_USERNAME: 'whatclient_test_bot', WEBAPP_URL: 'https://wc.example.org/v2/webapp' }
const CHECKS = [
  'liveness', 'readiness', 'v2 info', 'sign-in', 'init data single use', 'forged token refused',
  'full flow', 'decline', 'catalogue', 'sealed flow', 'long-poll', 'unknown path'
]

let server: TestServer
beforeAll(async () => { server = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, ...PUBLISHED }) })
afterAll(async () => server.close())

const lines = (text: string): string[] => text.trimEnd().split('\n')
const outcomes = (text: string): string[] => lines(text).slice(1, -1).map((line) => line.split(':')[0] as string)

describe('whatclient selftest, v2', () => {
  it('passes against our server, signing its own test users with TELEGRAM_BOT_TOKEN', async () => {
    const run = runCli(['selftest', '--v2', '--server', server.url], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    expect(await run.exited, run.stdout()).toBe(0)
    expect(outcomes(run.stdout())).toEqual(CHECKS.map((name) => `ok    ${name}`))
    expect(run.stdout()).toMatch(/^ok {4}v2 info: version 2, sign-in with @whatclient_test_bot at https:\/\/wc\.example\.org\/v2\/webapp; v1 on; long-polls up to 30 s$/m)
    expect(run.stdout()).toMatch(/^ok {4}forged token refused: GET \/v2\/tasks with no token, a forged token, an altered token answered 401 with WWW-Authenticate: Bearer$/m)
    expect(run.stdout()).toMatch(/^ok {4}sealed flow: .*opened here to com\.exteragram\.messenger, "exteraGram" in the catalogue$/m)
    expect(run.stdout()).toMatch(/^ok {4}long-poll: a held GET \/v2\/requests\/\{id\} answered \d+ ms after the answer was sent$/m)
    expect(lines(run.stdout()).at(-1)).toBe(`all ${CHECKS.length} checks passed`)
    expect(run.stderr()).toBe('')
  })

  it('passes with the two users\' init data given, and with the asker\'s given and the target signed', async () => {
    const given = runCli(['selftest', '--server', server.url, '--init-data', signInitData({ botToken: BOT_TOKEN, user: 6_600_000_001 })],
      { WHATCLIENT_INIT_DATA_TARGET: signInitData({ botToken: BOT_TOKEN, user: 6_600_000_002 }) })
    const half = runCli(['selftest', '--server', server.url], {
      WHATCLIENT_INIT_DATA: signInitData({ botToken: BOT_TOKEN, user: 6_600_000_003 }), TELEGRAM_BOT_TOKEN: BOT_TOKEN
    })
    expect(await given.exited, given.stdout()).toBe(0)
    expect(await half.exited, half.stdout()).toBe(0)
  })

  it('fails with a clear line against a server of another bot, and skips what needs a session', async () => {
    const run = runCli(['selftest', '--v2', '--server', server.url], { TELEGRAM_BOT_TOKEN: OTHER_BOT_TOKEN })
    expect(await run.exited).toBe(1)
    expect(run.stdout()).toMatch(/^FAIL {2}sign-in: POST \/v2\/session \(the asker\) answered 401 \{"detail":"Init data is not signed by Telegram for this server's bot\."\}, expected 200: the init data is stale, was used already, or is not signed for this server's bot \(TELEGRAM_BOT_TOKEN\)$/m)
    expect(run.stdout()).toMatch(/^ok {4}forged token refused/m)
    expect(run.stdout()).toMatch(/^skip  full flow: it needs the two users signed in$/m)
    expect(outcomes(run.stdout()).filter((line) => line.startsWith('skip'))).toEqual(
      ['init data single use', 'full flow', 'decline', 'sealed flow', 'long-poll'].map((name) => `skip  ${name}`))
    expect(run.stdout()).toMatch(/^ok {4}catalogue/m)
    expect(lines(run.stdout()).at(-1)).toBe(`1 of ${CHECKS.length} checks failed, 5 skipped`)
  })

  it('fails when the server does not publish its bot and Mini App', async () => {
    const unpublished = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    try {
      const run = runCli(['selftest', '--v2', '--server', unpublished.url], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
      expect(await run.exited).toBe(1)
      expect(run.stdout()).toMatch(/^FAIL {2}v2 info: GET \/v2\/info has no bot_username: set TELEGRAM_BOT_USERNAME, or plugins cannot tell which bot to sign in with$/m)
      expect(run.stdout()).toMatch(/^ok {4}sealed flow/m)
    } finally {
      await unpublished.close()
    }
  })

  it('fails when sign-in is not configured', async () => {
    const v1only = await build()
    try {
      const run = runCli(['selftest', '--v2', '--server', v1only.url], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
      expect(await run.exited).toBe(1)
      expect(run.stdout()).toMatch(/^FAIL {2}v2 info: GET \/v2\/info says sign_in is false: the server has neither TELEGRAM_BOT_TOKEN nor TELEGRAM_BOT_ID$/m)
      expect(run.stdout()).toMatch(/^FAIL {2}sign-in: POST \/v2\/session \(the asker\) answered 503 \{"detail":"Sign-in is not configured on this server\."\}, expected 200$/m)
    } finally {
      await v1only.close()
    }
  })

  it('fails with a clear line against a server that is down', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const run = runCli(['selftest', '--v2', '--server', url], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    expect(await run.exited).toBe(1)
    expect(lines(run.stdout())).toEqual([
      `Checking ${url}`,
      `FAIL  liveness: cannot reach ${url} (ECONNREFUSED)`,
      `skip  the other ${CHECKS.length - 1} checks: they need the server`,
      `1 of ${CHECKS.length} checks failed, ${CHECKS.length - 1} skipped`
    ])
  })

  it('says what it needs for two users, and refuses --key beside v2', async () => {
    const alone = runCli(['selftest', '--server', server.url, '--init-data', signInitData({ botToken: BOT_TOKEN, user: 6_600_000_004 })])
    expect(await alone.exited).toBe(1)
    expect(alone.stderr()).toMatch(/the v2 checks need two users: pass --init-data and --init-data-target, or set TELEGRAM_BOT_TOKEN/)
    const both = runCli(['selftest', '--v2', '--key', 'k', '--server', server.url], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    expect(await both.exited).toBe(1)
    expect(both.stderr()).toMatch(/--key is for the v1 checks: run selftest once per version/)
  })
})
