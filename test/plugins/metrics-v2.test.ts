/**
 * What the v2 calls and the store feed into /metrics: sign-ins by outcome
 * (from POST /v2/session), store failures (from the Redis store), and the v2
 * routes by pattern, naming nobody.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signInitData } from '../../src/identity/init-data.js'
import { build, sleep, type TestServer } from '../helper.js'
import { BOT_TOKEN, SIGN_IN, V2User } from '../routes/v2/v2-helper.js'
import { freePort, PrivateRedis } from '../store/redis-helper.js'

const ALICE = 7_161_803_398
const BOB = 7_141_421_356
const PACKAGE = 'org.leaky.vtwo'

async function scrape (server: TestServer): Promise<string> {
  const address = server.app.metricsAddress()
  if (address === null) throw new Error('metrics not listening')
  return (await fetch(`http://127.0.0.1:${address.port}/metrics`)).text()
}

function value (text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

async function signIn (server: TestServer, initData: string): Promise<number> {
  return (await fetch(`${server.url}/v2/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ init_data: initData }) })).status
}

describe('metrics of v2', () => {
  let server: TestServer
  beforeAll(async () => { server = await build({ ...SIGN_IN, METRICS_PORT: '0' }) })
  afterAll(async () => server.close())

  it('count sign-ins by outcome', async () => {
    const before = await scrape(server)
    const initData = signInitData({ botToken: BOT_TOKEN, user: ALICE })
    expect(await signIn(server, initData)).toBe(200)
    expect(await signIn(server, initData)).toBe(401)
    expect(await signIn(server, signInitData({ botToken: '7000000002:AAanother-bot-token-entirely', user: ALICE }))).toBe(401)
    expect(await signIn(server, 'not init data')).toBe(401)
    const after = await scrape(server)
    const accepted = 'whatclient_sign_ins_total{outcome="accepted"}'
    const refused = 'whatclient_sign_ins_total{outcome="refused"}'
    expect(value(after, accepted) - value(before, accepted)).toBe(1)
    expect(value(after, refused) - value(before, refused)).toBe(3)
  })

  it('count the v2 calls by route pattern, naming no user, request or package', async () => {
    const [alice, bob] = [await V2User.signIn(server.url, ALICE), await V2User.signIn(server.url, BOB)]
    const requestId = await alice.ask(BOB)
    await bob.tasks()
    await bob.answer(requestId, { package_name: PACKAGE })
    await alice.result(requestId)
    const text = await scrape(server)
    for (const [method, route] of [['POST', '/v2/requests'], ['GET', '/v2/tasks'], ['POST', '/v2/answers'], ['GET', '/v2/requests/:request_id']]) {
      expect(value(text, `whatclient_http_requests_total{method="${method}",route="${route}",status_code="200"}`), route).toBeGreaterThanOrEqual(1)
    }
    for (const secret of [String(ALICE), String(BOB), requestId, PACKAGE, alice.token]) expect(text).not.toContain(secret)
  })
})

describe('store failures', () => {
  let redis: PrivateRedis
  let server: TestServer | undefined
  beforeAll(async () => {
    redis = new PrivateRedis(await freePort())
    await redis.start()
  })
  afterAll(async () => {
    await server?.close()
    await redis.stop()
  })

  it('are counted when Redis is gone', async () => {
    server = await build({ ...SIGN_IN, METRICS_PORT: '0', STORE: 'redis', REDIS_URL: redis.url, STORE_KEY: randomBytes(32).toString('base64') })
    const alice = await V2User.signIn(server.url, ALICE)
    const series = 'whatclient_store_failures_total{kind="error"}'
    const before = value(await scrape(server), series)
    await redis.stop()
    await sleep(200)
    const res = await alice.post('/v2/requests', { target_id: BOB })
    expect(res.status).toBe(503)
    expect((await alice.get('/v2/tasks')).status).toBe(503)
    expect(value(await scrape(server), series) - before).toBeGreaterThanOrEqual(2)
  })
})
