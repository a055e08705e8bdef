/**
 * `whatclient init-data` as a child process: what it prints signs a user in
 * at a real server with the same bot token, once; without the token, or with
 * one the server would refuse as a setting, it refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer } from '../helper.js'
import { runCli } from '../process-helper.js'

const BOT_TOKEN = '7000000001:AAtest-bot-token_for_WhatClient_tests'
const OTHER_BOT_TOKEN = '7000000002:AAanother-bot-token_for_WhatClient'

let server: TestServer
beforeAll(async () => { server = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN }) })
afterAll(async () => server.close())

async function signIn (initData: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/v2/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ init_data: initData })
  })
  return { status: res.status, body: await res.json() as Record<string, unknown> }
}

describe('whatclient init-data', () => {
  it('prints one line of init data that signs the user in at a server with the same bot token, once', async () => {
    const run = runCli(['init-data', '--user', '6300000001'], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    expect(await run.exited).toBe(0)
    expect(run.stderr()).toBe('')
    expect(run.stdout()).toMatch(/^[^\n]+\n$/)
    const initData = run.stdout().trim()
    expect(initData).toMatch(/(^|&)hash=[0-9a-f]{64}(&|$)/)
    const first = await signIn(initData)
    expect(first).toMatchObject({ status: 200, body: { user_id: 6300000001 } })
    expect((await signIn(initData)).status).toBe(401)
  })

  it("is refused by a server of another bot", async () => {
    const run = runCli(['init-data', '--user', '6300000002'], { TELEGRAM_BOT_TOKEN: OTHER_BOT_TOKEN })
    expect(await run.exited).toBe(0)
    expect(await signIn(run.stdout().trim())).toMatchObject({ status: 401, body: { detail: "Init data is not signed by Telegram for this server's bot." } })
  })

  it('signs for --auth-date, so that stale init data can be made on purpose', async () => {
    const run = runCli(['init-data', '--user', '6300000003', '--auth-date', String(Math.floor(Date.now() / 1000) - 3600)], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    expect(await run.exited).toBe(0)
    expect(await signIn(run.stdout().trim())).toMatchObject({ status: 401, body: { detail: 'Init data is too old; get fresh init data from Telegram.' } })
  })

  it('refuses without TELEGRAM_BOT_TOKEN, with a malformed one, and with a bad user id', async () => {
    const none = runCli(['init-data', '--user', '42'])
    expect(await none.exited).toBe(1)
    expect(none.stdout()).toBe('')
    expect(none.stderr()).toBe('whatclient: TELEGRAM_BOT_TOKEN is not set: init-data signs with the bot token of the server to test, from the environment\n')

    const malformed = runCli(['init-data', '--user', '42'], { TELEGRAM_BOT_TOKEN: 'not-a-token' })
    expect(await malformed.exited).toBe(1)
    expect(malformed.stdout()).toBe('')
    expect(malformed.stderr()).toMatch(/TELEGRAM_BOT_TOKEN must be the token BotFather gave/)
    expect(malformed.stderr()).not.toContain('not-a-token')

    const badUser = runCli(['init-data', '--user', '0'], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    expect(await badUser.exited).toBe(1)
    expect(badUser.stderr()).toMatch(/--user must be a positive integer user id/)

    const noUser = runCli(['init-data'], { TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    expect(await noUser.exited).toBe(1)
    expect(noUser.stderr()).toMatch(/required option '--user <id>' not specified/)
  })
})
