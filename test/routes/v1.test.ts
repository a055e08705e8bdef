import { beforeAll, describe, expect, it } from 'vitest'
import { build, callAgainWhileClosing, ReplyGate, requestText, sleep, userIds, type TestServer } from '../helper.js'

let server: TestServer
const user = userIds()

beforeAll(async () => {
  server = await build({ MAX_PENDING_PER_TARGET: '3', MAX_PENDING_TOTAL: '50', REQUEST_TTL_SECONDS: '60' })
})

async function ask (requester: number, target: number): Promise<string> {
  const res = await server.post('/requestClient', { requester_id: requester, target_id: target })
  expect(res.status).toBe(200)
  return ((await res.json()) as { request_id: string }).request_id
}

describe('v1 flow', () => {
  it('relays an answer from target to requester, once', async () => {
    const [alice, bob] = [user(), user()]
    const requestId = await ask(alice, bob)
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/)

    const tasks = await server.get(`/getTasks/${bob}`)
    expect(tasks.status).toBe(200)
    expect(tasks.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await tasks.json()).toEqual({ tasks: [requestId] })

    expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toEqual({ status: 'pending' })

    const submit = await server.post('/submitTaskResult', { request_id: requestId, client_name: 'com.exteragram.messenger' })
    expect(submit.status).toBe(200)
    expect(await submit.text()).toBe('{"status":"success"}')
    expect(await (await server.get(`/getTasks/${bob}`)).json()).toEqual({ tasks: [] })

    const result = await server.get(`/getRequestResult/${requestId}`)
    expect(await result.json()).toEqual({ status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger' })
    expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toEqual({ status: 'expired' })
  })

  it.each([
    ['com.radolyn.ayugram', 'AyuGram'],
    ['tw.nekomimi.nekogram', 'Nekogram'],
    ['org.telegram.messenger', "AyuGram FCM or another fork with Telegram's app id"],
    ['com.example.never.heard', 'Unknown Client']
  ])('names %s as %s', async (pkg, name) => {
    const requestId = await ask(user(), user())
    await server.post('/submitTaskResult', { request_id: requestId, client_name: pkg })
    expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toEqual({ status: 'completed', client_name: name, package_name: pkg })
  })

  it('answers 404 in the field words for an unknown or already answered request', async () => {
    const requestId = await ask(user(), user())
    await server.post('/submitTaskResult', { request_id: requestId, client_name: 'a.b' })
    for (const id of [requestId, '00000000-0000-4000-8000-000000000000']) {
      const res = await server.post('/submitTaskResult', { request_id: id, client_name: 'c.d' })
      expect(res.status).toBe(404)
      expect(await field(res)).toEqual({ detail: 'Request not found or already processed.' })
    }
    // The same answer again is a retry (its first reply may have been lost): it succeeds.
    expect((await server.post('/submitTaskResult', { request_id: requestId, client_name: 'a.b' })).status).toBe(200)
  })

  it('returns the same id for a repeated question while it is pending', async () => {
    const [alice, bob] = [user(), user()]
    const first = await ask(alice, bob)
    expect(await ask(alice, bob)).toBe(first)
    expect(await (await server.get(`/getTasks/${bob}`)).json()).toEqual({ tasks: [first] })
  })

  it('deduplicates per requester and target: another requester about the same target gets a request of their own', async () => {
    const [alice, carol, bob] = [user(), user(), user()]
    const fromAlice = await ask(alice, bob)
    const fromCarol = await ask(carol, bob)
    expect(fromCarol).not.toBe(fromAlice)
    expect(await ask(carol, bob)).toBe(fromCarol)
    expect(await (await server.get(`/getTasks/${bob}`)).json()).toEqual({ tasks: [fromAlice, fromCarol] })
    await server.post('/submitTaskResult', { request_id: fromAlice, client_name: 'com.exteragram.messenger' })
    expect(await (await server.get(`/getRequestResult/${fromAlice}`)).json()).toMatchObject({ status: 'completed' })
    expect(await (await server.get(`/getRequestResult/${fromCarol}`)).json()).toEqual({ status: 'pending' })
  })

  it('handles many concurrent flows without mixing them up', async () => {
    const pairs = Array.from({ length: 30 }, (_, i) => ({ alice: user(), bob: user(), pkg: `org.example.app${i}` }))
    await Promise.all(pairs.map(async ({ alice, bob, pkg }) => {
      const requestId = await ask(alice, bob)
      const { tasks } = (await (await server.get(`/getTasks/${bob}`)).json()) as { tasks: string[] }
      expect(tasks).toEqual([requestId])
      expect((await server.post('/submitTaskResult', { request_id: requestId, client_name: pkg })).status).toBe(200)
      expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toMatchObject({ status: 'completed', package_name: pkg })
    }))
  })
})

describe('v1 signatures over the wire', () => {
  it('accepts the protocol test vector bytes as sent', async () => {
    const body = '{"requester_id": 123, "target_id": 456}'
    const res = await server.post('/requestClient', body, { signature: '71fef23b87faa592beaacff3a1af9fc904a76e5806814e57c1b5103ce0de92f5' })
    expect(res.status).toBe(200)
    const tasks = await server.get('/getTasks/456', { signature: '8e1090cfdd7e4ccabb9c87075b71d53fde6d30129da3b42720b6238eb3fcba37' })
    expect(tasks.status).toBe(200)
  })

  it('checks the bytes, not a re-serialisation', async () => {
    const body = '{"requester_id":123,"target_id":456}'
    const res = await server.post('/requestClient', body, { signature: '71fef23b87faa592beaacff3a1af9fc904a76e5806814e57c1b5103ce0de92f5' })
    expect(res.status).toBe(403)
    expect(await field(res)).toEqual({ detail: 'Invalid signature.' })
  })

  it('answers 403 with the field messages', async () => {
    const cases: Array<[Promise<Response>, string]> = [
      [server.post('/requestClient', { requester_id: 1, target_id: 2 }, { signature: null }), 'X-Signature header is missing.'],
      [server.post('/requestClient', { requester_id: 1, target_id: 2 }, { signature: '' }), 'X-Signature header is missing.'],
      [server.post('/requestClient', { requester_id: 1, target_id: 2 }, { signature: 'nothex' }), 'Invalid signature.'],
      [server.post('/requestClient', { requester_id: 1, target_id: 2 }, { signature: '0'.repeat(64) }), 'Invalid signature.'],
      [server.get('/getTasks/456', { signature: null }), 'X-Signature header is missing.'],
      [server.get('/getTasks/456', { signature: '0'.repeat(64) }), 'Invalid signature.'],
      [server.get('/getRequestResult/x', { signature: null }), 'X-Signature header is missing.'],
      [server.post('/submitTaskResult', { request_id: 'x', client_name: 'y' }, { signature: '1'.repeat(64) }), 'Invalid signature.']
    ]
    for (const [pending, detail] of cases) {
      const res = await pending
      expect(res.status).toBe(403)
      expect(await field(res)).toEqual({ detail })
    }
  })

  it('checks an empty body like any other', async () => {
    const unsigned = await server.post('/requestClient', '', { signature: '0'.repeat(64), contentType: null })
    expect(unsigned.status).toBe(403)
    expect(await field(unsigned)).toEqual({ detail: 'Invalid signature.' })
    const signed = await server.post('/requestClient', '', { contentType: null })
    expect(signed.status).toBe(422)
    expect(Array.isArray((await field(signed)).detail)).toBe(true)
    const signedJson = await server.post('/requestClient', '')
    expect(signedJson.status).toBe(400)
    expect(await field(signedJson)).toEqual({ detail: 'The body is empty: send a JSON object.' })
  })

  it('signs GET paths without the query and percent-decoded', async () => {
    expect((await server.get('/getTasks/456?wait=0')).status).toBe(200)
    expect((await server.get('/getTasks/%34%35%36')).status).toBe(200)
  })
})

/** Asserts the one error shape, `{"detail": ...}` as JSON and nothing else, and returns the parsed body. */
async function field (res: Response): Promise<{ detail: unknown }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  const json = (await res.json()) as Record<string, unknown>
  expect(Object.keys(json), JSON.stringify(json)).toEqual(['detail'])
  expect(typeof json.detail === 'string' ? json.detail : JSON.stringify(json.detail)).not.toBe('')
  return json as { detail: unknown }
}

describe('bad input gets a clear 4xx', () => {

  it.each([
    ['a string id', '{"requester_id": "1", "target_id": 2}'],
    ['a boolean id', '{"requester_id": true, "target_id": 2}'],
    ['zero', '{"requester_id": 0, "target_id": 2}'],
    ['a negative id', '{"requester_id": -5, "target_id": 2}'],
    ['a fraction', '{"requester_id": 1.5, "target_id": 2}'],
    ['2^53', '{"requester_id": 9007199254740992, "target_id": 2}'],
    ['2^53 + 1 (would lose precision)', '{"requester_id": 9007199254740993, "target_id": 2}'],
    ['a huge number', '{"requester_id": 1e300, "target_id": 2}'],
    ['a missing field', '{"requester_id": 1}'],
    ['null', 'null'],
    ['an array', '[1, 2]'],
    ['deep nesting', '{"requester_id": ' + '['.repeat(2000) + ']'.repeat(2000) + ', "target_id": 2}']
  ])('422 for %s', async (_what, body) => {
    const res = await server.post('/requestClient', body)
    expect(res.status).toBe(422)
    const json = (await field(res)) as { detail: Array<{ loc: unknown[], msg: string, type: string }> }
    expect(Array.isArray(json.detail)).toBe(true)
    expect(json.detail[0]?.loc[0]).toBe('body')
  })

  it('accepts the largest exact id', async () => {
    const res = await server.post('/requestClient', { requester_id: Number.MAX_SAFE_INTEGER, target_id: 1 })
    expect(res.status).toBe(200)
  })

  it('400 for malformed JSON', async () => {
    const res = await server.post('/requestClient', '{"requester_id": 1,')
    expect(res.status).toBe(400)
    expect(await field(res)).toEqual({ detail: 'The body is not valid JSON.' })
  })

  it('413 for a body over the limit', async () => {
    const res = await server.post('/submitTaskResult', JSON.stringify({ request_id: 'x', client_name: 'a'.repeat(17 * 1024) }))
    expect(res.status).toBe(413)
    expect(typeof (await field(res)).detail).toBe('string')
  })

  it('415 for another content type', async () => {
    const res = await server.post('/requestClient', { requester_id: 1, target_id: 2 }, { contentType: 'text/plain' })
    expect(res.status).toBe(415)
    expect(await field(res)).toEqual({ detail: 'Unsupported media type: send Content-Type: application/json.' })
  })

  it('415, in the same words, for a content type that is empty or not type/subtype', async () => {
    for (const contentType of ['', 'json', ';charset=utf-8']) {
      const res = await server.post('/requestClient', { requester_id: 1, target_id: 2 }, { contentType })
      expect(res.status, contentType).toBe(415)
      expect(await field(res), contentType).toEqual({ detail: 'Unsupported media type: send Content-Type: application/json.' })
    }
  })

  it('reads a body without content type as JSON, as the field server did', async () => {
    const res = await server.post('/requestClient', { requester_id: user(), target_id: user() }, { contentType: null })
    expect(res.status).toBe(200)
  })

  it('422 for strings out of bounds and wrong types in submitTaskResult', async () => {
    for (const body of [
      { request_id: 'x', client_name: '' },
      { request_id: 'x', client_name: 'a'.repeat(257) },
      { request_id: 'x'.repeat(129), client_name: 'a.b' },
      { request_id: 5, client_name: 'a.b' },
      { request_id: 'x' }
    ]) {
      const res = await server.post('/submitTaskResult', JSON.stringify(body))
      expect(res.status, JSON.stringify(body)).toBe(422)
      expect((await field(res)).detail, JSON.stringify(body)).toEqual([expect.objectContaining({ loc: expect.arrayContaining(['body']) })])
    }
  })

  it('422 for a client_name that no Android package can have, so no answer carries escapes or forged text', async () => {
    const requestId = await ask(user(), user())
    for (const name of [
      'com.evil\u001b]0;owned\u0007', 'com.x\nuses Telegram', 'com.x\r', 'com.x\u0000', 'com.x\u009b31m', 'com.x uses Telegram',
      'com.телега', 'com.x\u202e', '1com.x', 'com.1x', 'com._x', 'com..x', '.com.x', 'com.x.', 'com.x-y', 'com/x', 'comx',
      'a.' + 'b'.repeat(254)
    ]) {
      const res = await server.post('/submitTaskResult', { request_id: requestId, client_name: name })
      expect(res.status, JSON.stringify(name)).toBe(422)
      const json = (await field(res)) as { detail: Array<{ loc: string[] }> }
      expect(json.detail[0]?.loc, JSON.stringify(name)).toEqual(['body', 'client_name'])
    }
    expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toEqual({ status: 'pending' })
  })

  it.each(['com.exteragram.messenger', 'org.telegram.messenger', 'A1_.b_2.C', 'a.' + 'b'.repeat(253)])('accepts the package name %s', async (name) => {
    const requestId = await ask(user(), user())
    expect((await server.post('/submitTaskResult', { request_id: requestId, client_name: name })).status).toBe(200)
    expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toMatchObject({ status: 'completed', package_name: name })
  })

  it('422 for path ids that are not positive integers up to 2^53-1', async () => {
    for (const id of ['abc', '0', '-1', '1.5', '9007199254740992', '99999999999999999999']) {
      const res = await server.get(`/getTasks/${id}`)
      expect(res.status, id).toBe(422)
      expect(((await field(res)) as { detail: Array<{ loc: string[] }> }).detail[0]?.loc[0]).toBe('path')
    }
    const long = await server.get(`/getRequestResult/${'r'.repeat(200)}`)
    expect(long.status).toBe(422)
    expect(((await field(long)).detail as Array<{ loc: string[] }>)[0]?.loc).toEqual(['path', 'request_id'])
  })

  it('404 for unknown routes, 405 for other methods, without a signature', async () => {
    const unknown = await fetch(`${server.url}/nope/12345`)
    expect(unknown.status).toBe(404)
    expect(await field(unknown)).toEqual({ detail: 'Not Found' })
    const method = await fetch(`${server.url}/getTasks/1`, { method: 'DELETE' })
    expect(method.status).toBe(405)
    expect(method.headers.get('allow')).toBe('GET')
    expect(await field(method)).toEqual({ detail: 'Method not allowed: this path answers GET.' })
  })

  it('never answers 5xx to garbage', async () => {
    const bodies = ['\u0000', '{"__proto__": {"x": 1}, "requester_id": 1, "target_id": 2}', '{"constructor": {"prototype": {}}}', '"str"', '1', '{}', '\ufeff{}']
    for (const body of bodies) {
      const res = await server.post('/requestClient', body)
      expect(res.status, body).toBeGreaterThanOrEqual(400)
      expect(res.status, body).toBeLessThan(500)
      await field(res)
    }
    const malformedPath = await fetch(`${server.url}/getTasks/%ZZ`, { headers: { 'x-signature': '0'.repeat(64) } })
    expect(malformedPath.status).toBe(400)
    expect(await field(malformedPath)).toEqual({ detail: 'Malformed URL.' })
  })
})

describe('caps', () => {
  it('429 when a target has too many pending requests', async () => {
    const bob = user()
    for (let i = 0; i < 3; i++) await ask(user(), bob)
    const res = await server.post('/requestClient', { requester_id: user(), target_id: bob })
    expect(res.status).toBe(429)
    expect(await field(res)).toEqual({ detail: 'Too many pending requests for this user; try again later.' })
  })
})

describe('expiry', () => {
  it('forgets a request after REQUEST_TTL_SECONDS', async () => {
    const short = await build({ REQUEST_TTL_SECONDS: '0.4' })
    const [alice, bob] = [user(), user()]
    const res = await short.post('/requestClient', { requester_id: alice, target_id: bob })
    const { request_id: requestId } = (await res.json()) as { request_id: string }
    expect(await (await short.get(`/getTasks/${bob}`)).json()).toEqual({ tasks: [requestId] })
    await sleep(600)
    expect(await (await short.get(`/getTasks/${bob}`)).json()).toEqual({ tasks: [] })
    expect(await (await short.get(`/getRequestResult/${requestId}`)).json()).toEqual({ status: 'expired' })
    expect((await short.post('/submitTaskResult', { request_id: requestId, client_name: 'a.b' })).status).toBe(404)
  })

  it('503 when the server holds too many requests in total', async () => {
    const full = await build({ MAX_PENDING_TOTAL: '2' })
    for (let i = 0; i < 2; i++) expect((await full.post('/requestClient', { requester_id: user(), target_id: user() })).status).toBe(200)
    const res = await full.post('/requestClient', { requester_id: user(), target_id: user() })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await field(res)).toEqual({ detail: 'The server holds too many pending requests; try again later.' })
  })
})

describe('operations', () => {
  it('serves /healthz, /readyz, /openapi.json and /docs unsigned', async () => {
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ status: 'ok' })
    expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: 'ready' })
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, unknown>, components: { securitySchemes: Record<string, { name: string }> } }
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/requestClient', '/getTasks/{user_id}', '/submitTaskResult', '/getRequestResult/{request_id}']))
    expect(spec.components.securitySchemes.signature?.name).toBe('X-Signature')
    const docs = await fetch(`${server.url}/docs`)
    expect(docs.status).toBe(200)
    expect(await docs.text()).toContain('<html')
  })

  it('/readyz says closing (503) once the server begins to close, as the routes begin to refuse calls', async () => {
    // One reply is held in flight, so that closing takes a while.
    const gate = new ReplyGate()
    const closing = await build({}, { beforeListen: (app) => gate.install(app) })
    const { first, second, received } = await callAgainWhileClosing(closing, gate, requestText('GET', '/readyz', { connection: 'keep-alive' }))
    expect(first.status, received).toBe(200)
    expect(JSON.parse(first.body)).toEqual({ status: 'ready' })
    expect(second.status, received).toBe(503)
    expect(JSON.parse(second.body)).toEqual({ status: 'closing' })
  })
})
