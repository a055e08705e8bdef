/**
 * The SDK when the network or the server misbehaves, over real sockets: a
 * reply whose body stalls, a server that takes the connection and never
 * answers, replies that lack what the protocol promises, a 503 that waiting
 * will not cure, a long-poll longer than the server allows, a sign-in that
 * nobody waits for any more. Stand-ins (node:http) play what the real server
 * never does; the real one plays the rest.
 */
import { spawnSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { isTransportFailure, sealAnswer, WhatClient, WhatClientError, WhatClientV2 } from 'whatclient-sdk'
import { build, eventually, listenOnLoopback, type TestServer, userIds } from '../helper.js'

const fast = { baseMs: 10, maxMs: 50 }
const user = userIds()
const SESSION = { token: 'opaque-token', user_id: 111, expires_at: Math.floor(Date.now() / 1000) + 3600 }

interface Stub { url: string, calls: string[], close: () => Promise<void> }

/** A stand-in answering each call with `handle` (which may also never answer); `calls` lists "METHOD path". */
async function stub (handle: (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>): Promise<Stub> {
  const calls: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => { body += String(chunk) })
    req.on('end', () => {
      calls.push(`${req.method} ${(req.url ?? '').split('?')[0]}`)
      void handle(req, res, body)
    })
  })
  return { ...await listenOnLoopback(server), calls }
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

/** Headers and the start of a body, then nothing: a proxy that stalls, a server that dies mid-reply. */
const stall = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '40' })
  res.write('{"status":"pen')
}

/** A caller's signal that the stand-in aborts once it has stalled a reply: the abort comes mid-body. */
function callerStoppedMidBody (): { signal: AbortSignal, stalled: (res: ServerResponse) => void } {
  const controller = new AbortController()
  return {
    signal: controller.signal,
    stalled: (res) => {
      stall(res)
      setTimeout(() => controller.abort(new Error('stopped by the caller')), 50)
    }
  }
}

const abortAfter = (ms: number): AbortSignal => {
  const controller = new AbortController()
  setTimeout(() => controller.abort(new Error('stopped by the caller')), ms)
  return controller.signal
}

const delay = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

describe('a program that calls for days with one signal', () => {
  it('keeps nothing per call on that signal (each call links to it through an AbortController of its own)', async () => {
    // The probe runs the built SDK (npm test builds first): a build older than the sources would test old code.
    const built = (name: string): number => statSync(fileURLToPath(new URL(`../../packages/sdk/dist/${name}.js`, import.meta.url))).mtimeMs
    const source = (name: string): number => statSync(fileURLToPath(new URL(`../../packages/sdk/src/${name}.ts`, import.meta.url))).mtimeMs
    for (const name of ['http', 'backoff']) expect(built(name), `packages/sdk/dist/${name}.js is older than its source: npm run build`).toBeGreaterThanOrEqual(source(name))
    // In a process of its own, so that the heap counted holds nothing of the test runner's.
    const probe = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(new URL('./weakref-probe.mjs', import.meta.url)), '4000'], { encoding: 'utf8', timeout: 60_000 })
    expect(probe.status, probe.stderr).toBe(0)
    const { calls, weakRefsKept } = JSON.parse(probe.stdout) as { calls: number, weakRefsKept: number }
    // fetch keeps about one per call for a while, by itself (undici); AbortSignal.any on the
    // caller's signal kept four to five more, for good (nodejs/node#55351).
    expect(weakRefsKept).toBeLessThan(calls * 2)
  })
})

describe('a reply longer than any the protocol gives', () => {
  it('is not read past 1 MiB, whether it says its length or not, and is not asked for again', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'a')
    const server = await stub((req, res) => {
      if (req.url?.startsWith('/getTasks/1') === true) {
        // Says its length: refused before a byte of it is read.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(4 * 1024 * 1024) })
        res.end(Buffer.alloc(4 * 1024 * 1024, 'a'))
        return
      }
      // Chunked, without end: only the stream's first MiB is read.
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"tasks": ["')
      const more = (): void => { if (!res.destroyed && res.write(chunk)) setImmediate(more) }
      res.on('drain', more)
      more()
    })
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k', maxRetries: 2, retry: fast })
    for (const target of [1, 2]) {
      const err = await client.getTasks(target).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(WhatClientError)
      expect((err as WhatClientError).message).toMatch(/answered with a body over 1048576 bytes/)
    }
    expect(server.calls).toEqual(['GET /getTasks/1', 'GET /getTasks/2'])
    await server.close()
  })
})

describe('a reply whose body never finishes', () => {
  it('v1: an abort mid-body throws the abort reason, never "expired" or a TypeError', async () => {
    let caller = callerStoppedMidBody()
    const server = await stub((_req, res) => { caller.stalled(res) })
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k' })
    await expect(client.waitForResult('r1', { signal: caller.signal })).rejects.toThrow('stopped by the caller')
    caller = callerStoppedMidBody()
    await expect(client.requestClient(1, 2, caller.signal)).rejects.toThrow('stopped by the caller')
  })

  it('v1: a body cut off by the time limit is a transport failure, retried like one', async () => {
    const server = await stub((_req, res) => { stall(res) })
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k', requestTimeoutMs: 200, maxRetries: 1, retry: fast })
    const err = await client.getRequestResult('r1').catch((e: unknown) => e)
    expect(isTransportFailure(err)).toBe(true)
    expect(server.calls).toHaveLength(2)
  })

  it('v2: an abort mid-body keeps a sealed ask\'s key, so that the answer still opens', async () => {
    let publicKey = ''
    let polls = 0
    const caller = callerStoppedMidBody()
    const server = await stub(async (req, res, body) => {
      const path = (req.url ?? '').split('?')[0]
      if (path === '/v2/session') return json(res, 200, SESSION)
      if (path === '/v2/catalogue') return json(res, 200, { clients: { 'org.example.app': 'Example' }, unknown: 'Unknown Client' })
      if (path === '/v2/requests') {
        publicKey = (JSON.parse(body) as { public_key: string }).public_key
        return json(res, 200, { request_id: 'r1', expires_at: Math.floor(Date.now() / 1000) + 120 })
      }
      if (polls++ === 0) return caller.stalled(res)
      json(res, 200, { status: 'completed', sealed: await sealAnswer(publicKey, 'r1', 'org.example.app'), verified: true })
    })
    const client = new WhatClientV2({ baseUrl: server.url, initData: () => 'init data', retry: fast })
    const requestId = await client.ask(222)
    await expect(client.waitForAnswer(requestId, { signal: caller.signal })).rejects.toThrow('stopped by the caller')
    expect(await client.waitForAnswer(requestId, { timeoutMs: 5000 }))
      .toEqual({ status: 'completed', packageName: 'org.example.app', clientName: 'Example', verified: true, sealed: true })
  })
})

describe('timeoutMs bounds the whole wait', () => {
  // The server takes the connection and never answers: each call would wait its own 10 s, then be retried.
  const hanging = async (): Promise<Stub> => await stub((req, res) => {
    if (req.url === '/v2/session') json(res, 200, SESSION)
  })

  it('v1: waitForResult ends with timeout at about timeoutMs', async () => {
    const server = await hanging()
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k' })
    const started = Date.now()
    expect(await client.waitForResult('r1', { timeoutMs: 1000 })).toEqual({ status: 'timeout' })
    // Not each call's own 10 s and its retries (11.7 s before).
    expect(Date.now() - started).toBeLessThan(5000)
  }, 15_000)

  it('v2: waitForAnswer too', async () => {
    const server = await hanging()
    const client = new WhatClientV2({ baseUrl: server.url, initData: () => 'init data' })
    const started = Date.now()
    expect(await client.waitForAnswer('r1', { timeoutMs: 1000 })).toEqual({ status: 'timeout' })
    expect(Date.now() - started).toBeLessThan(5000)
  }, 15_000)

  it('takes any timeoutMs: a fraction, or one past what a timer holds', async () => {
    const server = await hanging()
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k' })
    expect(await client.waitForResult('r1', { timeoutMs: 1000.5 })).toEqual({ status: 'timeout' })
    // Longer than 2^31 - 1 ms (a timer would fire at once): it waits, until the caller stops it.
    await expect(client.waitForResult('r1', { timeoutMs: 2 ** 32, signal: abortAfter(1500) })).rejects.toThrow('stopped by the caller')
    await expect(client.waitForResult('r1', { timeoutMs: Infinity, signal: abortAfter(300) })).rejects.toThrow('stopped by the caller')
  }, 15_000)

  it('retries a down server within timeoutMs, then says timeout rather than throw', async () => {
    // Port 9 (discard): nothing listens there.
    const client = new WhatClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'k', retry: { baseMs: 100, maxMs: 200 } })
    const started = Date.now()
    expect(await client.waitForResult('r1', { timeoutMs: 1500 })).toEqual({ status: 'timeout' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
  })
})

describe('v1 answerTasks paces itself', () => {
  it('when the tasks it gets cannot be answered (a stale id that answers 404)', async () => {
    const server = await stub((req, res) => {
      if ((req.url ?? '').startsWith('/getTasks/')) return json(res, 200, { tasks: ['stale-id'] })
      json(res, 404, { detail: 'Request not found or already processed.' })
    })
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k', pollIntervalMs: 200 })
    await client.answerTasks(1, 'a.b', { signal: abortAfter(1000) })
    // One poll per 200 ms at most: a busy loop makes hundreds.
    expect(server.calls.filter((c) => c.startsWith('GET /getTasks/')).length).toBeLessThanOrEqual(7)
  })
})

describe('v1 checks the shape of what it is answered', () => {
  it('throws "answered without ..." for a 200 that lacks what the protocol promises', async () => {
    const server = await stub((req, res) => {
      if ((req.url ?? '').startsWith('/getRequestResult/')) {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html>a proxy</html>')
        return
      }
      json(res, 200, {})
    })
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k', retry: fast })
    await expect(client.requestClient(1, 2)).rejects.toThrow(/POST \/requestClient answered without a request_id/)
    await expect(client.getTasks(1)).rejects.toThrow(/GET \/getTasks answered without a task list/)
    // Thrown, rather than retried for ever.
    await expect(client.answerTasks(1, 'a.b')).rejects.toBeInstanceOf(WhatClientError)
    // An HTML page is no "expired".
    await expect(client.getRequestResult('r1')).rejects.toThrow(/GET \/getRequestResult answered without a status/)
    await expect(client.waitForResult('r1')).rejects.toThrow(/answered without a status/)
  })
})

describe('a sign-in nobody waits for', () => {
  it('is cancelled when its last caller aborts: no retries go on in the background', async () => {
    const caller = new AbortController()
    const server = await stub((_req, res) => {
      // Come back in a second; the caller gives up as the refusal arrives.
      json(res, 503, { detail: 'Redis is unavailable.' }, { 'retry-after': '1' })
      caller.abort(new Error('stopped by the caller'))
    })
    const client = new WhatClientV2({ baseUrl: server.url, initData: () => 'init data', retry: { baseMs: 300, maxMs: 300 } })
    await expect(client.ask(222, { signal: caller.signal })).rejects.toThrow('stopped by the caller')
    // Past the second it was told to wait, with room to spare: nobody signs in again.
    await delay(2500)
    expect(server.calls).toEqual(['POST /v2/session'])
  })

  it('goes on while another caller still waits for it', async () => {
    let sessions = 0
    const server = await stub((req, res) => {
      if (req.url === '/v2/session' && sessions++ === 0) return json(res, 503, { detail: 'Redis is unavailable.' }, { 'retry-after': '1' })
      if (req.url === '/v2/session') return json(res, 200, SESSION)
      json(res, 200, { tasks: [] })
    })
    const client = new WhatClientV2({ baseUrl: server.url, initData: () => 'init data', retry: { baseMs: 300, maxMs: 300 } })
    const patient = client.tasks()
    await expect(client.tasks({ signal: abortAfter(100) })).rejects.toThrow('stopped by the caller')
    expect(await patient).toEqual([])
    expect(client.session?.userId).toBe(111)
  })
})

describe('a 503 is retried only when it says when (Retry-After)', () => {
  it('throws one without Retry-After at once ("Sign-in is not configured")', async () => {
    const server = await stub((_req, res) => { json(res, 503, { detail: 'Sign-in is not configured on this server.' }) })
    const retries: unknown[] = []
    const client = new WhatClientV2({ baseUrl: server.url, retry: fast, onRetry: (e) => retries.push(e) })
    await expect(client.signIn('init data')).rejects.toMatchObject({ status: 503 })
    expect(server.calls).toHaveLength(1)
    expect(retries).toEqual([])
  })

  it('retries one with Retry-After', async () => {
    let calls = 0
    const server = await stub((_req, res) => {
      if (calls++ === 0) return json(res, 503, { detail: 'Redis is unavailable.' }, { 'retry-after': '0' })
      json(res, 200, { request_id: 'r1' })
    })
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k', retry: fast })
    expect(await client.requestClient(1, 2)).toBe('r1')
  })

  it('does not end a serving loop: a proxy in front answers one while no server is ready', async () => {
    let polls = 0
    const server = await stub((_req, res) => {
      if (polls++ < 2) return json(res, 503, { detail: 'no healthy upstream' })
      json(res, 200, { tasks: [] })
    })
    const controller = new AbortController()
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'k', retry: fast, pollIntervalMs: 50 })
    const serving = client.answerTasks(1, 'a.b', { signal: controller.signal })
    // It polls on past the two refusals, and ends only when told to.
    await eventually(() => polls > 3, { timeoutMs: 5000, message: 'polls past the refusals' })
    controller.abort()
    await expect(serving).resolves.toBeUndefined()
  })
})

describe('longPollSeconds above the server\'s MAX_WAIT_SECONDS', () => {
  let server: TestServer
  beforeAll(async () => { server = await build({ MAX_WAIT_SECONDS: '5' }) })

  it('v1: lowers the hold to what the server takes, instead of failing every poll with 422', async () => {
    const waits: string[] = []
    const client = new WhatClient({
      baseUrl: server.url,
      apiKey: server.key,
      longPollSeconds: 60,
      fetch: async (input, init) => {
        const wait = /[?&]wait=([^&]+)/.exec(String(input))?.[1]
        if (wait !== undefined && String(input).includes('/getTasks/')) waits.push(wait)
        return await fetch(input, init)
      }
    })
    const [alice, bob] = [user(), user()]
    const stop = new AbortController()
    const serving = client.answerTasks(bob, 'com.radolyn.ayugram', { signal: stop.signal })
    const requestId = await client.requestClient(alice, bob)
    expect(await client.waitForResult(requestId)).toMatchObject({ status: 'completed', clientName: 'AyuGram' })
    stop.abort()
    await serving
    // Refused once ("must be <= 5"), then straight to 5: not 30, 15, 7, 3.
    expect(waits.slice(0, 2)).toEqual(['60', '5'])
    expect(new Set(waits.slice(1))).toEqual(new Set(['5']))
  })
})

describe('transport failures', () => {
  it('are told apart from refusals with isTransportFailure', async () => {
    const gone = await stub(() => {})
    await gone.close()
    const client = new WhatClient({ baseUrl: gone.url, apiKey: 'k', maxRetries: 0 })
    const err = await client.requestClient(1, 2).catch((e: unknown) => e)
    expect(isTransportFailure(err)).toBe(true)
    expect(isTransportFailure(new WhatClientError(503, 'busy'))).toBe(false)
  })

  it('include a port fetch refuses outright, thrown at once: no retry reaches it', async () => {
    let retries = 0
    // 6667 is one of the Fetch standard's "bad ports".
    const client = new WhatClient({ baseUrl: 'http://127.0.0.1:6667', apiKey: 'k', retry: fast, onRetry: () => { retries++ } })
    const err = await client.requestClient(1, 2).catch((e: unknown) => e)
    expect(isTransportFailure(err)).toBe(true)
    expect((err as { cause?: { message?: string } }).cause?.message).toBe('bad port')
    expect(retries).toBe(0)
  })
})

describe('a time limit per call', () => {
  it('is refused at once when no timer could keep it', () => {
    for (const requestTimeoutMs of [0, -1, Number.NaN, Infinity, 2 ** 31]) {
      expect(() => new WhatClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', requestTimeoutMs }), String(requestTimeoutMs)).toThrow(RangeError)
      expect(() => new WhatClientV2({ baseUrl: 'http://127.0.0.1:1', requestTimeoutMs }), String(requestTimeoutMs)).toThrow(RangeError)
    }
    expect(() => new WhatClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k', requestTimeoutMs: 2.5 })).not.toThrow()
  })
})
