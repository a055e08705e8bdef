import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sign } from '../../src/crypto/signature.js'
import { build, type TestServer } from '../helper.js'

// Ids with digits that appear nowhere else in a log line (not as a port, pid or time).
const ALICE = 777_111_222_333
const BOB = 777_444_555_666
const PACKAGE = 'org.privacy.canary.app'

let server: TestServer
beforeAll(async () => {
  // The default level: what an operator's logs hold.
  server = await build({ LOG_LEVEL: 'info' })
})
afterAll(async () => server.close())

describe('logs at the default level', () => {
  it('carry route, status and timing, and no id, package, signature or address', async () => {
    const created = await server.post('/requestClient', { requester_id: ALICE, target_id: BOB })
    const { request_id: requestId } = (await created.json()) as { request_id: string }
    await server.get(`/getTasks/${BOB}?wait=0`)
    await server.post('/submitTaskResult', { request_id: requestId, client_name: PACKAGE })
    await server.get(`/getRequestResult/${requestId}`)
    await server.get(`/getRequestResult/${requestId}`)
    // Error paths, where frameworks like to log the URL.
    await server.post('/submitTaskResult', { request_id: requestId, client_name: PACKAGE })
    await server.get(`/getTasks/${BOB}`, { signature: '0'.repeat(64) })
    await server.get(`/getTasks/x${BOB}`)
    await fetch(`${server.url}/unknown/${BOB}/${requestId}`)
    await fetch(`${server.url}/getTasks/${BOB}%ZZ`, { headers: { 'x-signature': '0'.repeat(64) } })
    await server.post('/requestClient', `{"requester_id": ${ALICE}, "target_id": "${BOB}"}`)
    await server.post('/requestClient', `{"requester_id": ${ALICE}`)

    const requestLines = server.logs.filter((line) => !line.includes('Server listening'))
    expect(requestLines.length).toBeGreaterThanOrEqual(12)
    const text = requestLines.join('')
    const secrets = [String(ALICE), String(BOB), requestId, PACKAGE, sign(server.key, `/getTasks/${BOB}`), '127.0.0.1', 'remoteAddress', 'x-signature']
    for (const secret of secrets) expect(text, secret).not.toContain(secret)

    const lines = requestLines.map((line) => JSON.parse(line) as { msg: string, statusCode?: number, ms?: number, route?: string })
    // One line per request: route pattern, status and time.
    const requests = lines.filter((l) => l.msg === 'request')
    expect(requests).toHaveLength(12)
    expect(requests.some((l) => l.route === '/getTasks/:user_id')).toBe(true)
    expect(requests.some((l) => l.route === '(unmatched)')).toBe(true)
    expect(requests.map((l) => l.statusCode)).toEqual(expect.arrayContaining([200, 400, 403, 404, 422]))
    expect(requests.every((l) => typeof l.ms === 'number')).toBe(true)
  })
})
