/**
 * Polls pipelined on one connection: Node hands the server every request it
 * reads at once, but their answers leave in order, so a poll behind another
 * call on its connection cannot be answered before that call is. Such a poll
 * is answered at once, as with no wait, rather than held: held, one
 * connection could take every place under MAX_HELD_POLLS_TOTAL, and keep
 * them after it closed (only the call at its head hears the close). And a
 * connection may queue at most MAX_PIPELINED_CALLS calls behind the one being
 * answered: one more closes it (src/pipelined-calls.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sign } from '../../src/crypto/signature.js'
import { build, eventually, heldPollsBecome, rawConnection, requestText, SIGN_IN, userIds, V2User, type TestServer } from '../helper.js'

let server: TestServer
const user = userIds()

beforeAll(async () => { server = await build({ ...SIGN_IN, MAX_HELD_POLLS_TOTAL: '3', MAX_PIPELINED_CALLS: '50' }) })
afterAll(async () => { await server.app.close() })

const v1Poll = (userId: number, wait: number): string =>
  requestText('GET', `/getTasks/${userId}?wait=${wait}`, { connection: 'keep-alive', 'x-signature': sign(server.key, `/getTasks/${userId}`) })

const answers = (text: string): number => text.split('HTTP/1.1 ').length - 1

describe('polls pipelined behind another call on their connection', () => {
  it('are answered at once and take no place among the held polls, on the fast path and the routes', async () => {
    const bob = await V2User.signIn(server.url, user())
    const v2Poll = requestText('GET', '/v2/tasks?wait=30', { connection: 'keep-alive', authorization: `Bearer ${bob.token}` })
    const { request_id: pending } = await (await server.post('/requestClient', { requester_id: user(), target_id: user() })).json() as { request_id: string }
    const resultPoll = requestText('GET', `/getResult/${pending}?wait=30`, { connection: 'keep-alive', 'x-signature': sign(server.key, `/getResult/${pending}`) })
    // v1 and v2 task polls (the fast path) and a result poll (the routes), twenty in all behind the head.
    const behind = Array.from({ length: 20 }, (_, i) => [v1Poll(user(), 30), v2Poll, resultPoll][i % 3])
    const connection = rawConnection(server.url)
    connection.write(v1Poll(user(), 30) + behind.join(''))
    // Only the head waits; the others were looked at, and wait for it to leave.
    await heldPollsBecome(server.app.relay, 1)
    // Another client still gets a place, and its poll is held.
    const leave = new AbortController()
    const other = server.get(`/getTasks/${user()}?wait=30`, { signal: leave.signal }).catch(() => {})
    await heldPollsBecome(server.app.relay, 2)
    connection.destroy()
    await connection.closed
    await heldPollsBecome(server.app.relay, 1)
    expect(answers(connection.received())).toBe(0)
    leave.abort()
    await other
    await heldPollsBecome(server.app.relay, 0)
  })

  it('leave in order once the call ahead is answered', async () => {
    const connection = rawConnection(server.url)
    const polls = [v1Poll(user(), 1), v1Poll(user(), 30), v1Poll(user(), 30)]
    connection.write(polls.join(''))
    await heldPollsBecome(server.app.relay, 1)
    // The head's wait passes; the two behind it answered at once and leave with it.
    await eventually(() => answers(connection.received()) === 3, { timeoutMs: 10_000 })
    expect(connection.received().match(/\{"tasks":\[\]\}/g)).toHaveLength(3)
    connection.destroy()
    await heldPollsBecome(server.app.relay, 0)
  })
})

describe('a connection that queues more than MAX_PIPELINED_CALLS calls', () => {
  let bounded: TestServer
  beforeAll(async () => { bounded = await build({ MAX_PIPELINED_CALLS: '3' }) })
  afterAll(async () => { await bounded.app.close() })
  const poll = (wait: number): string => {
    const userId = user()
    return requestText('GET', `/getTasks/${userId}?wait=${wait}`, { connection: 'keep-alive', 'x-signature': sign(bounded.key, `/getTasks/${userId}`) })
  }

  it('is served up to the bound, and closed past it', async () => {
    // The head and three behind it: all answered, in order, and the connection stays open.
    const within = rawConnection(bounded.url)
    within.write(poll(1) + poll(30) + poll(30) + poll(30))
    await eventually(() => answers(within.received()) === 4, { timeoutMs: 10_000 })
    // Their places are free again once answered: another such batch is served too.
    within.write(poll(1) + poll(1) + poll(1) + poll(1))
    await eventually(() => answers(within.received()) === 8, { timeoutMs: 10_000 })
    within.destroy()

    // A fourth behind the head: the server closes the connection, and its held head leaves.
    const past = rawConnection(bounded.url)
    past.write(poll(30) + poll(30) + poll(30) + poll(30) + poll(30))
    expect(answers(await past.closed)).toBe(0)
    await heldPollsBecome(bounded.app.relay, 0)
  })
})
