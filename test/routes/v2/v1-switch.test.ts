import { describe, expect, it } from 'vitest'
import { build, SIGN_IN, V2User } from '../../helper.js'

describe('V1_ENABLED', () => {
  it('false switches the four v1 calls off (404), and v2 stays', async () => {
    const server = await build({ ...SIGN_IN, V1_ENABLED: 'false' })
    const calls = [
      server.post('/requestClient', { requester_id: 1, target_id: 2 }),
      server.get('/getTasks/2'),
      server.post('/submitTaskResult', { request_id: 'x', client_name: 'com.radolyn.ayugram' }),
      server.get('/getRequestResult/x')
    ]
    for (const res of await Promise.all(calls)) {
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ detail: 'Not Found' })
    }
    expect(await (await fetch(`${server.url}/v2/info`)).json()).toMatchObject({ v1_enabled: false })
  })

  it('false leaves the whole v2 flow working: sign in, ask, list, answer, read', async () => {
    const server = await build({ ...SIGN_IN, V1_ENABLED: 'false' })
    const [alice, bob] = [await V2User.signIn(server.url, 6_900_000_001), await V2User.signIn(server.url, 6_900_000_002)]
    const requestId = await alice.ask(bob.userId, { anonymous: false })
    expect((await bob.tasks(5)).map((t) => [t.request_id, t.requester_id, t.verified])).toEqual([[requestId, alice.userId, true]])
    expect((await bob.answer(requestId, { package_name: 'com.exteragram.messenger' })).status).toBe(200)
    expect(await alice.result(requestId, 5)).toEqual({ status: 'completed', client_name: 'exteraGram', package_name: 'com.exteragram.messenger', verified: true })
    expect((await server.get('/getTasks/6900000002')).status).toBe(404)
  })

  it('true (the default) keeps them', async () => {
    const server = await build()
    expect((await server.get('/getTasks/2')).status).toBe(200)
  })
})
