import { createServer, request as httpRequest } from 'node:http'
import { beforeAll, describe, expect, it } from 'vitest'
import { WhatClient, WhatClientError } from 'whatclient-sdk'
import { build, heldPollsBecome, listenOnLoopback, type TestServer, userIds } from '../helper.js'

let server: TestServer
const user = userIds()
const fast = { baseMs: 10, maxMs: 50 }

beforeAll(async () => { server = await build() })

/**
 * A stand-in in front of the real server: counts calls, can answer 503 a few
 * times first, and can drop the query string, which makes it a v1 server that
 * ignores `?wait=` and answers at once.
 */
async function frontServer (target: string, opts: { dropQuery?: boolean, fail503?: number }): Promise<{ url: string, calls: string[], close: () => Promise<void> }> {
  const calls: string[] = []
  let failures = opts.fail503 ?? 0
  const front = createServer((req, res) => {
    calls.push(req.url ?? '')
    if (failures > 0) {
      failures--
      // With Retry-After, as the server's own 503s that clear by themselves: one without is not retried.
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"detail": "busy"}')
      return
    }
    const path = opts.dropQuery === true ? (req.url ?? '').split('?')[0] : req.url
    const upstream = httpRequest(target + path, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    req.pipe(upstream)
  })
  return { ...await listenOnLoopback(front), calls }
}

describe('WhatClient SDK', () => {
  it('asks, answers and waits through long-poll', async () => {
    const client = new WhatClient({ baseUrl: server.url, apiKey: server.key })
    const [alice, bob] = [user(), user()]
    const stop = new AbortController()
    const answered: string[] = []
    const serving = client.answerTasks(bob, 'com.radolyn.ayugram', { signal: stop.signal, onAnswered: (id) => answered.push(id) })
    const requestId = await client.requestClient(alice, bob)
    const outcome = await client.waitForResult(requestId, { timeoutMs: 20_000 })
    expect(outcome).toEqual({ status: 'completed', clientName: 'AyuGram', packageName: 'com.radolyn.ayugram' })
    expect(answered).toEqual([requestId])
    stop.abort()
    await serving
  })

  it('falls back to interval polling against a server that ignores wait, without busy-looping', async () => {
    const v1 = await frontServer(server.url, { dropQuery: true })
    try {
      const client = new WhatClient({ baseUrl: v1.url, apiKey: server.key, pollIntervalMs: 200 })
      const [alice, bob] = [user(), user()]
      const stop = new AbortController()
      const serving = client.answerTasks(bob, 'tw.nekomimi.nekogram', { signal: stop.signal })
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const idlePolls = v1.calls.filter((c) => c.startsWith(`/getTasks/${bob}`)).length
      // One poll per 200 ms interval at most: a busy loop would make thousands.
      expect(idlePolls).toBeGreaterThanOrEqual(2)
      expect(idlePolls).toBeLessThanOrEqual(7)
      const requestId = await client.requestClient(alice, bob)
      expect(await client.waitForResult(requestId, { timeoutMs: 10_000 })).toMatchObject({ status: 'completed', clientName: 'Nekogram' })
      stop.abort()
      await serving
    } finally {
      await v1.close()
    }
  })

  it('retries 5xx with backoff, then succeeds', async () => {
    const flaky = await frontServer(server.url, { fail503: 2 })
    try {
      const retries: number[] = []
      const client = new WhatClient({ baseUrl: flaky.url, apiKey: server.key, retry: fast, onRetry: (_e, delay) => retries.push(delay) })
      expect(await client.requestClient(user(), user())).toMatch(/^[0-9a-f-]{36}$/)
      expect(flaky.calls).toHaveLength(3)
      expect(retries).toHaveLength(2)
    } finally {
      await flaky.close()
    }
  })

  it('gives up on an unreachable server after its retries', async () => {
    const gone = await frontServer(server.url, {})
    await gone.close()
    const retries: unknown[] = []
    const client = new WhatClient({ baseUrl: gone.url, apiKey: server.key, retry: fast, maxRetries: 2, onRetry: (e) => retries.push(e) })
    await expect(client.requestClient(1, 2)).rejects.toThrow(/fetch failed/)
    expect(retries).toHaveLength(2)
  })

  it('throws a refusal that retrying cannot fix, at once', async () => {
    const retries: unknown[] = []
    const client = new WhatClient({ baseUrl: server.url, apiKey: 'wrong key', retry: fast, onRetry: (e) => retries.push(e) })
    const err = await client.requestClient(1, 2).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(WhatClientError)
    expect(err).toMatchObject({ status: 403, detail: 'Invalid signature.' })
    await expect(client.answerTasks(1, 'a.b')).rejects.toMatchObject({ status: 403 })
    expect(retries).toHaveLength(0)
  })

  it('reports expiry and its own timeout apart', async () => {
    const short = await build({ REQUEST_TTL_SECONDS: '0.5' })
    try {
      const client = new WhatClient({ baseUrl: short.url, apiKey: short.key })
      const expiring = await client.requestClient(user(), user())
      expect(await client.waitForResult(expiring)).toEqual({ status: 'expired' })
      const waiting = await client.requestClient(user(), user())
      expect(await client.waitForResult(waiting, { timeoutMs: 200 })).toEqual({ status: 'timeout' })
    } finally {
      await short.close()
    }
  })

  it('stops serving when aborted, even mid-hold', async () => {
    const client = new WhatClient({ baseUrl: server.url, apiKey: server.key })
    const stop = new AbortController()
    const serving = client.answerTasks(user(), 'a.b', { signal: stop.signal })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(server.app.relay.heldPolls()).toBeGreaterThanOrEqual(1)
    stop.abort()
    await serving
    await heldPollsBecome(server.app.relay, 0)
  })
})

describe('the package entry', () => {
  it("exports the SDK, built, as 'whatclient-sdk' (the workspace link an installer would see)", async () => {
    const { execFile } = await import('node:child_process')
    const { ROOT } = await import('../process-helper.js')
    const script = "const sdk = await import('whatclient-sdk'); console.log(Object.keys(sdk).sort().join(' '), sdk.sign('lainapi.gay', '/getTasks/456'))"
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script],
        { cwd: ROOT }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
    })
    expect(out.trim()).toBe('SealingError UNKNOWN_CLIENT WhatClient WhatClientError WhatClientV2 isPackageName isTransportFailure makeKeyPair openAnswer sealAnswer sign ' +
      '8e1090cfdd7e4ccabb9c87075b71d53fde6d30129da3b42720b6238eb3fcba37')
  })
})
