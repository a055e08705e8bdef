/**
 * The v2 checks of `whatclient selftest`: what a plugin needs to sign in is
 * published, two users sign in (an asker and a target), init data is single
 * use, forged and altered tokens are refused with a Bearer challenge, and
 * whole flows between the two: plain and named, declined, sealed (opened
 * here and named from the catalogue), and a held long-poll released at once.
 * Raw HTTP, as a plugin sees the server; the SDK only for HPKE sealing.
 *
 * Each flow but the first asks sealed with a key of its own, so that no two
 * checks can share a request (the server hands back a pending one for the
 * same asker, target and key) even when one of them failed half-way.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { makeKeyPair, openAnswer, sealAnswer, type SealedAnswer } from 'whatclient-sdk'
import {
  CheckFailed, expectAnswer, HOLD_SECONDS, PACKAGE, SETTLE_MS, shown, Skipped,
  type Answer, type Check, type Http
} from './selftest-checks.js'

interface SignedIn { token: string, userId: number, expiresAt: number }

type Json = Record<string, unknown>

const asObject = (value: unknown): Json => (typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Json : {})

export function v2Checks (http: Http, initData: { asker: string, target: string }): Check[] {
  let asker: SignedIn | undefined
  let target: SignedIn | undefined
  let holdSeconds = HOLD_SECONDS
  let catalogue: { clients: Json, etag: string } | undefined

  const bearer = (who: SignedIn | string | undefined): Record<string, string> =>
    who === undefined ? {} : { authorization: `Bearer ${typeof who === 'string' ? who : who.token}` }
  const post = async (path: string, body: object, who?: SignedIn): Promise<Answer> =>
    http.call('POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...bearer(who) } })
  const get = async (path: string, who?: SignedIn | string, waitSeconds = 0, headers: Record<string, string> = {}): Promise<Answer> =>
    http.call('GET', path, { headers: { ...bearer(who), ...headers }, waitSeconds })

  const sessions = (): [SignedIn, SignedIn] => {
    if (asker === undefined || target === undefined) throw new Skipped('it needs the two users signed in')
    return [asker, target]
  }

  const signIn = async (data: string, who: string): Promise<SignedIn> => {
    const answer = await post('/v2/session', { init_data: data })
    if (answer.status === 401) {
      throw new CheckFailed(`POST /v2/session (${who}) answered ${shown(answer)}, expected 200: ` +
        "the init data is stale, was used already, or is not signed for this server's bot (TELEGRAM_BOT_TOKEN)")
    }
    expectAnswer(`POST /v2/session (${who})`, answer, 200)
    const { token, user_id: userId, expires_at: expiresAt } = asObject(answer.json)
    if (typeof token !== 'string' || typeof userId !== 'number' || typeof expiresAt !== 'number') {
      throw new CheckFailed(`POST /v2/session (${who}) answered ${shown(answer)}, expected {"token", "user_id", "expires_at"}`)
    }
    return { token, userId, expiresAt }
  }

  const ask = async (payload: Json): Promise<string> => {
    const [from] = sessions()
    const answer = await post('/v2/requests', payload, from)
    expectAnswer('POST /v2/requests', answer, 200)
    const { request_id: requestId, expires_at: expiresAt } = asObject(answer.json)
    if (typeof requestId !== 'string' || requestId === '' || typeof expiresAt !== 'number') {
      throw new CheckFailed(`POST /v2/requests answered ${shown(answer)}, expected {"request_id": "...", "expires_at": ...}`)
    }
    return requestId
  }
  const taskFor = async (requestId: string): Promise<Json> => {
    const [, to] = sessions()
    const answer = await get('/v2/tasks', to)
    expectAnswer('GET /v2/tasks', answer, 200)
    const tasks = asObject(answer.json).tasks
    const task = Array.isArray(tasks) ? tasks.map(asObject).find((t) => t.request_id === requestId) : undefined
    if (task === undefined) throw new CheckFailed(`GET /v2/tasks (the target) answered ${shown(answer)}, expected a list with the new request`)
    return task
  }
  const submit = async (body: Json): Promise<void> => {
    const [, to] = sessions()
    expectAnswer('POST /v2/answers', await post('/v2/answers', body, to), 200, { status: 'success' })
  }
  const resultPath = (requestId: string): string => `/v2/requests/${encodeURIComponent(requestId)}`
  const result = async (requestId: string, waitSeconds = 0): Promise<Answer> => get(resultPath(requestId), sessions()[0], waitSeconds)
  const expectTask = (task: Json, expected: Json): void => {
    for (const [field, value] of Object.entries(expected)) {
      if (task[field] !== value) throw new CheckFailed(`the target's task has ${field} ${JSON.stringify(task[field])}, expected ${JSON.stringify(value)}: ${JSON.stringify(task)}`)
    }
  }
  /** A sealed completed answer, checked to carry no name, opened with `privateKey`. */
  const openSealed = async (answer: Answer, requestId: string, keyPair: Awaited<ReturnType<typeof makeKeyPair>>): Promise<string> => {
    expectAnswer(`GET ${resultPath(requestId)}`, answer, 200)
    const body = asObject(answer.json)
    if (body.status !== 'completed' || body.verified !== true || typeof body.sealed !== 'object' || 'client_name' in body || 'package_name' in body) {
      throw new CheckFailed(`GET /v2/requests/{id} answered ${shown(answer)}, expected {"status": "completed", "sealed": {...}, "verified": true} and no name`)
    }
    try {
      return await openAnswer(keyPair.privateKey, body.sealed as SealedAnswer, requestId)
    } catch (err) {
      throw new CheckFailed(`the sealed answer cannot be used: ${(err as Error).message}`)
    }
  }

  return [
    {
      name: 'v2 info',
      run: async () => {
        const answer = await http.call('GET', '/v2/info')
        if (answer.status === 404) throw new CheckFailed('GET /v2/info answered 404: this server does not speak v2')
        expectAnswer('GET /v2/info', answer, 200)
        const info = asObject(answer.json)
        if (info.version !== 2) throw new CheckFailed(`GET /v2/info answered ${shown(answer)}, expected "version": 2`)
        if (info.sign_in !== true) throw new CheckFailed('GET /v2/info says sign_in is false: the server has neither TELEGRAM_BOT_TOKEN nor TELEGRAM_BOT_ID')
        if (typeof info.bot_username !== 'string') throw new CheckFailed('GET /v2/info has no bot_username: set TELEGRAM_BOT_USERNAME, or plugins cannot tell which bot to sign in with')
        if (typeof info.webapp_url !== 'string') throw new CheckFailed('GET /v2/info has no webapp_url: set WEBAPP_URL (the bot\'s Mini App), or plugins cannot sign in')
        if (typeof info.max_wait_seconds === 'number' && info.max_wait_seconds >= 1) holdSeconds = Math.min(HOLD_SECONDS, Math.floor(info.max_wait_seconds))
        return `version 2, sign-in with @${info.bot_username} at ${info.webapp_url}; v1 ${info.v1_enabled === true ? 'on' : 'off'}; long-polls up to ${String(info.max_wait_seconds)} s`
      }
    },
    {
      name: 'sign-in',
      run: async () => {
        const first = await signIn(initData.asker, 'the asker')
        const second = await signIn(initData.target, 'the target')
        if (first.userId === second.userId) throw new CheckFailed('both init data name the same user: the flows need two')
        asker = first
        target = second
        return `two users signed in with POST /v2/session; their sessions last ${Math.round(first.expiresAt - Date.now() / 1000)} s`
      }
    },
    {
      name: 'init data single use',
      run: async () => {
        sessions()
        const again = await post('/v2/session', { init_data: initData.asker })
        if (again.status !== 401) throw new CheckFailed(`POST /v2/session with init data already used answered ${shown(again)}, expected 401: replayed init data signs anyone in again`)
        return `the asker's init data, sent again, answered ${shown(again)}`
      }
    },
    {
      name: 'forged token refused',
      run: async () => {
        const refusals: Array<[string, string | undefined]> = [['no token', undefined], ['a forged token', randomBytes(32).toString('base64url')]]
        if (asker !== undefined) {
          // The same token with one character changed: sealed tokens do not open once altered.
          const i = Math.floor(asker.token.length / 2)
          refusals.push(['an altered token', asker.token.slice(0, i) + (asker.token[i] === 'A' ? 'B' : 'A') + asker.token.slice(i + 1)])
        }
        for (const [what, token] of refusals) {
          const answer = await get('/v2/tasks', token)
          const challenge = answer.headers.get('www-authenticate') ?? ''
          if (answer.status !== 401 || !/^Bearer\b/i.test(challenge) || typeof asObject(answer.json).detail !== 'string') {
            throw new CheckFailed(`GET /v2/tasks with ${what} answered ${shown(answer)}${challenge === '' ? ' without WWW-Authenticate' : ` (WWW-Authenticate: ${challenge})`}, ` +
              'expected 401 {"detail": "..."} with WWW-Authenticate: Bearer')
          }
        }
        return `GET /v2/tasks with ${refusals.map(([what]) => what).join(', ')} answered 401 with WWW-Authenticate: Bearer`
      }
    },
    {
      name: 'full flow',
      run: async () => {
        const [from, to] = sessions()
        const requestId = await ask({ target_id: to.userId, anonymous: false })
        expectTask(await taskFor(requestId), { requester_id: from.userId, verified: true })
        const foreign = await get(resultPath(requestId), to)
        expectAnswer('GET /v2/requests/{id} by the target (not the asker)', foreign, 200, { status: 'expired' })
        expectAnswer('GET /v2/requests/{id} before the answer', await result(requestId), 200, { status: 'pending' })
        await submit({ request_id: requestId, package_name: PACKAGE })
        const done = await result(requestId)
        const body = asObject(done.json)
        if (done.status !== 200 || body.status !== 'completed' || body.package_name !== PACKAGE || typeof body.client_name !== 'string' || body.verified !== true) {
          throw new CheckFailed(`GET /v2/requests/{id} answered ${shown(done)}, expected {"status": "completed", "client_name": ..., "package_name": "${PACKAGE}", "verified": true}`)
        }
        expectAnswer('GET /v2/requests/{id} a second time', await result(requestId), 200, { status: 'expired' })
        return `a named, plain question: the target saw who asked; only the asker could read it; ${PACKAGE} came back as "${body.client_name}", verified, once`
      }
    },
    {
      name: 'decline',
      run: async () => {
        const [, to] = sessions()
        const keyPair = await makeKeyPair()
        const requestId = await ask({ target_id: to.userId, public_key: keyPair.publicKey })
        expectTask(await taskFor(requestId), { requester_id: null, verified: true })
        await submit({ request_id: requestId, declined: true })
        expectAnswer('GET /v2/requests/{id} after a decline', await result(requestId), 200, { status: 'declined' })
        return 'an anonymous question (the target saw no asker) was declined, and the asker heard so'
      }
    },
    {
      name: 'catalogue',
      run: async () => {
        const answer = await http.call('GET', '/v2/catalogue')
        expectAnswer('GET /v2/catalogue', answer, 200)
        const clients = asObject(asObject(answer.json).clients)
        const etag = answer.headers.get('etag')
        if (typeof clients[PACKAGE] !== 'string') throw new CheckFailed(`GET /v2/catalogue answered without a name for ${PACKAGE}: ${shown(answer)}`)
        if (etag === null) throw new CheckFailed('GET /v2/catalogue answered without an ETag: clients cannot cache it')
        const again = await http.call('GET', '/v2/catalogue', { headers: { 'if-none-match': etag } })
        if (again.status !== 304) throw new CheckFailed(`GET /v2/catalogue with If-None-Match: its ETag answered ${shown(again)}, expected 304`)
        catalogue = { clients, etag }
        return `${Object.keys(clients).length} apps, with an ETag; 304 when asked again with If-None-Match`
      }
    },
    {
      name: 'sealed flow',
      run: async () => {
        const [, to] = sessions()
        const keyPair = await makeKeyPair()
        const requestId = await ask({ target_id: to.userId, public_key: keyPair.publicKey })
        const task = await taskFor(requestId)
        expectTask(task, { public_key: keyPair.publicKey })
        const plain = await post('/v2/answers', { request_id: requestId, package_name: PACKAGE }, to)
        if (plain.status !== 422) throw new CheckFailed(`POST /v2/answers with a plain name for a sealed request answered ${shown(plain)}, expected 422`)
        await submit({ request_id: requestId, sealed: await sealAnswer(keyPair.publicKey, requestId, PACKAGE) })
        const opened = await openSealed(await result(requestId), requestId, keyPair)
        if (opened !== PACKAGE) throw new CheckFailed(`the sealed answer opened to ${JSON.stringify(opened)}, expected ${PACKAGE}`)
        const name = catalogue?.clients[PACKAGE]
        return 'the answer travelled sealed (a plain one was refused, the reply named nothing) and opened here to ' +
          `${PACKAGE}${typeof name === 'string' ? `, "${name}" in the catalogue` : ''}`
      }
    },
    {
      name: 'long-poll',
      run: async () => {
        const [, to] = sessions()
        const keyPair = await makeKeyPair()
        const requestId = await ask({ target_id: to.userId, public_key: keyPair.publicKey })
        let heldFor: number | undefined
        const held = result(requestId, holdSeconds).then((answer) => { heldFor = answer.ms; return answer })
        // A failure of the held call is reported below, where it is awaited.
        held.catch(() => {})
        await sleep(SETTLE_MS)
        if (heldFor !== undefined) {
          throw new CheckFailed(`GET /v2/requests/{id}?wait=${holdSeconds} answered after ${heldFor} ms, before anything happened: ` +
            `${shown(await held)} (does the server, or a proxy in front of it, hold long-polls?)`)
        }
        const sent = performance.now()
        await submit({ request_id: requestId, sealed: await sealAnswer(keyPair.publicKey, requestId, PACKAGE) })
        const answer = await held
        const releasedMs = Math.round(performance.now() - sent)
        await openSealed(answer, requestId, keyPair)
        return `a held GET /v2/requests/{id} answered ${releasedMs} ms after the answer was sent`
      }
    }
  ]
}
