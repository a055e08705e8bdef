/**
 * WhatClientV2 against a real server over real sockets: sign-in, and (once
 * the v2 relay routes exist) every flow a requester and a target run.
 */
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WhatClientError, WhatClientV2 } from 'whatclient-sdk'
import { nowSeconds, signInitData } from '../../src/identity/init-data.js'
import { build, type TestServer } from '../helper.js'

const BOT_TOKEN = '7000000001:AAtest-bot-token_for_WhatClient_tests'
const fast = { baseMs: 10, maxMs: 50 }
let nextUser = 6_400_000_000
const user = (): number => ++nextUser
const initDataFor = (id: number): string => signInitData({ botToken: BOT_TOKEN, user: id })

let server: TestServer
beforeAll(async () => { server = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, SESSION_TTL_SECONDS: '3600' }) })
afterAll(async () => server.close())

describe('WhatClientV2 sign-in', () => {
  it('signs in with init data and keeps the session, never showing its token', async () => {
    const id = user()
    const sent: string[] = []
    const client = new WhatClientV2({ baseUrl: server.url, fetch: async (input, init) => { sent.push(String(init?.body)); return await fetch(input, init) } })
    expect(client.session).toBeUndefined()
    const session = await client.signIn(initDataFor(id))
    expect(session.userId).toBe(id)
    expect(session.expiresAt).toBeGreaterThanOrEqual(nowSeconds() + 3600 - 5)
    expect(client.session).toEqual(session)
    expect(JSON.stringify(client)).toBe('{}')
    expect(inspect(client, { showHidden: true, depth: 5 })).not.toMatch(/[A-Za-z0-9_-]{40,}/)
    expect(sent).toHaveLength(1)
  })

  it('takes init data from the callback when signIn has none', async () => {
    const id = user()
    let asked = 0
    const client = new WhatClientV2({ baseUrl: server.url, initData: async () => { asked++; return initDataFor(id) } })
    expect(await client.signIn()).toMatchObject({ userId: id })
    expect(asked).toBe(1)
  })

  it('throws the server\'s 401 for init data it refuses, at once, without retrying', async () => {
    const retries: unknown[] = []
    const client = new WhatClientV2({ baseUrl: server.url, retry: fast, onRetry: (e) => retries.push(e) })
    const foreign = signInitData({ botToken: '7000000002:AAanother-bot-token_for_WhatClient', user: user() })
    const err = await client.signIn(foreign).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WhatClientError)
    expect(err).toMatchObject({ status: 401, detail: "Init data is not signed by Telegram for this server's bot." })

    const used = initDataFor(user())
    await client.signIn(used)
    await expect(client.signIn(used)).rejects.toMatchObject({ status: 401, detail: 'Init data was already used; get fresh init data from Telegram.' })
    expect(retries).toEqual([])
  })

  it('reads GET /v2/info', async () => {
    const client = new WhatClientV2({ baseUrl: server.url })
    expect(await client.info()).toMatchObject({ version: 2, signIn: true, v1Enabled: true, botUsername: null, webappUrl: null })
  })
})
