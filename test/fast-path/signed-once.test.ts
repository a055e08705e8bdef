/**
 * A v1 poll the fast path takes has its signature checked once: there, before
 * it is held or looked up. Handed on to the routes with the tasks it found, it
 * is not checked again; anything the routes take from the start still is. Counted
 * by wrapping the signature check every module imports.
 */
import { describe, expect, it, vi } from 'vitest'
import { sign, verify } from '../../src/crypto/signature.js'
import { build, closeWhenDone, eventually, rawRequest, requestText, userIds } from '../helper.js'

vi.mock('../../src/crypto/signature.js', async (original) => {
  const real = await original<typeof import('../../src/crypto/signature.js')>()
  return { ...real, verify: vi.fn(real.verify) }
})

const user = userIds()
const checks = (): number => vi.mocked(verify).mock.calls.length

describe('the v1 signature of a poll the fast path hands on', () => {
  it('is checked once for a held poll that finds a task, and on every call the routes take', async () => {
    const server = closeWhenDone(await build({ MAX_WAIT_SECONDS: '30' }))
    const bob = user()
    const path = `/getTasks/${bob}`
    const before = checks()
    const poll = rawRequest(server.url, requestText('GET', `${path}?wait=30`, { 'x-signature': sign(server.key, path) }))
    await eventually(() => server.app.relay.heldPolls() === 1)
    expect(checks()).toBe(before + 1)
    const created = await server.post('/requestClient', { requester_id: user(), target_id: bob })
    const { request_id: requestId } = await created.json() as { request_id: string }
    const answer = await poll
    expect(answer.status).toBe(200)
    expect(JSON.parse(answer.body)).toEqual({ tasks: [requestId] })
    // The poll's one check, and the ask's own (a POST, which the routes take).
    expect(checks()).toBe(before + 2)

    // Handed on at once (no wait) with the tasks it found: checked once too.
    await server.post('/requestClient', { requester_id: user(), target_id: bob })
    const found = await rawRequest(server.url, requestText('GET', path, { 'x-signature': sign(server.key, path) }))
    expect(JSON.parse(found.body).tasks).toHaveLength(2)
    expect(checks()).toBe(before + 4)

    // The routes still check what they take from the start: a poll with `?wait=0`, and a wrong signature.
    expect((await server.get(`${path}?wait=0`)).status).toBe(200)
    expect(checks()).toBe(before + 5)
    const forged = await rawRequest(server.url, requestText('GET', `${path}?wait=0`, { 'x-signature': '0'.repeat(64) }))
    expect(forged.status).toBe(403)
  })
})
