import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyRequest } from 'fastify'
import { build, eventually, heldPollsBecome, userIds, type TestServer } from '../helper.js'

let server: TestServer
const user = userIds()

beforeAll(async () => {
  server = await build({ MAX_HELD_POLLS_PER_USER: '2', MAX_HELD_POLLS_TOTAL: '5' })
})

async function ask (s: TestServer, requester: number, target: number): Promise<string> {
  const res = await s.post('/requestClient', { requester_id: requester, target_id: target })
  return ((await res.json()) as { request_id: string }).request_id
}

/** A GET that the test can cut (its connection dropped), as a client that goes away. */
function heldGet (s: TestServer, path: string): { cut: () => void, done: Promise<void> } {
  const leave = new AbortController()
  const done = s.get(path, { signal: leave.signal }).then(async (res) => { await res.arrayBuffer() }, () => {})
  return { cut: () => leave.abort(), done }
}

describe('long-poll on getTasks', () => {
  it('holds until a task arrives, then returns it', async () => {
    const [alice, bob] = [user(), user()]
    let createdAt = 0
    const held = server.get(`/getTasks/${bob}?wait=10`).then(async (res) => ({ at: Date.now(), body: await res.json() }))
    await heldPollsBecome(server.app.relay, 1)
    createdAt = Date.now()
    const requestId = await ask(server, alice, bob)
    const { at, body } = await held
    expect(body).toEqual({ tasks: [requestId] })
    expect(at).toBeGreaterThanOrEqual(createdAt)
    await heldPollsBecome(server.app.relay, 0)
  })

  it('returns at once when tasks are already waiting', async () => {
    const [alice, bob] = [user(), user()]
    const requestId = await ask(server, alice, bob)
    expect(await (await server.get(`/getTasks/${bob}?wait=10`)).json()).toEqual({ tasks: [requestId] })
  })

  it('is not woken by tasks for someone else, and answers empty when the wait passes', async () => {
    const [bob, carol] = [user(), user()]
    const held = server.get(`/getTasks/${bob}?wait=0.5`)
    await heldPollsBecome(server.app.relay, 1)
    await ask(server, user(), carol)
    const res = await held
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ tasks: [] })
    await heldPollsBecome(server.app.relay, 0)
  })

  it('accepts 0 <= wait <= 30 only', async () => {
    for (const wait of ['-1', '30.5', '31', 'abc', '1e9']) {
      const res = await server.get(`/getTasks/1?wait=${wait}`)
      expect(res.status, wait).toBe(422)
      expect(((await res.json()) as { detail: Array<{ loc: string[] }> }).detail[0]?.loc).toEqual(['query', 'wait'])
    }
    expect((await server.get('/getTasks/1?wait=0')).status).toBe(200)
  })
})

describe('long-poll on getRequestResult', () => {
  it('holds until the answer arrives and delivers it once', async () => {
    const [alice, bob] = [user(), user()]
    const requestId = await ask(server, alice, bob)
    const held = server.get(`/getRequestResult/${requestId}?wait=10`).then((res) => res.json())
    await heldPollsBecome(server.app.relay, 1)
    await server.post('/submitTaskResult', { request_id: requestId, client_name: 'com.exteragram.messenger' })
    expect(await held).toEqual({ status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger' })
    expect(await (await server.get(`/getRequestResult/${requestId}?wait=1`)).json()).toEqual({ status: 'expired' })
  })

  it('lets one of two held readers have the answer, the other learns it is gone', async () => {
    const requestId = await ask(server, user(), user())
    const a = server.get(`/getRequestResult/${requestId}?wait=10`).then((res) => res.json())
    const b = server.get(`/getRequestResult/${requestId}?wait=10`).then((res) => res.json())
    await heldPollsBecome(server.app.relay, 2)
    await server.post('/submitTaskResult', { request_id: requestId, client_name: 'a.b' })
    const results = (await Promise.all([a, b])) as Array<{ status: string }>
    expect(results.map((r) => r.status).sort()).toEqual(['completed', 'expired'])
  })

  it('answers "expired" when the request expires during the hold, not at the end of the wait', async () => {
    const short = await build({ REQUEST_TTL_SECONDS: '0.5' })
    const requestId = await ask(short, user(), user())
    const started = Date.now()
    const res = await short.get(`/getRequestResult/${requestId}?wait=30`)
    expect(await res.json()).toEqual({ status: 'expired' })
    expect(Date.now() - started).toBeLessThan(30_000)
  })
})

describe('held polls are bounded and always released', () => {
  it('removes the waiter when the client disconnects', async () => {
    const bob = user()
    const polls = [heldGet(server, `/getTasks/${bob}?wait=30`), heldGet(server, `/getTasks/${user()}?wait=30`)]
    await heldPollsBecome(server.app.relay, 2)
    for (const p of polls) p.cut()
    await Promise.all(polls.map((p) => p.done))
    await heldPollsBecome(server.app.relay, 0)
    // The server still serves that user normally.
    const requestId = await ask(server, user(), bob)
    expect(await (await server.get(`/getTasks/${bob}?wait=1`)).json()).toEqual({ tasks: [requestId] })
  })

  it('keeps the answer for the next reader when a held reader leaves', async () => {
    for (let i = 0; i < 3; i++) {
      const requestId = await ask(server, user(), user())
      const reader = heldGet(server, `/getRequestResult/${requestId}?wait=30`)
      await heldPollsBecome(server.app.relay, 1)
      reader.cut()
      await reader.done
      await heldPollsBecome(server.app.relay, 0)
      await server.post('/submitTaskResult', { request_id: requestId, client_name: 'com.exteragram.messenger' })
      expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toMatchObject({ status: 'completed' })
    }
  })

  it('keeps the answer when the reader left before its hold began (a slow hook ahead of the handler)', async () => {
    let slowed: FastifyRequest | undefined
    let letThrough = (): void => {}
    const through = new Promise<void>((resolve) => { letThrough = resolve })
    const slow = await build({}, {
      beforeListen: (app) => {
        app.addHook('preHandler', async (request) => {
          if (!request.url.startsWith('/getRequestResult/') || slowed !== undefined) return
          slowed = request
          await through
        })
      }
    })
    const requestId = await ask(slow, user(), user())
    const reader = heldGet(slow, `/getRequestResult/${requestId}?wait=30`)
    await eventually(() => slowed !== undefined)
    reader.cut()
    await eventually(() => slowed?.raw.socket.destroyed === true)
    letThrough()
    await reader.done
    await eventually(() => slow.app.relay.heldPolls() === 0)
    await slow.post('/submitTaskResult', { request_id: requestId, client_name: 'com.exteragram.messenger' })
    expect(await (await slow.get(`/getRequestResult/${requestId}`)).json()).toMatchObject({ status: 'completed' })
  })

  it('429 past the per-user cap, 503 past the total cap', async () => {
    const bob = user()
    const held = [heldGet(server, `/getTasks/${bob}?wait=30`), heldGet(server, `/getTasks/${bob}?wait=30`)]
    await heldPollsBecome(server.app.relay, 2)
    const third = await server.get(`/getTasks/${bob}?wait=30`)
    expect(third.status).toBe(429)
    expect(await third.json()).toEqual({ detail: 'Too many waiting polls for this id; close one before opening another.' })
    // A plain v1 poll is never refused for that.
    expect((await server.get(`/getTasks/${bob}`)).status).toBe(200)

    held.push(heldGet(server, `/getTasks/${user()}?wait=30`), heldGet(server, `/getTasks/${user()}?wait=30`), heldGet(server, `/getTasks/${user()}?wait=30`))
    await heldPollsBecome(server.app.relay, 5)
    const over = await server.get(`/getTasks/${user()}?wait=30`)
    expect(over.status).toBe(503)
    expect(await over.json()).toEqual({ detail: 'The server holds too many waiting polls; try again later.' })
    for (const p of held) p.cut()
    await heldPollsBecome(server.app.relay, 0)
  })

  it('answers every held poll at once when the server closes', async () => {
    const closing = await build()
    const bob = user()
    const requestId = await ask(closing, user(), bob)
    const polls = [
      closing.get(`/getTasks/${user()}?wait=30`).then((res) => res.json()),
      closing.get(`/getRequestResult/${requestId}?wait=30`).then((res) => res.json())
    ]
    await heldPollsBecome(closing.app.relay, 2)
    const started = Date.now()
    await closing.close()
    expect(await Promise.all(polls)).toEqual([{ tasks: [] }, { status: 'pending' }])
    expect(Date.now() - started).toBeLessThan(30_000)
    expect(closing.app.relay.heldPolls()).toBe(0)
  })
})
