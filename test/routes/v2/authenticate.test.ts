/**
 * The Bearer check that every v2 call acting as a user sits behind. No such
 * call exists yet, so these servers carry one probe route inside a
 * requireSession scope; everything else is the real app on a real socket.
 */
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../../src/app.js'
import { loadConfig } from '../../../src/config.js'
import { signInitData } from '../../../src/identity/init-data.js'
import { deriveKey, TOKEN_KEY_LABEL } from '../../../src/identity/keys.js'
import { SessionTokens } from '../../../src/identity/tokens.js'
import { callerOf, requireSession } from '../../../src/routes/v2/authenticate.js'
import { sign } from '../../../src/crypto/signature.js'
import { deleteKeys, SHARED_REDIS, testPrefix } from '../../store/redis-helper.js'

const BOT_TOKEN = '7000000001:AAtest-bot-token_for_WhatClient_tests'
let nextUser = 6_200_000_000
const user = (): number => ++nextUser

interface ProbeServer { app: FastifyInstance, url: string, logs: string[], close: () => Promise<void> }

async function buildWithProbe (env: Record<string, string> = {}): Promise<ProbeServer> {
  const logs: string[] = []
  const logStream = new Writable({ write (chunk, _encoding, done) { logs.push(String(chunk)); done() } })
  const app = await buildApp(loadConfig({ API_SECRET_KEY: 'lainapi.gay', TELEGRAM_BOT_TOKEN: BOT_TOKEN, ...env }), { logStream })
  await app.register(async (scope) => {
    requireSession(scope, app.identity.tokens)
    scope.get('/v2/probe', async (request) => callerOf(request))
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, url: `http://127.0.0.1:${address.port}`, logs, close: () => app.close() }
}

async function signIn (url: string, id = user()): Promise<{ token: string, user_id: number, expires_at: number }> {
  const res = await fetch(`${url}/v2/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ init_data: signInitData({ botToken: BOT_TOKEN, user: id }) })
  })
  expect(res.status).toBe(200)
  return await res.json() as { token: string, user_id: number, expires_at: number }
}

async function probe (url: string, authorization?: string): Promise<{ status: number, body: Record<string, unknown>, challenge: string | null }> {
  const res = await fetch(`${url}/v2/probe`, { headers: authorization === undefined ? {} : { authorization } })
  return { status: res.status, body: await res.json() as Record<string, unknown>, challenge: res.headers.get('www-authenticate') }
}

describe('Authorization: Bearer', () => {
  let server: ProbeServer
  beforeAll(async () => { server = await buildWithProbe() })
  afterAll(async () => server.close())

  it('makes the token\'s user the caller', async () => {
    const session = await signIn(server.url)
    expect(await probe(server.url, `Bearer ${session.token}`)).toMatchObject({ status: 200, body: { userId: session.user_id, expiresAt: session.expires_at } })
    expect((await probe(server.url, `bearer  ${session.token}`)).status).toBe(200)
  })

  it('answers 401 with WWW-Authenticate: Bearer to a missing or malformed header', async () => {
    const missing = 'Authorization: Bearer <token> is missing; sign in with POST /v2/session.'
    expect(await probe(server.url)).toEqual({ status: 401, body: { detail: missing }, challenge: 'Bearer' })
    expect(await probe(server.url, '')).toEqual({ status: 401, body: { detail: missing }, challenge: 'Bearer' })
    const session = await signIn(server.url)
    for (const header of ['Bearer', 'Bearer ', `Basic ${session.token}`, session.token, `Bearer ${session.token} extra`, `Bearer "${session.token}"`]) {
      expect(await probe(server.url, header), header).toEqual({ status: 401, body: { detail: 'Invalid token; sign in again.' }, challenge: 'Bearer' })
    }
  })

  it('answers 401 to forged and altered tokens', async () => {
    const session = await signIn(server.url)
    const flipped = session.token.slice(0, 10) + (session.token[10] === 'A' ? 'B' : 'A') + session.token.slice(11)
    const forged = new SessionTokens({ secret: Buffer.alloc(32, 7), ttlSeconds: 3600 }).issue(session.user_id).token
    for (const token of [flipped, forged, 'A'.repeat(64), session.token.slice(0, -2)]) {
      expect(await probe(server.url, `Bearer ${token}`)).toEqual({ status: 401, body: { detail: 'Invalid token; sign in again.' }, challenge: 'Bearer' })
    }
  })

  it('is not asked of the open v2 calls, nor of v1 (whose signature hook stays its own)', async () => {
    expect((await fetch(`${server.url}/v2/info`)).status).toBe(200)
    expect((await fetch(`${server.url}/v2/catalogue`)).status).toBe(200)
    expect((await fetch(`${server.url}/getTasks/5`, { headers: { 'x-signature': sign('lainapi.gay', '/getTasks/5') } })).status).toBe(200)
    // And the v1 key opens no v2 call.
    expect((await fetch(`${server.url}/v2/probe`, { headers: { 'x-signature': sign('lainapi.gay', '/v2/probe') } })).status).toBe(401)
  })

  it('does not accept tokens of another deployment (memory mode: a key per process)', async () => {
    const other = await buildWithProbe()
    try {
      const session = await signIn(other.url)
      expect((await probe(other.url, `Bearer ${session.token}`)).status).toBe(200)
      expect((await probe(server.url, `Bearer ${session.token}`)).status).toBe(401)
    } finally {
      await other.close()
    }
  })

  it('logs no init data, token or user id, even at debug', async () => {
    const quiet = await buildWithProbe({ LOG_LEVEL: 'debug' })
    try {
      const id = user()
      const initData = signInitData({ botToken: BOT_TOKEN, user: id })
      const res = await fetch(`${quiet.url}/v2/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ init_data: initData }) })
      const { token } = await res.json() as { token: string }
      await fetch(`${quiet.url}/v2/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ init_data: initData }) })
      await probe(quiet.url, `Bearer ${token}`)
      await probe(quiet.url, `Bearer ${token}x`)
      await probe(quiet.url)
      await quiet.close()
      const logs = quiet.logs.join('')
      expect(logs).toContain('/v2/session')
      for (const secret of [String(id), token, initData, encodeURIComponent(initData), /hash=([0-9a-f]+)/.exec(initData)?.[1] as string]) {
        expect(logs).not.toContain(secret)
      }
    } finally {
      await quiet.close()
    }
  })
})

describe('tokens across instances (Redis mode)', () => {
  const prefix = testPrefix()
  const storeKey = Buffer.alloc(32, 9)
  const env = { STORE: 'redis', REDIS_URL: SHARED_REDIS, REDIS_KEY_PREFIX: prefix, STORE_KEY: storeKey.toString('base64') }
  let one: ProbeServer
  let two: ProbeServer
  beforeAll(async () => {
    one = await buildWithProbe(env)
    two = await buildWithProbe(env)
  })
  afterAll(async () => {
    await one.close()
    await two.close()
    await deleteKeys(prefix)
  })

  it('a token from one instance works on the other', async () => {
    const session = await signIn(one.url)
    expect(await probe(two.url, `Bearer ${session.token}`)).toMatchObject({ status: 200, body: { userId: session.user_id } })
  })

  it('init data accepted by one instance is refused by the other', async () => {
    const initData = signInitData({ botToken: BOT_TOKEN, user: user() })
    const post = async (url: string): Promise<number> => (await fetch(`${url}/v2/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ init_data: initData })
    })).status
    expect(await post(one.url)).toBe(200)
    expect(await post(two.url)).toBe(401)
  })

  it('answers 401 to an expired token, with its own message', async () => {
    // The deployment's token key is derived from STORE_KEY; mint a token that expired a second ago.
    const past = new SessionTokens({ secret: deriveKey(storeKey, TOKEN_KEY_LABEL), ttlSeconds: 60, now: () => Math.floor(Date.now() / 1000) - 61 })
    const expired = past.issue(user()).token
    expect(await probe(one.url, `Bearer ${expired}`)).toEqual({ status: 401, body: { detail: 'Token expired; sign in again.' }, challenge: 'Bearer' })
    // Same key, still fresh: accepted, so the refusal above was the expiry.
    const fresh = new SessionTokens({ secret: deriveKey(storeKey, TOKEN_KEY_LABEL), ttlSeconds: 60 }).issue(5).token
    expect((await probe(two.url, `Bearer ${fresh}`)).status).toBe(200)
  })
})
