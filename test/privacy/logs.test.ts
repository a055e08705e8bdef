import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { makeKeyPair, sealAnswer } from 'whatclient-sdk'
import { sign } from '../../src/crypto/signature.js'
import { signInitData } from '../../src/identity/init-data.js'
import { BOT_TOKEN, build, eventually, rawRequest, requestText, SIGN_IN, signInWith, V2User, type TestServer } from '../helper.js'
import { deleteKeys, dumpKeys, SHARED_REDIS, testPrefix } from '../store/redis-helper.js'

// Ids with digits that appear nowhere else in a log line (not as a port, pid or time).
const ALICE = 777_111_222_333
const BOB = 777_444_555_666
const PACKAGE = 'org.privacy.canary.app'

/** A flow with every error path, where frameworks like to log the URL. */
async function traffic (server: TestServer): Promise<string[]> {
  const created = await server.post('/requestClient', { requester_id: ALICE, target_id: BOB })
  const { request_id: requestId } = (await created.json()) as { request_id: string }
  await server.get(`/getTasks/${BOB}?wait=0`)
  await server.post('/submitTaskResult', { request_id: requestId, client_name: PACKAGE })
  await server.get(`/getRequestResult/${requestId}?wait=1`)
  await server.get(`/getRequestResult/${requestId}`)
  await server.post('/submitTaskResult', { request_id: requestId, client_name: PACKAGE })
  await server.get(`/getTasks/${BOB}`, { signature: '0'.repeat(64) })
  await server.get(`/getTasks/x${BOB}`)
  await fetch(`${server.url}/unknown/${BOB}/${requestId}`)
  await fetch(`${server.url}/getTasks/${BOB}%ZZ`, { headers: { 'x-signature': '0'.repeat(64) } })
  await server.post('/requestClient', `{"requester_id": ${ALICE}, "target_id": "${BOB}"}`)
  await server.post('/requestClient', `{"requester_id": ${ALICE}`)
  // Answered outside the routes: a method the path does not take, an absolute-form target, unparseable HTTP.
  await rawRequest(server.url, requestText('HEAD', `/getRequestResult/${requestId}`))
  await rawRequest(server.url, requestText('GET', `http://127.0.0.1/getTasks/${BOB}`, { 'x-signature': sign(server.key, `/getTasks/${BOB}`) }))
  await rawRequest(server.url, `FOO /getTasks/${BOB} HTTP/1.1\r\nHost: x\r\n\r\n`)
  return [String(ALICE), String(BOB), requestId, PACKAGE, sign(server.key, `/getTasks/${BOB}`), '127.0.0.1', 'remoteAddress', 'x-signature']
}

const CAROL = 777_888_999_000
const SEALED_PACKAGE = 'org.privacy.sealed.canary'

/** A v2 flow, plain and sealed, with its error paths (bad tokens, refused answers, replayed init data, 405s). */
async function trafficV2 (server: TestServer): Promise<string[]> {
  const initData = signInitData({ botToken: BOT_TOKEN, user: CAROL, fields: { query_id: 'privacy' } })
  const carolSession = (await signInWith(server.url, initData)).body as { token: string }
  await signInWith(server.url, initData)
  const carol = new V2User(server.url, CAROL, carolSession.token)
  const alice = await V2User.signIn(server.url, ALICE)
  const bob = await V2User.signIn(server.url, BOB)
  const plain = await alice.ask(BOB, { anonymous: false })
  const keys = await makeKeyPair()
  const sealedId = await carol.ask(BOB, { public_key: keys.publicKey })
  await bob.tasks(0.2)
  await bob.answer(plain, { package_name: PACKAGE })
  const sealed = await sealAnswer(keys.publicKey, sealedId, SEALED_PACKAGE)
  await bob.answer(sealedId, { package_name: SEALED_PACKAGE })
  await bob.answer(sealedId, { sealed })
  await carol.answer(plain, { package_name: PACKAGE })
  await alice.result(plain, 1)
  await carol.result(sealedId)
  await alice.result(sealedId)
  await alice.post('/v2/requests', { target_id: String(BOB) })
  await alice.get(`/v2/requests/${plain}?wait=-1`)
  await fetch(`${server.url}/v2/tasks`, { headers: { authorization: `Bearer ${alice.token}x` } })
  await rawRequest(server.url, requestText('HEAD', `/v2/requests/${plain}`, { authorization: `Bearer ${alice.token}` }))
  await rawRequest(server.url, requestText('DELETE', `/v2/requests/${sealedId}`, { authorization: `Bearer ${alice.token}` }))
  return [
    String(ALICE), String(BOB), String(CAROL), plain, sealedId, PACKAGE, SEALED_PACKAGE, alice.token, bob.token, carol.token,
    initData, encodeURIComponent(initData), keys.publicKey, sealed.enc, sealed.ciphertext.slice(0, 40), '127.0.0.1', 'authorization'
  ]
}

function expectNoneOf (lines: string[], secrets: string[]): void {
  const text = lines.filter((line) => !line.includes('Server listening')).join('')
  for (const secret of secrets) expect(text, secret).not.toContain(secret)
}

describe('logs', () => {
  it('at the default level: route, status and timing summaries, and no id, package, signature or address', async () => {
    const server = await build({ LOG_LEVEL: 'info' })
    const secrets = await traffic(server)
    await server.close()
    expectNoneOf(server.logs, secrets)

    const summaries = server.logs.map((line) => JSON.parse(line) as { msg: string, route?: string, statusCode?: number, count?: number, p50Ms?: number, p99Ms?: number, maxMs?: number, seconds?: number })
      .filter((l) => l.msg === 'requests')
    expect(summaries.reduce((n, s) => n + (s.count ?? 0), 0)).toBe(15)
    expect(summaries).toEqual(expect.arrayContaining([
      expect.objectContaining({ route: '/getTasks/:user_id', statusCode: 403, count: 1 }),
      expect.objectContaining({ route: '/submitTaskResult', statusCode: 404, count: 1 }),
      expect.objectContaining({ route: '(unmatched)', statusCode: 404, count: 1 }),
      expect.objectContaining({ route: '(malformed)', statusCode: 400, count: 1 }),
      expect.objectContaining({ route: '/requestClient', statusCode: 422, count: 1 }),
      expect.objectContaining({ route: '(unmatched)', statusCode: 405, count: 1 }),
      expect.objectContaining({ route: '(malformed)', statusCode: 400, count: 1, method: '(unread)' })
    ]))
    for (const s of summaries) {
      expect(typeof s.p50Ms === 'number' && typeof s.p99Ms === 'number' && typeof s.maxMs === 'number').toBe(true)
      // The time the line covers (here, the server's life: the one summary is the last, at close), so a count reads as a rate.
      expect(s.seconds, JSON.stringify(s)).toBeGreaterThan(0)
      // Quantiles come from bucket bounds; they must still never exceed what was measured.
      expect(s.p50Ms, JSON.stringify(s)).toBeLessThanOrEqual(s.p99Ms as number)
      expect(s.p99Ms, JSON.stringify(s)).toBeLessThanOrEqual(s.maxMs as number)
    }
  })

  it('at debug level: a line per request, still naming nobody', async () => {
    const server = await build({ LOG_LEVEL: 'debug' })
    const secrets = await traffic(server)
    await server.close()
    expectNoneOf(server.logs, secrets)
    const lines = server.logs.map((line) => JSON.parse(line) as { msg: string, route?: string, ms?: number })
    expect(lines.filter((l) => l.msg === 'request' && typeof l.ms === 'number')).toHaveLength(13)
    // Nor Fastify's per-request counter: it would tie one connection's calls together in the logs.
    expect(server.logs.filter((line) => line.includes('reqId'))).toEqual([])
  })

  it.each(['info', 'debug'])('at %s level, a v2 flow (plain and sealed) names no user, request, package, token, init data or key', async (level) => {
    const server = await build({ ...SIGN_IN, LOG_LEVEL: level })
    const secrets = await trafficV2(server)
    await server.close()
    expect(server.logs.join('')).toContain('/v2/requests/:request_id')
    expectNoneOf(server.logs, secrets)
  })

  // The Redis store has its own code paths (scripts, layouts, a client that can fail and log).
  it.each(['info', 'debug'])('at %s level with STORE=redis, the same v2 flow (plain and sealed) names none of them either', async (level) => {
    const prefix = testPrefix()
    const server = await build({
      ...SIGN_IN, LOG_LEVEL: level, STORE: 'redis', REDIS_URL: SHARED_REDIS, REDIS_KEY_PREFIX: prefix, STORE_KEY: randomBytes(32).toString('base64')
    })
    let secrets: string[]
    try {
      secrets = await trafficV2(server)
      expect((await dumpKeys(prefix)).length, 'the flow went through Redis').toBeGreaterThan(0)
    } finally {
      await server.close()
      await deleteKeys(prefix)
    }
    expect(server.logs.join('')).toContain('/v2/requests/:request_id')
    expectNoneOf(server.logs, secrets)
  })

  it('summarises every LOG_SUMMARY_SECONDS while running', async () => {
    const server = await build({ LOG_LEVEL: 'info', LOG_SUMMARY_SECONDS: '0.2' })
    await server.get('/getTasks/5')
    await eventually(() => server.logs.some((l) => l.includes('"msg":"requests"')), { timeoutMs: 1000 })
    expect(server.logs.some((l) => l.includes('"route":"/getTasks/:user_id"') && l.includes('"msg":"requests"'))).toBe(true)
  })
})
