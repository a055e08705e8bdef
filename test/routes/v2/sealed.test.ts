/**
 * Sealed answers over real sockets (PROTOCOL.md, "Sealed answers"): the asker
 * sends a public key, the target seals its package name to it with the SDK's
 * HPKE, and the server relays and keeps only ciphertext. Keys and sealed
 * answers are checked for their exact sizes and spelling; sealed and plain
 * never mix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeKeyPair, openAnswer, sealAnswer } from 'whatclient-sdk'
import { build, type TestServer } from '../../helper.js'
import { SIGN_IN, V2User } from './v2-helper.js'

let server: TestServer
let nextUser = 6_700_000_000
const user = (): number => ++nextUser
const signIn = async (): Promise<V2User> => V2User.signIn(server.url, user())

beforeAll(async () => { server = await build(SIGN_IN) })
afterAll(async () => server.close())

/** base64url of `bytes` bytes, with the last character changed so that unused bits are set (a second spelling of almost the same value). */
function nonCanonical (bytes: number): string {
  const text = Buffer.alloc(bytes, 0x41).toString('base64url')
  const last = text.at(-1) as string
  return text.slice(0, -1) + (last === 'Q' ? 'R' : String.fromCharCode(last.charCodeAt(0) + 1))
}

describe('a sealed request', () => {
  it('relays an answer the server cannot read: the task carries the key, the result only the sealed answer', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const keys = await makeKeyPair()
    const requestId = await alice.ask(bob.userId, { public_key: keys.publicKey })
    const [task] = await bob.tasks()
    expect(task).toMatchObject({ request_id: requestId, verified: true, requester_id: null, public_key: keys.publicKey })

    const sealed = await sealAnswer(task?.public_key as string, requestId, 'com.radolyn.ayugram')
    expect((await bob.answer(requestId, { sealed })).status).toBe(200)
    const result = await alice.result(requestId)
    expect(result).toEqual({ status: 'completed', sealed, verified: true })
    expect(await openAnswer(keys.privateKey, result.sealed as typeof sealed, requestId)).toBe('com.radolyn.ayugram')
    expect(await alice.result(requestId)).toEqual({ status: 'expired' })
  })

  it('is another request for another key, the same one for the same key', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const [one, two] = [await makeKeyPair(), await makeKeyPair()]
    const first = await alice.ask(bob.userId, { public_key: one.publicKey })
    expect(await alice.ask(bob.userId, { public_key: one.publicKey })).toBe(first)
    const second = await alice.ask(bob.userId, { public_key: two.publicKey })
    const plain = await alice.ask(bob.userId)
    expect(new Set([first, second, plain]).size).toBe(3)
    expect((await bob.tasks()).map((t) => t.public_key)).toEqual([one.publicKey, two.publicKey, undefined])
  })

  it('refuses a plain answer (422), and a sealed answer to a plain request (422), taking neither', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const keys = await makeKeyPair()
    const sealedId = await alice.ask(bob.userId, { public_key: keys.publicKey })
    const plainId = await alice.ask(bob.userId)
    const toPlain = await bob.answer(sealedId, { package_name: 'com.exteragram.messenger' })
    expect(toPlain).toMatchObject({ status: 422, body: { detail: 'This request is sealed: answer with "sealed": {"enc", "ciphertext"} (or "declined": true), not a package name.' } })
    const toSealed = await bob.answer(plainId, { sealed: await sealAnswer(keys.publicKey, plainId, 'com.exteragram.messenger') })
    expect(toSealed).toMatchObject({ status: 422, body: { detail: 'This request is not sealed: answer with "package_name" (or "declined": true), not a sealed answer.' } })
    expect((await bob.tasks()).map((t) => t.request_id)).toEqual([sealedId, plainId])
    // A decline fits either.
    expect((await bob.answer(sealedId, { declined: true })).status).toBe(200)
    expect(await alice.result(sealedId)).toEqual({ status: 'declined' })
  })

  it('needs a public key of 32 bytes in canonical base64url without padding', async () => {
    const alice = await signIn()
    const good = (await makeKeyPair()).publicKey
    const bad: unknown[] = [
      '', good.slice(1), good + 'A', `${good}=`, Buffer.alloc(32, 0xfb).toString('base64'), Buffer.alloc(31).toString('base64url'),
      Buffer.alloc(33).toString('base64url'), nonCanonical(32), ` ${good.slice(1)}`, 42, null, { key: good }
    ]
    for (const key of bad) {
      const res = await alice.post('/v2/requests', { target_id: user(), public_key: key })
      expect(res.status, JSON.stringify(key)).toBe(422)
      expect((res.body.detail as Array<{ loc: string[] }>)[0]?.loc).toEqual(['body', 'public_key'])
    }
    expect((await alice.post('/v2/requests', { target_id: user(), public_key: good })).status).toBe(200)
  })

  it('needs enc of 32 bytes and ciphertext of 272, in canonical base64url, and nothing else', async () => {
    const [alice, bob] = [await signIn(), await signIn()]
    const keys = await makeKeyPair()
    const requestId = await alice.ask(bob.userId, { public_key: keys.publicKey })
    const sealed = await sealAnswer(keys.publicKey, requestId, 'org.telegram.messenger')
    const bad: unknown[] = [
      { enc: sealed.enc }, { ciphertext: sealed.ciphertext }, {},
      { ...sealed, enc: Buffer.alloc(31).toString('base64url') }, { ...sealed, enc: Buffer.alloc(33).toString('base64url') },
      { ...sealed, enc: nonCanonical(32) }, { ...sealed, enc: `${sealed.enc}=` },
      { ...sealed, ciphertext: Buffer.alloc(271).toString('base64url') }, { ...sealed, ciphertext: Buffer.alloc(273).toString('base64url') },
      { ...sealed, ciphertext: nonCanonical(272) }, { ...sealed, ciphertext: Buffer.alloc(272, 0xfb).toString('base64') },
      { ...sealed, extra: 1 }, 'sealed', [sealed.enc, sealed.ciphertext]
    ]
    for (const value of bad) {
      const res = await bob.answer(requestId, { sealed: value })
      expect(res.status, JSON.stringify(value)).toBe(422)
    }
    expect((await bob.answer(requestId, { sealed, package_name: 'org.telegram.messenger' })).status).toBe(422)
    expect((await bob.answer(requestId, { sealed })).status).toBe(200)
    expect(await openAnswer(keys.privateKey, (await alice.result(requestId)).sealed as typeof sealed, requestId)).toBe('org.telegram.messenger')
  })

  it('is invisible to v1 and cannot be answered or read through it', async () => {
    const alice = await signIn()
    const carol = user()
    const keys = await makeKeyPair()
    const requestId = await alice.ask(carol, { public_key: keys.publicKey })
    expect(await (await server.get(`/getTasks/${carol}`)).json()).toEqual({ tasks: [] })
    expect((await server.post('/submitTaskResult', { request_id: requestId, client_name: 'com.exteragram.messenger' })).status).toBe(404)
    expect(await (await server.get(`/getRequestResult/${requestId}`)).json()).toEqual({ status: 'expired' })
    expect(await alice.result(requestId)).toEqual({ status: 'pending' })
  })
})
