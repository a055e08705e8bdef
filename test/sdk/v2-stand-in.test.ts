/**
 * WhatClientV2 against stand-in servers, for what our server never does: a
 * catalogue without max-age (so every use revalidates), a 429 past a quota
 * with a long Retry-After, a sealed question answered in the clear (a
 * downgrade), replies that lack what the protocol promises.
 */
import { describe, expect, it } from 'vitest'
import { SealingError, WhatClientError, WhatClientV2 } from 'whatclient-sdk'
import { standIn, type StandIn, type StandInAnswer } from '../cli/stand-in.js'

const fast = { baseMs: 10, maxMs: 50 }
const SESSION = { token: 'opaque-token', user_id: 111, expires_at: Math.floor(Date.now() / 1000) + 3600 }

/** A stand-in that signs anyone in and answers the other calls with `answer`. */
async function v2StandIn (answer: (method: string, path: string, body: string, headers: Record<string, unknown>) => StandInAnswer | undefined): Promise<StandIn> {
  return await standIn((method, path, body, headers) => {
    if (method === 'POST' && path === '/v2/session') return { body: SESSION }
    return answer(method, path, body, headers) ?? { status: 404, body: { detail: 'Not Found' } }
  })
}

async function using<T> (server: StandIn, run: (server: StandIn) => Promise<T>): Promise<T> {
  try {
    return await run(server)
  } finally {
    await server.close()
  }
}

describe('WhatClientV2 against a stand-in', () => {
  it('revalidates a catalogue that has no max-age with If-None-Match, and keeps it on 304', async () => {
    const seen: Array<string | undefined> = []
    await using(await v2StandIn((_method, path, _body, headers) => {
      if (path !== '/v2/catalogue') return undefined
      seen.push(headers['if-none-match'] as string | undefined)
      if (headers['if-none-match'] === '"v1"') return { status: 304, body: undefined, headers: { etag: '"v1"' } }
      return { body: { clients: { 'com.exteragram.messenger': 'exteraGram', bad: 7 }, unknown: 'Unknown Client' }, headers: { etag: '"v1"' } }
    }), async (server) => {
      const client = new WhatClientV2({ baseUrl: server.url, retry: fast })
      const first = await client.catalogue()
      expect(first.nameOf('com.exteragram.messenger')).toBe('exteraGram')
      expect(first.nameOf('bad')).toBe('Unknown Client')
      expect(first.nameOf('org.example.other')).toBe('Unknown Client')
      expect(await client.catalogue()).toBe(first)
      expect(seen).toEqual([undefined, '"v1"'])
    })
  })

  it('keeps a catalogue for its max-age without asking again', async () => {
    let calls = 0
    await using(await v2StandIn((_method, path) => {
      if (path !== '/v2/catalogue') return undefined
      calls++
      return { body: { clients: {}, unknown: 'Unknown Client' }, headers: { etag: '"v1"', 'cache-control': 'public, max-age=3600' } }
    }), async (server) => {
      const client = new WhatClientV2({ baseUrl: server.url })
      await client.catalogue()
      await client.catalogue()
      expect(calls).toBe(1)
    })
  })

  it('throws a 429 whose Retry-After is past the backoff ceiling at once, with retryAfterSeconds', async () => {
    let asks = 0
    await using(await v2StandIn((method, path) => {
      if (method !== 'POST' || path !== '/v2/requests') return undefined
      asks++
      return { status: 429, body: { detail: 'You have asked too many questions this hour; try again after Retry-After seconds.' }, headers: { 'retry-after': '120' } }
    }), async (server) => {
      const retries: number[] = []
      const client = new WhatClientV2({ baseUrl: server.url, retry: fast, onRetry: (_e, delay) => retries.push(delay) })
      await client.signIn('init data')
      const err = await client.ask(222).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(WhatClientError)
      expect(err).toMatchObject({ status: 429, retryAfterSeconds: 120 })
      expect(asks).toBe(1)
      expect(retries).toEqual([])
    })
  })

  it('waits a short Retry-After (within the ceiling) and retries', async () => {
    let asks = 0
    await using(await v2StandIn((method, path) => {
      if (method !== 'POST' || path !== '/v2/requests') return undefined
      if (++asks === 1) return { status: 503, body: { detail: 'The task store is unavailable; try again later.' }, headers: { 'retry-after': '1' } }
      return { body: { request_id: 'r1', expires_at: SESSION.expires_at } }
    }), async (server) => {
      const retries: number[] = []
      const client = new WhatClientV2({ baseUrl: server.url, retry: { baseMs: 10, maxMs: 2000 }, onRetry: (_e, delay) => retries.push(delay) })
      await client.signIn('init data')
      expect(await client.ask(222)).toBe('r1')
      expect(asks).toBe(2)
      expect(retries).toEqual([1000])
    })
  })

  it('refuses a sealed question answered in the clear: a server cannot downgrade it to a name of its choosing', async () => {
    await using(await v2StandIn((method, path) => {
      if (method === 'POST' && path === '/v2/requests') return { body: { request_id: 'r1', expires_at: SESSION.expires_at } }
      if (method === 'GET' && path === '/v2/requests/r1') {
        return { body: { status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger', verified: true } }
      }
      return undefined
    }), async (server) => {
      const client = new WhatClientV2({ baseUrl: server.url })
      await client.signIn('init data')
      const sealedAsk = await client.ask(222)
      const err = await client.waitForAnswer(sealedAsk).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(SealingError)
      expect(err).toMatchObject({ code: 'WC_ERR_SEAL_FORMAT' })
      // The same reply to a plain ask is what a plain ask expects.
      const plainAsk = await client.ask(222, { sealed: false })
      expect(await client.waitForAnswer(plainAsk)).toEqual({
        status: 'completed', clientName: 'exteraGram', packageName: 'com.exteragram.messenger', verified: true, sealed: false
      })
    })
  })

  it('says which promise a malformed reply broke', async () => {
    await using(await v2StandIn((method, path) => {
      if (method === 'POST' && path === '/v2/requests') return { body: { nothing: true } }
      if (method === 'GET' && path === '/v2/tasks') return { body: { tasks: 'none' } }
      return undefined
    }), async (server) => {
      const client = new WhatClientV2({ baseUrl: server.url })
      await client.signIn('init data')
      await expect(client.ask(222)).rejects.toThrow(/POST \/v2\/requests answered without a request_id/)
      await expect(client.tasks()).rejects.toThrow(/GET \/v2\/tasks answered without a task list/)
    })
  })

  it('will not act before a sign-in when it has no way to sign in', async () => {
    let retries = 0
    const client = new WhatClientV2({ baseUrl: 'http://127.0.0.1:9', onRetry: () => { retries++ } })
    await expect(client.tasks()).rejects.toThrow(/not signed in: call signIn\(initData\) first, or give the client an initData callback/)
    // A 401, as the server would answer the call: code that signs in again on a 401 handles it too.
    await expect(client.tasks()).rejects.toBeInstanceOf(WhatClientError)
    await expect(client.tasks()).rejects.toMatchObject({ status: 401 })
    await expect(client.signIn()).rejects.toThrow(/signIn needs init data/)
    // Said at once, not retried as a failed call.
    expect(retries).toBe(0)
  })

  it('signs in with fresh init data from the callback for every attempt after a 503 (init data is single-use), and with the same given data', async () => {
    const seen: string[] = []
    await using(await standIn((method, path, body) => {
      if (method !== 'POST' || path !== '/v2/session') return { status: 404, body: { detail: 'Not Found' } }
      seen.push((JSON.parse(body) as { init_data: string }).init_data)
      // Every other attempt is refused as the server does while Redis is away.
      return seen.length % 2 === 1 ? { status: 503, body: { detail: 'The task store is unavailable; try again later.' }, headers: { 'retry-after': '0' } } : { body: SESSION }
    }), async (server) => {
      let made = 0
      const client = new WhatClientV2({ baseUrl: server.url, retry: fast, initData: () => `init-${++made}` })
      expect((await client.signIn()).userId).toBe(111)
      expect(seen).toEqual(['init-1', 'init-2'])
      // Init data the caller gives is all there is: retried as it is.
      await client.signIn('given')
      expect(seen.slice(2)).toEqual(['given', 'given'])
    })
  })
})
