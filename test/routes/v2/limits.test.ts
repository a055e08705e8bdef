/**
 * The caps on asking, over real sockets: the per-requester quota
 * (ASK_LIMIT_PER_HOUR), the per-target cap, and the cap on unverified (v1)
 * questions, each a 429 with Retry-After saying when asking again can work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build, type TestServer } from '../../helper.js'
import { SIGN_IN, V2User } from './v2-helper.js'

let nextUser = 6_600_000_000
const user = (): number => ++nextUser

function retryAfterSeconds (res: { headers: Headers }): number {
  const header = res.headers.get('retry-after')
  expect(header).toMatch(/^[1-9][0-9]*$/)
  return Number(header)
}

describe('ASK_LIMIT_PER_HOUR', () => {
  let server: TestServer
  beforeAll(async () => { server = await build({ ...SIGN_IN, ASK_LIMIT_PER_HOUR: '2' }) })
  afterAll(async () => server.close())

  it('answers 429 with Retry-After (seconds until the next ask fits) past the quota; asking again for a pending request is free', async () => {
    const alice = await V2User.signIn(server.url, user())
    const bob = user()
    const first = await alice.ask(bob)
    expect(await alice.ask(bob)).toBe(first)
    await alice.ask(user(), { public_key: Buffer.alloc(32, 5).toString('base64url') })
    const refused = await alice.post('/v2/requests', { target_id: user() })
    expect(refused.status).toBe(429)
    expect(refused.body).toEqual({ detail: 'You have asked too many questions this hour; try again after Retry-After seconds.' })
    // Two an hour: the next one half an hour after the first.
    const wait = retryAfterSeconds(refused)
    expect(wait).toBeGreaterThan(1790)
    expect(wait).toBeLessThanOrEqual(1800)
    // Still free: the pending one again.
    expect(await alice.ask(bob)).toBe(first)
    // Another asker has a quota of their own, and v1 has none.
    const carol = await V2User.signIn(server.url, user())
    await carol.ask(bob)
    expect((await server.post('/requestClient', { requester_id: alice.userId, target_id: user() })).status).toBe(200)
  })
})

describe('the caps per target', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await build({ ...SIGN_IN, MAX_PENDING_PER_TARGET: '4', MAX_UNVERIFIED_PER_TARGET: '2', REQUEST_TTL_SECONDS: '100' })
  })
  afterAll(async () => server.close())

  it('keeps room for verified questions: at most MAX_UNVERIFIED_PER_TARGET v1 ones, inside the whole cap', async () => {
    const bob = await V2User.signIn(server.url, user())
    for (let i = 0; i < 2; i++) expect((await server.post('/requestClient', { requester_id: user(), target_id: bob.userId })).status).toBe(200)
    const unverified = await server.post('/requestClient', { requester_id: user(), target_id: bob.userId })
    expect(unverified.status).toBe(429)
    expect(await unverified.json()).toEqual({ detail: 'Too many unverified (v1) questions pending for this user; try again after Retry-After seconds, or ask through v2.' })
    // The oldest of them expires in about 100 s.
    expect(retryAfterSeconds(unverified)).toBeGreaterThan(90)
    expect(retryAfterSeconds(unverified)).toBeLessThanOrEqual(100)
    for (let i = 0; i < 2; i++) await (await V2User.signIn(server.url, user())).ask(bob.userId)
    const full = await (await V2User.signIn(server.url, user())).post('/v2/requests', { target_id: bob.userId })
    expect(full.status).toBe(429)
    expect(full.body).toEqual({ detail: 'Too many pending requests for this user; try again later.' })
    expect(retryAfterSeconds(full)).toBeLessThanOrEqual(100)
    // Bob answers one v1 question: room for one more.
    const [oldest] = await bob.tasks()
    expect((await bob.answer(oldest?.request_id as string, { declined: true })).status).toBe(200)
    expect((await server.post('/requestClient', { requester_id: user(), target_id: bob.userId })).status).toBe(200)
  })

  it('tells a v1 asker at a full target when to try again too', async () => {
    const bob = user()
    for (let i = 0; i < 2; i++) await (await V2User.signIn(server.url, user())).ask(bob)
    for (let i = 0; i < 2; i++) expect((await server.post('/requestClient', { requester_id: user(), target_id: bob })).status).toBe(200)
    const full = await server.post('/requestClient', { requester_id: user(), target_id: bob })
    expect(full.status).toBe(429)
    expect(await full.json()).toEqual({ detail: 'Too many pending requests for this user; try again later.' })
    expect(retryAfterSeconds(full)).toBeLessThanOrEqual(100)
  })

  it('has no unverified cap where nobody can sign in: a v1-only server keeps the whole cap for v1', async () => {
    const v1Only = await build({ MAX_PENDING_PER_TARGET: '4', MAX_UNVERIFIED_PER_TARGET: '2' })
    try {
      const bob = user()
      for (let i = 0; i < 4; i++) expect((await v1Only.post('/requestClient', { requester_id: user(), target_id: bob })).status).toBe(200)
      expect((await v1Only.post('/requestClient', { requester_id: user(), target_id: bob })).status).toBe(429)
    } finally {
      await v1Only.close()
    }
  })
})
