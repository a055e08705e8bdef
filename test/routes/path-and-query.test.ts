import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { sign } from '../../src/crypto/signature.js'
import { build, type TestServer } from '../helper.js'
import { detailOf, rawRequest, requestText } from './raw-http.js'

let server: TestServer
const warnings: Error[] = []
const onWarning = (warning: Error): void => { warnings.push(warning) }

beforeAll(async () => {
  server = await build()
})
afterAll(async () => server.close())
beforeEach(() => {
  warnings.length = 0
  process.on('warning', onWarning)
})
afterEach(() => {
  process.removeListener('warning', onWarning)
})

/** A signed GET over a raw socket: the query goes on the wire exactly as given. */
function signedGet (path: string, query = ''): Promise<ReturnType<typeof rawRequest> extends Promise<infer R> ? R : never> {
  const signature = sign(server.key, decodeURIComponent(path))
  // Bounded: a poll that is held instead of refused fails here rather than hanging the suite.
  return rawRequest(server.url, requestText('GET', path + query, { 'x-signature': signature }), 5000)
}

describe('?wait= is a finite decimal in 0..MAX_WAIT_SECONDS', () => {
  const hostile = ['Infinity', '-Infinity', 'NaN', '1e400', '1e1', '0x10', '0b1', '30.5', '31', '-1', '', '%20', '%201', '1%20', '+1', '.5', '5.', '1' + '0'.repeat(400)]

  it.each(hostile)('422 for wait=%s on both GET calls, at once', async (wait) => {
    for (const path of ['/getTasks/5', '/getRequestResult/some-id']) {
      const res = await signedGet(path, `?wait=${wait}`)
      expect(res.status, `${path}?wait=${wait}: ${res.text}`).toBe(422)
      const detail = detailOf(res) as Array<{ loc: string[], msg: string }>
      expect(detail[0]?.loc).toEqual(['query', 'wait'])
      expect(typeof detail[0]?.msg).toBe('string')
    }
    expect(server.app.relay.heldPolls()).toBe(0)
    expect(warnings.map((w) => w.name)).not.toContain('TimeoutOverflowWarning')
  })

  it.each(['0', '0.25', '1', '0.5'])('holds for wait=%s and answers', async (wait) => {
    const res = await signedGet('/getTasks/5', `?wait=${wait}`)
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ tasks: [] })
  })

  it('accepts MAX_WAIT_SECONDS itself', async () => {
    const small = await build({ MAX_WAIT_SECONDS: '0.5' })
    try {
      const res = await rawRequest(small.url, requestText('GET', '/getTasks/5?wait=0.5', { 'x-signature': sign(small.key, '/getTasks/5') }))
      expect(res.status).toBe(200)
      const over = await rawRequest(small.url, requestText('GET', '/getTasks/5?wait=0.6', { 'x-signature': sign(small.key, '/getTasks/5') }))
      expect(over.status).toBe(422)
      expect(detailOf(over)).toEqual([{ type: 'maximum', loc: ['query', 'wait'], msg: 'must be <= 0.5' }])
    } finally {
      await small.close()
    }
  })
})

describe('user ids in paths are plain decimals in 1..2^53-1', () => {
  // Each of these used to be read as user 2 (or 16, or 1).
  const lookalikes = ['0x2', '2e0', '+2', '2.0', '02', '%202', '2%20', '%2B2', '0b10', '0o2', '-0', '0', '1_0', '%EF%BC%92', 'Infinity', '9007199254740992', '1' + '0'.repeat(200)]

  it.each(lookalikes)('422 for /getTasks/%s', async (id) => {
    const res = await signedGet(`/getTasks/${id}`)
    expect(res.status, `${id}: ${res.text}`).toBe(422)
    const detail = detailOf(res) as Array<{ loc: string[], msg: string }>
    expect(detail[0]?.loc).toEqual(['path', 'user_id'])
  })

  it('reads 2 and 2^53-1 as themselves', async () => {
    for (const id of ['2', '9007199254740991']) {
      const res = await signedGet(`/getTasks/${id}`)
      expect(res.status, res.text).toBe(200)
    }
  })

  it('does not hand user 2\'s tasks to a lookalike path', async () => {
    const target = 8_100_000_002
    const created = await server.post('/requestClient', { requester_id: 8_100_000_001, target_id: target })
    const { request_id: requestId } = (await created.json()) as { request_id: string }
    expect(JSON.parse((await signedGet(`/getTasks/${target}`)).body)).toEqual({ tasks: [requestId] })
    for (const id of [`0${target}`, `+${target}`, `${target}.0`, `0x${target.toString(16)}`]) {
      expect((await signedGet(`/getTasks/${id}`)).status, id).toBe(422)
    }
  })
})
