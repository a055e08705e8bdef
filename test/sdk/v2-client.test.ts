/**
 * WhatClientV2 against a real server over real sockets: sign-in, and (once
 * the v2 relay routes exist) every flow a requester and a target run.
 */
import { inspect } from 'node:util'
import { randomUUID } from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { sealAnswer, SealingError, WhatClientError, WhatClientV2 } from 'whatclient-sdk'
import { nowSeconds, signInitData } from '../../src/identity/init-data.js'
import { build, type TestServer, userIds, V2User } from '../helper.js'
import { eventually } from '../kit/eventually.js'
import { switchingProxy } from './switching-proxy.js'

const BOT_TOKEN = '7000000001:AAtest-bot-token_for_WhatClient_tests'
const fast = { baseMs: 10, maxMs: 50 }
const user = userIds()
// A query_id of its own, as Telegram gives each: init data made twice in one second still differs.
const initDataFor = (id: number): string => signInitData({ botToken: BOT_TOKEN, user: id, fields: { query_id: randomUUID() } })

let server: TestServer
beforeAll(async () => { server = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, SESSION_TTL_SECONDS: '3600' }) })

/** What `promise` settles with, failing (by eventually's deadline) if it does not settle soon. */
async function settledSoon<T> (promise: Promise<T>): Promise<T> {
  let outcome: { value: T } | { error: unknown } | undefined
  promise.then((value) => { outcome = { value } }, (error: unknown) => { outcome = { error } })
  const settled = await eventually(() => outcome, { message: 'the call to end' })
  if ('error' in settled) throw settled.error
  return settled.value
}

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

  it('an abort ends a sign-in whose callback is still getting init data; the next sign-in asks the callback afresh', async () => {
    const id = user()
    const asks: Array<{ resolve: (data: string) => void, reject: (err: Error) => void }> = []
    let sent = 0
    const client = new WhatClientV2({
      baseUrl: server.url,
      initData: () => new Promise<string>((resolve, reject) => asks.push({ resolve, reject })),
      fetch: async (input, init) => { sent++; return await fetch(input, init) }
    })
    const controller = new AbortController()
    const first = client.signIn(undefined, controller.signal).catch((e: unknown) => e)
    await eventually(() => asks.length === 1)
    controller.abort(new Error('the user went away'))
    expect(await settledSoon(first)).toMatchObject({ message: 'the user went away' })
    // The abandoned callback answering later sends nothing.
    asks[0]?.resolve(initDataFor(id))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sent).toBe(0)
    expect(client.session).toBeUndefined()

    // One that fails after its call was aborted fails to no one (vitest reports an unhandled rejection).
    const again = new AbortController()
    const second = client.signIn(undefined, again.signal).catch((e: unknown) => e)
    await eventually(() => asks.length === 2)
    again.abort(new Error('gone again'))
    expect(await settledSoon(second)).toMatchObject({ message: 'gone again' })
    asks[1]?.reject(new Error('Telegram said no'))

    const third = client.signIn()
    await eventually(() => asks.length === 3)
    asks[2]?.resolve(initDataFor(id))
    expect(await settledSoon(third)).toMatchObject({ userId: id })
    expect(sent).toBe(1)
  })

  it('a call aborted before it starts does not start a sign-in', async () => {
    let asked = 0
    const client = new WhatClientV2({ baseUrl: server.url, initData: () => { asked++; return Promise.reject(new Error('no Telegram here')) } })
    const controller = new AbortController()
    controller.abort(new Error('never mind'))
    await expect(client.tasks({ signal: controller.signal })).rejects.toThrow('never mind')
    await expect(client.ask(user(), { signal: controller.signal })).rejects.toThrow('never mind')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(asked).toBe(0)
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

/** A signed-in client for a fresh user, with a callback that signs them in again. */
async function signedIn (baseUrl: string, options: Partial<ConstructorParameters<typeof WhatClientV2>[0]> = {}): Promise<{ client: WhatClientV2, id: number, signIns: () => number }> {
  const id = user()
  let signIns = 0
  const client = new WhatClientV2({ baseUrl, retry: fast, initData: () => { signIns++; return initDataFor(id) }, ...options })
  await client.signIn()
  return { client, id, signIns: () => signIns }
}

/** Serves `client`'s tasks until the returned stop is called. */
function serving (client: WhatClientV2, packageName: string, options: Parameters<WhatClientV2['answerTasks']>[1] = {}): { stop: () => Promise<void>, actions: string[] } {
  const controller = new AbortController()
  const actions: string[] = []
  const done = client.answerTasks(packageName, {
    ...options,
    signal: controller.signal,
    onAnswered: (task, action) => actions.push(`${action} ${task.requesterId === null ? 'anonymous' : 'named'} ${task.publicKey === undefined ? 'plain' : 'sealed'}`)
  })
  return { actions, stop: async () => { controller.abort(); await done } }
}

describe('WhatClientV2 flows', () => {
  it('asks sealed by default: the target answers sealed, the server relays only ciphertext, the asker opens and names it', async () => {
    const target = await signedIn(server.url)
    const replies: string[] = []
    const asker = await signedIn(server.url, {
      fetch: async (input, init) => {
        const res = await fetch(input, init)
        if (String(input).includes('/v2/requests/')) replies.push(await res.clone().text())
        return res
      }
    })
    const answering = serving(target.client, 'com.exteragram.messenger')
    try {
      const requestId = await asker.client.ask(target.id)
      expect(await asker.client.waitForAnswer(requestId, { timeoutMs: 20_000 })).toEqual({
        status: 'completed', clientName: 'exteraGram', packageName: 'com.exteragram.messenger', verified: true, sealed: true
      })
      const completed = JSON.parse(replies.at(-1) as string) as Record<string, unknown>
      expect(Object.keys(completed).sort()).toEqual(['sealed', 'status', 'verified'])
      expect(replies.join('\n')).not.toMatch(/exteragram|exteraGram/)
      expect(answering.actions).toEqual(['answered anonymous sealed'])
      // Delivered once: the request and its key are gone.
      expect(await asker.client.checkAnswer(requestId)).toEqual({ status: 'expired' })
      expect(asker.client.expiresAt(requestId)).toBeUndefined()
    } finally {
      await answering.stop()
    }
  })

  it('refuses a sealed answer that opens to something other than a package name: the target wrote it', async () => {
    const asker = await signedIn(server.url)
    const target = await V2User.signIn(server.url, user())
    const requestId = await asker.client.ask(target.userId)
    const [task] = await target.tasks()
    const sealed = await sealAnswer(task?.public_key as string, requestId, 'Telegram (verified)\n\u001b[2J\u202e')
    expect((await target.answer(requestId, { sealed })).status).toBe(200)
    const err = await asker.client.waitForAnswer(requestId, { timeoutMs: 5000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SealingError)
    expect((err as SealingError).code).toBe('WC_ERR_SEAL_PADDING')
    expect((err as SealingError).message).not.toContain('Telegram')
  })

  it('asks plain and named when told: the target sees who asks, the server names the app', async () => {
    const target = await signedIn(server.url)
    const asker = await signedIn(server.url)
    const requestId = await asker.client.ask(target.id, { sealed: false, anonymous: false })
    const [task] = await target.client.tasks()
    expect(task).toEqual({ requestId, requesterId: asker.id, verified: true, expiresAt: expect.any(Number), publicKey: undefined })
    // Within a second: the server rounds each reply's expires_at from the time left then.
    expect(Math.abs((task?.expiresAt ?? 0) - (asker.client.expiresAt(requestId) ?? 0))).toBeLessThanOrEqual(1)
    expect(await target.client.answer(task!, 'com.radolyn.ayugram')).toBe(true)
    expect(await asker.client.waitForAnswer(requestId, { timeoutMs: 5000 })).toEqual({
      status: 'completed', clientName: 'AyuGram', packageName: 'com.radolyn.ayugram', verified: true, sealed: false
    })
  })

  it('declines as the policy says, and the asker hears it at once', async () => {
    const target = await signedIn(server.url)
    const anonymous = await signedIn(server.url)
    const named = await signedIn(server.url)
    const answering = serving(target.client, 'com.exteragram.messenger', { policy: (task) => task.requesterId === null ? 'decline' : 'answer' })
    try {
      const declined = await anonymous.client.ask(target.id)
      expect(await anonymous.client.waitForAnswer(declined, { timeoutMs: 20_000 })).toEqual({ status: 'declined' })
      const answered = await named.client.ask(target.id, { anonymous: false })
      expect(await named.client.waitForAnswer(answered, { timeoutMs: 20_000 })).toMatchObject({ status: 'completed', packageName: 'com.exteragram.messenger', sealed: true })
      expect(answering.actions).toEqual(['declined anonymous sealed', 'answered named sealed'])
    } finally {
      await answering.stop()
    }
  })

  it('declineTasks declines every question', async () => {
    const target = await signedIn(server.url)
    const asker = await signedIn(server.url)
    const controller = new AbortController()
    const declining = target.client.declineTasks({ signal: controller.signal })
    try {
      const requestId = await asker.client.ask(target.id, { sealed: false })
      expect(await asker.client.waitForAnswer(requestId, { timeoutMs: 20_000 })).toEqual({ status: 'declined' })
    } finally {
      controller.abort()
      await declining
    }
  })

  it('asking again for the same target and anonymity reuses the key, so the server hands back the same request', async () => {
    const target = await signedIn(server.url)
    const asker = await signedIn(server.url)
    const first = await asker.client.ask(target.id)
    expect(await asker.client.ask(target.id)).toBe(first)
    const named = await asker.client.ask(target.id, { anonymous: false })
    expect(named).not.toBe(first)
    const tasks = await target.client.tasks()
    expect(tasks.map((t) => t.requestId)).toEqual([first, named])
    expect(new Set(tasks.map((t) => t.publicKey)).size).toBe(2)
    // Once its answer is read, the key is gone: the next ask is a new request.
    await target.client.answer(tasks[0]!, 'com.exteragram.messenger')
    expect(await asker.client.waitForAnswer(first, { timeoutMs: 5000 })).toMatchObject({ status: 'completed' })
    expect(await asker.client.ask(target.id)).not.toBe(first)
  })

  it('a retry of an ask whose reply was lost sends the same key: one request, one charge', async () => {
    // Two asks an hour: a second request made by the retry would leave none for the last ask.
    const limited = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, ASK_LIMIT_PER_HOUR: '2' })
    const proxy = await switchingProxy(limited.url)
    try {
      const target = await signedIn(limited.url)
      const asker = await signedIn(proxy.url, { maxRetries: 0 })
      proxy.loseReplyTo('POST', '/v2/requests')
      await expect(asker.client.ask(target.id)).rejects.toThrow(/fetch failed/)
      const requestId = await asker.client.ask(target.id)
      expect(proxy.calls.filter((c) => c.startsWith('POST /v2/requests'))).toEqual(['POST /v2/requests -> lost', 'POST /v2/requests -> 200'])
      const tasks = await target.client.tasks()
      expect(tasks.map((t) => t.requestId)).toEqual([requestId])
      await target.client.answer(tasks[0]!, 'org.telegram.messenger')
      expect(await asker.client.waitForAnswer(requestId, { timeoutMs: 5000 })).toMatchObject({ status: 'completed', packageName: 'org.telegram.messenger', sealed: true })
      expect(await asker.client.ask(user())).toEqual(expect.any(String))
    } finally {
      await proxy.close()
      await limited.close()
    }
  })
})

describe('WhatClientV2 signing in again', () => {
  it('after a 401 from a restarted server (new keys), signs in again through the callback once and goes on', async () => {
    const first = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    const restarted = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    const proxy = await switchingProxy(first.url)
    try {
      const target = await signedIn(proxy.url)
      const asker = await signedIn(proxy.url)
      expect(await target.client.tasks()).toEqual([])
      proxy.route = () => restarted.url
      const answering = serving(target.client, 'com.exteragram.messenger')
      try {
        const requestId = await asker.client.ask(target.id)
        expect(await asker.client.waitForAnswer(requestId, { timeoutMs: 20_000 })).toMatchObject({ status: 'completed', sealed: true })
      } finally {
        await answering.stop()
      }
      expect([asker.signIns(), target.signIns()]).toEqual([2, 2])
      expect(asker.client.session?.userId).toBe(asker.id)
      expect(proxy.calls.filter((c) => c.endsWith('-> 401'))).toHaveLength(2)
    } finally {
      await proxy.close()
      await first.close()
      await restarted.close()
    }
  })

  it('never loops: against instances that refuse each other\'s tokens, each call signs in again once (with backoff after the first), then throws the 401', async () => {
    const signIns = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    const others = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    const proxy = await switchingProxy(signIns.url)
    proxy.route = (_method, path) => path === '/v2/session' ? signIns.url : others.url
    try {
      const delays: number[] = []
      const { client, signIns: count } = await signedIn(proxy.url, { retry: { baseMs: 40, maxMs: 40 }, onRetry: (_e, delay) => delays.push(delay) })
      for (let i = 0; i < 3; i++) {
        await expect(client.tasks()).rejects.toMatchObject({ status: 401 })
      }
      expect(count()).toBe(1 + 3)
      expect(delays).toHaveLength(3)
      expect(delays[0]).toBe(0)
      await expect(client.answerTasks('com.exteragram.messenger')).rejects.toMatchObject({ status: 401 })
      expect(count()).toBe(1 + 4)
      expect(proxy.calls.filter((c) => c === 'GET /v2/tasks -> 401')).toHaveLength(8)
    } finally {
      await proxy.close()
      await signIns.close()
      await others.close()
    }
  })

  it('a callback that signs in someone else is refused: the client keeps acting as its own user', async () => {
    const first = await build({ TELEGRAM_BOT_TOKEN: BOT_TOKEN })
    const proxy = await switchingProxy(first.url)
    try {
      const id = user()
      let calls = 0
      const client = new WhatClientV2({ baseUrl: proxy.url, initData: () => initDataFor(++calls === 1 ? id : user()) })
      await client.signIn()
      proxy.route = () => server.url
      await expect(client.tasks()).rejects.toMatchObject({ status: 401, message: expect.stringMatching(/signs in another user/) })
      expect(client.session?.userId).toBe(id)
      // Asked for in so many words, too: through the callback, or with init data given.
      await expect(client.signIn()).rejects.toMatchObject({ status: 401, message: expect.stringMatching(/signs in another user/) })
      const someoneElse = user()
      const theirs = initDataFor(someoneElse)
      await expect(client.signIn(theirs)).rejects.toBeInstanceOf(WhatClientError)
      expect(client.session?.userId).toBe(id)
      // Refused before it was sent: that init data, accepted once only, is still good for a client of their own.
      expect((await new WhatClientV2({ baseUrl: server.url }).signIn(theirs)).userId).toBe(someoneElse)
    } finally {
      await proxy.close()
      await first.close()
    }
  })
})
