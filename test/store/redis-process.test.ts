/**
 * Server processes in Redis mode against a redis-server of the test's own:
 * frozen with SIGSTOP, two instances answer every call 503 within about a
 * second and come back after SIGCONT without a restart; a shutdown with a
 * held poll exits 0 at once; a Redis that evicts keys is refused at start.
 */
import { randomBytes } from 'node:crypto'
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { eventually, signedClient, sleep } from '../helper.js'
import { runCli, serveProcess, type Child } from '../process-helper.js'
import { PrivateRedis, startPrivateRedis } from './redis-helper.js'

const KEY = 'redis-process-key'

interface Instance { child: Child, url: string }

/** A signed call that gives up after `limitMs`, so that a hang fails the test instead of holding it. */
async function call (url: string, method: 'GET' | 'POST', path: string, body: object = {}, limitMs = 10_000): Promise<{ status: number, body: unknown, ms: number }> {
  const api = signedClient(url, KEY)
  const signal = AbortSignal.timeout(limitMs)
  const started = Date.now()
  const res = method === 'GET' ? await api.get(path, { signal }) : await api.post(path, body, { signal })
  return { status: res.status, body: await res.json(), ms: Date.now() - started }
}

function start (redis: PrivateRedis, env: Record<string, string> = {}): Promise<Instance> {
  return serveProcess({ API_SECRET_KEY: KEY, STORE: 'redis', REDIS_URL: redis.url, STORE_KEY: randomBytes(32).toString('base64'), LOG_LEVEL: 'info', ...env })
}

const count = (text: string, pattern: RegExp): number => text.match(new RegExp(pattern, 'g'))?.length ?? 0

describe('a frozen Redis', () => {
  it('gets 503 within about a second from both instances, held polls too, and both recover after SIGCONT', async () => {
    const redis = await startPrivateRedis()
    const storeKey = randomBytes(32).toString('base64')
    const [a, b] = await Promise.all([start(redis, { STORE_KEY: storeKey }), start(redis, { STORE_KEY: storeKey })]) as [Instance, Instance]
    const made = await call(a.url, 'POST', '/requestClient', { requester_id: 1, target_id: 2 })
    const requestId = (made.body as { request_id: string }).request_id
    const held = call(b.url, 'GET', '/getTasks/99?wait=30')
    await sleep(300)

    redis.freeze()
    const released = await held
    expect(released.status).toBe(503)
    expect(released.body).toEqual({ detail: 'The task store is unavailable; try again later.' })
    for (const instance of [a, b]) {
      for (const [method, path, body] of [
        ['POST', '/requestClient', { requester_id: 3, target_id: 4 }],
        ['GET', '/getTasks/2', undefined],
        ['GET', `/getRequestResult/${requestId}`, undefined],
        ['GET', `/getRequestResult/${requestId}?wait=5`, undefined],
        ['POST', '/submitTaskResult', { request_id: requestId, client_name: 'a.b' }]
      ] as const) {
        const res = await call(instance.url, method, path, body)
        expect(res.status, `${method} ${path}`).toBe(503)
        expect(res.ms, `${method} ${path}`).toBeLessThan(3000)
      }
      const ready = await fetch(`${instance.url}/readyz`, { signal: AbortSignal.timeout(5000) })
      expect(ready.status).toBe(503)
    }

    redis.thaw()
    for (const instance of [a, b]) {
      await eventually(async () => (await fetch(`${instance.url}/readyz`)).status === 200, { timeoutMs: 10_000, intervalMs: 100, message: '/readyz to answer 200' })
      await instance.child.waitFor(/store back/)
      expect(count(instance.child.stdout(), /store unreachable/)).toBe(1)
      expect(count(instance.child.stdout(), /store back/)).toBe(1)
      expect(instance.child.process.exitCode).toBeNull()
    }
    // Both serve again, and still share one store.
    const again = await call(b.url, 'POST', '/requestClient', { requester_id: 5, target_id: 6 })
    expect(again.status).toBe(200)
    expect((await call(a.url, 'GET', '/getTasks/6')).body).toEqual({ tasks: [(again.body as { request_id: string }).request_id] })
  })
})

describe('shutting down in Redis mode', () => {
  let redis: PrivateRedis
  beforeAll(async () => { redis = await startPrivateRedis() })

  it.each([['answering', false], ['frozen', true]])('answers a held poll and exits 0 at once with Redis %s', async (_state, frozen) => {
    const instance = await start(redis, { SHUTDOWN_TIMEOUT_SECONDS: '20' })
    onTestFinished(() => { redis.thaw() })
    const held = call(instance.url, 'GET', '/getTasks/42?wait=30')
    await sleep(300)
    if (frozen) redis.freeze()
    const sent = Date.now()
    instance.child.process.kill('SIGTERM')
    expect((await held).status).toBe(frozen ? 503 : 200)
    expect(await instance.child.exited).toBe(0)
    // Far below the 20 s the process may take: nothing waited for a timeout.
    expect(Date.now() - sent).toBeLessThan(10_000)
  })
})

describe('a Redis that evicts keys', () => {
  it('is refused at start when it has a memory limit, with the setting to change', async () => {
    const redis = await startPrivateRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'])
    const child = runCli(['serve'], { PORT: '0', API_SECRET_KEY: KEY, STORE: 'redis', REDIS_URL: redis.url, STORE_KEY: randomBytes(32).toString('base64') })
    expect(await child.exited).toBe(1)
    expect(child.stderr()).toMatch(/cannot start \[WC_ERR_REDIS_UNSUITABLE\]: Redis evicts keys \(maxmemory-policy allkeys-lru\).*set maxmemory-policy noeviction/)
  })

  it('is only warned about without a memory limit', async () => {
    const redis = await startPrivateRedis(['--maxmemory-policy', 'volatile-lru'])
    const instance = await start(redis)
    await instance.child.waitFor(/maxmemory-policy volatile-lru: harmless while maxmemory is 0/)
    expect((await call(instance.url, 'POST', '/requestClient', { requester_id: 1, target_id: 2 })).status).toBe(200)
  })
})
