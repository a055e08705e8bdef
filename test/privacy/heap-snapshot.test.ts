import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { makeKeyPair, openAnswer, sealAnswer } from 'whatclient-sdk'
import { sign } from '../../src/crypto/signature.js'
import { pyJson, sleep } from '../helper.js'
import { serveProcess, type Child } from '../process-helper.js'
import { SIGN_IN, V2User } from '../routes/v2/v2-helper.js'
import { deleteKeys, dumpKeys, SHARED_REDIS, testPrefix } from '../store/redis-helper.js'

const KEY = 'heap-test-key'
const dir = mkdtempSync(join(tmpdir(), 'wc-heap-'))
let server: Child | undefined
const v2Servers: Child[] = []
const redisPrefix = testPrefix()

afterAll(async () => {
  server?.process.kill('SIGKILL')
  for (const child of v2Servers) child.process.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
  await deleteKeys(redisPrefix)
})

// The Redis store keeps its own copies of what it reads and writes (replies, scripts' arguments): its heap is checked too.
const STORES: Array<[string, Record<string, string>]> = [
  ['memory', {}],
  ['redis', { STORE: 'redis', REDIS_URL: SHARED_REDIS, REDIS_KEY_PREFIX: redisPrefix, STORE_KEY: randomBytes(32).toString('base64') }]
]

async function call (url: string, method: 'GET' | 'POST', path: string, body?: object): Promise<Record<string, unknown>> {
  const text = body === undefined ? undefined : pyJson(body)
  const res = await fetch(url + path, {
    method,
    body: text === undefined ? undefined : Buffer.from(text),
    headers: { 'content-type': 'application/json', 'x-signature': sign(KEY, text ?? path), connection: 'close' }
  })
  return res.json() as Promise<Record<string, unknown>>
}

/** Asks the server for a heap snapshot (node --heapsnapshot-signal, which collects garbage first) and reads it. */
async function snapshot (child: Child, url: string): Promise<string> {
  const before = new Set(readdirSync(dir))
  child.process.kill('SIGUSR2')
  const fresh = (): string | undefined => readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f))
  for (let i = 0; i < 200 && fresh() === undefined; i++) await sleep(50)
  const file = fresh()
  if (file === undefined) throw new Error('no heap snapshot written')
  // Writing the snapshot blocks the server's event loop: once it answers again, the file is complete.
  await fetch(`${url}/healthz`)
  return readFileSync(join(dir, file), 'utf8')
}

describe('at-rest protection', () => {
  it('holds no plaintext answer, user id or request id in the heap while a result waits', async () => {
    const started = await serveProcess({ API_SECRET_KEY: KEY, LOG_LEVEL: 'info' }, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`])
    server = started.child
    const { url } = started
    // Made up at run time and not in the catalogue, so only our request can put it in the server's heap.
    const secretPackage = `org.canary.p${randomBytes(8).toString('hex')}`
    const alice = 8_100_000_000_000 + randomBytes(4).readUInt32BE()
    const bob = 8_200_000_000_000 + randomBytes(4).readUInt32BE()

    const { request_id: requestId } = await call(url, 'POST', '/requestClient', { requester_id: alice, target_id: bob }) as { request_id: string }
    expect(await call(url, 'POST', '/submitTaskResult', { request_id: requestId, client_name: secretPackage })).toEqual({ status: 'success' })

    const heap = await snapshot(server, url)
    // The snapshot holds the server's strings: a catalogue name proves the search can find one.
    expect(heap.length).toBeGreaterThan(1_000_000)
    expect(heap).toContain('Unknown Client')
    expect(heap).not.toContain(secretPackage)
    expect(heap).not.toContain(requestId)
    expect(heap).not.toContain(String(alice))
    expect(heap).not.toContain(String(bob))

    // ...and yet the answer was held all along: sealed.
    expect(await call(url, 'GET', `/getRequestResult/${requestId}`)).toEqual({ status: 'completed', client_name: 'Unknown Client', package_name: secretPackage })
  })

  it.each(STORES)('holds no package name (sealed or plain), user id, request id, token, public key or sealed answer in clear during a v2 flow (STORE=%s)', async (_store, storeEnv) => {
    const started = await serveProcess({ API_SECRET_KEY: KEY, LOG_LEVEL: 'info', ...SIGN_IN, ...storeEnv }, ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`])
    const v2Server = started.child
    v2Servers.push(v2Server)
    const { url } = started
    const sealedPackage = `org.canary.sealed${randomBytes(8).toString('hex')}`
    const plainPackage = `org.canary.plain${randomBytes(8).toString('hex')}`
    const [aliceId, bobId] = [8_300_000_000_000 + randomBytes(4).readUInt32BE(), 8_400_000_000_000 + randomBytes(4).readUInt32BE()]
    const alice = await V2User.signIn(url, aliceId)
    const bob = await V2User.signIn(url, bobId)

    // A sealed request: Bob's answer is sealed in this process, to Alice's one-use key.
    const keys = await makeKeyPair()
    const sealedId = await alice.ask(bobId, { public_key: keys.publicKey, anonymous: false })
    const plainId = await alice.ask(bobId)
    const sealed = await sealAnswer(keys.publicKey, sealedId, sealedPackage)
    expect((await bob.answer(sealedId, { sealed })).status).toBe(200)
    expect((await bob.answer(plainId, { package_name: plainPackage })).status).toBe(200)

    if (storeEnv.STORE === 'redis') expect((await dumpKeys(redisPrefix)).length, 'the requests are held in Redis').toBeGreaterThan(0)
    const heap = await snapshot(v2Server, url)
    expect(heap).toContain('Unknown Client')
    for (const secret of [sealedPackage, plainPackage, String(aliceId), String(bobId), sealedId, plainId, alice.token, bob.token, keys.publicKey, sealed.enc, sealed.ciphertext]) {
      expect(heap, secret).not.toContain(secret)
    }

    // ...and yet both answers were held all along: sealed at rest, and the sealed one sealed twice.
    const result = await alice.result(sealedId)
    expect(result).toEqual({ status: 'completed', sealed, verified: true })
    expect(await openAnswer(keys.privateKey, sealed, sealedId)).toBe(sealedPackage)
    expect(await alice.result(plainId)).toMatchObject({ status: 'completed', package_name: plainPackage })
  })
})
