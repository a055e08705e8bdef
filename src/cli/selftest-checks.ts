/**
 * The checks `whatclient selftest` runs against a deployment from outside, as
 * a client on the internet sees it: health probes, forged and unsigned calls
 * refused, a whole question and answer relayed, a held long-poll released at
 * once, an unknown path answered in the `{"detail"}` shape. Each check returns
 * what it saw, or throws CheckFailed saying what went wrong.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { sign } from 'whatclient-sdk'
import { networkReason } from './connection.js'

export interface Check {
  name: string
  run: () => Promise<string>
}

/** A check did not pass; the message says what was seen. */
export class CheckFailed extends Error {}

/** The server could not be reached at all: the checks after it would only say so again. */
export class Unreachable extends CheckFailed {}

/** A check that cannot run because one before it failed (say, sign-in); the message says which. */
export class Skipped extends Error {}

/**
 * How the self-test proves who it is. v1 signs every call with the shared key.
 * v2 signs two users in with Telegram Mini App init data (an asker and a
 * target: the flows need both) and acts as them with their tokens (see
 * selftest-v2.ts). Health and the unknown path apply to both.
 */
export type SelftestCredentials = { kind: 'v1', key: string } | { kind: 'v2', asker: string, target: string }

/** How long the long-poll check asks the server to hold (within the default MAX_WAIT_SECONDS). */
export const HOLD_SECONDS = 5
/** How long the held poll is left alone before the answer is sent: it must still be held then. */
export const SETTLE_MS = 500
/** The package the flow answers with, and the name the catalogue gives it. */
export const PACKAGE = 'com.exteragram.messenger'
/** How much of a body a failure shows. */
const SHOWN_BODY = 160

export interface Answer { status: number, headers: Headers, text: string, json: unknown, ms: number }

interface CallOptions { body?: string, headers?: Record<string, string>, waitSeconds?: number }

/** Plain HTTP calls that report what came back, whatever it was. */
export class Http {
  constructor (readonly baseUrl: string, readonly timeoutMs: number) {}

  async call (method: 'GET' | 'POST', path: string, { body, headers = {}, waitSeconds = 0 }: CallOptions = {}): Promise<Answer> {
    const started = performance.now()
    const limitMs = this.timeoutMs + waitSeconds * 1000
    let res: Response
    try {
      res = await fetch(this.baseUrl + path + (waitSeconds > 0 ? `?wait=${waitSeconds}` : ''),
        { method, body, headers, signal: AbortSignal.timeout(limitMs) })
    } catch (err) {
      if (err instanceof Error && err.name === 'TimeoutError') throw new CheckFailed(`${method} ${path}: no answer within ${limitMs / 1000} s`)
      throw new Unreachable(`cannot reach ${this.baseUrl} (${networkReason(err)})`)
    }
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: res.status, headers: res.headers, text, json, ms: Math.round(performance.now() - started) }
  }
}

/** `{"detail": "..."}` in a failure message, cut short: the body is the server's, and may be anything. */
export function shown (answer: Answer): string {
  const text = answer.text.replace(/\s+/g, ' ')
  return `${answer.status} ${text.length > SHOWN_BODY ? text.slice(0, SHOWN_BODY) + '...' : text}`
}

export function expectAnswer (what: string, answer: Answer, status: number, body?: unknown): void {
  if (answer.status === status && (body === undefined || isDeepStrictEqual(answer.json, body))) return
  const hint = answer.status === 403 && status !== 403
    ? ": the key is not this server's API_SECRET_KEY (--key / WHATCLIENT_KEY)"
    : answer.status === 401 && status !== 401 ? ': the server refused the session (see its detail)' : ''
  throw new CheckFailed(`${what} answered ${shown(answer)}, expected ${status}${body === undefined ? '' : ' ' + JSON.stringify(body)}${hint}`)
}

export function healthChecks (http: Http): Check[] {
  return [
    {
      name: 'liveness',
      run: async () => {
        const answer = await http.call('GET', '/healthz')
        expectAnswer('GET /healthz', answer, 200, { status: 'ok' })
        return `GET /healthz answered 200 in ${answer.ms} ms`
      }
    },
    {
      name: 'readiness',
      run: async () => {
        const answer = await http.call('GET', '/readyz')
        expectAnswer('GET /readyz', answer, 200)
        return `GET /readyz answered ${shown(answer)}`
      }
    }
  ]
}

export function unknownPathCheck (http: Http): Check {
  return {
    name: 'unknown path',
    run: async () => {
      const path = `/whatclient-selftest-${randomBytes(6).toString('hex')}`
      const answer = await http.call('GET', path)
      const detail = (answer.json as { detail?: unknown } | undefined)?.detail
      if (answer.status !== 404 || typeof detail !== 'string') throw new CheckFailed(`GET ${path} answered ${shown(answer)}, expected 404 {"detail": "..."}`)
      return `GET ${path} answered ${shown(answer)}`
    }
  }
}

/** A body as the field plugins send it: Python's json.dumps spacing, signed byte for byte. */
function pyJson (fields: Record<string, string | number>): string {
  return '{' + Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ') + '}'
}

/**
 * A random user id that belongs to nobody: Telegram's user ids fit in 52 bits,
 * these are 2^52 up to 2^53 - 1 (still an exact JSON number, so the server takes them).
 */
export function testUserId (): number {
  return 2 ** 52 + randomInt(2 ** 47) * 2 ** 5 + randomInt(2 ** 5)
}

export function v1Checks (http: Http, key: string): Check[] {
  // One requester and one target for the whole run: the test plays both.
  const requester = testUserId()
  const target = testUserId()
  const forgedKey = randomBytes(32).toString('hex')
  const askBody = pyJson({ requester_id: requester, target_id: target })

  const signedPost = async (path: string, body: string): Promise<Answer> =>
    http.call('POST', path, { body, headers: { 'content-type': 'application/json', 'x-signature': sign(key, body) } })
  const signedGet = async (path: string, waitSeconds = 0): Promise<Answer> =>
    http.call('GET', path, { headers: { 'x-signature': sign(key, decodeURIComponent(path)) }, waitSeconds })

  const ask = async (): Promise<string> => {
    const answer = await signedPost('/requestClient', askBody)
    expectAnswer('POST /requestClient', answer, 200)
    const requestId = (answer.json as { request_id?: unknown } | undefined)?.request_id
    if (typeof requestId !== 'string' || requestId === '') throw new CheckFailed(`POST /requestClient answered ${shown(answer)}, expected {"request_id": "..."}`)
    return requestId
  }
  const submit = async (requestId: string): Promise<Answer> => {
    const answer = await signedPost('/submitTaskResult', pyJson({ request_id: requestId, client_name: PACKAGE }))
    expectAnswer('POST /submitTaskResult', answer, 200, { status: 'success' })
    return answer
  }
  const resultPath = (requestId: string): string => `/getRequestResult/${encodeURIComponent(requestId)}`
  const expectCompleted = (answer: Answer): string => {
    expectAnswer('GET /getRequestResult', answer, 200)
    const result = answer.json as { status?: unknown, client_name?: unknown, package_name?: unknown } | undefined
    if (result?.status !== 'completed' || typeof result.client_name !== 'string' || (result.package_name !== undefined && result.package_name !== PACKAGE)) {
      throw new CheckFailed(`GET /getRequestResult answered ${shown(answer)}, expected {"status": "completed", "client_name": ...} for ${PACKAGE}`)
    }
    return result.client_name
  }

  return [
    {
      name: 'forged signature refused',
      run: async () => {
        const post = await http.call('POST', '/requestClient', { body: askBody, headers: { 'content-type': 'application/json', 'x-signature': sign(forgedKey, askBody) } })
        expectAnswer('POST /requestClient with a forged signature', post, 403, { detail: 'Invalid signature.' })
        const get = await http.call('GET', `/getTasks/${target}`, { headers: { 'x-signature': sign(forgedKey, `/getTasks/${target}`) } })
        expectAnswer('GET /getTasks with a forged signature', get, 403, { detail: 'Invalid signature.' })
        return 'POST /requestClient and GET /getTasks signed with another key answered 403 "Invalid signature."'
      }
    },
    {
      name: 'unsigned call refused',
      run: async () => {
        const post = await http.call('POST', '/requestClient', { body: askBody, headers: { 'content-type': 'application/json' } })
        expectAnswer('POST /requestClient without a signature', post, 403, { detail: 'X-Signature header is missing.' })
        const get = await http.call('GET', `/getTasks/${target}`)
        expectAnswer('GET /getTasks without a signature', get, 403, { detail: 'X-Signature header is missing.' })
        return 'POST /requestClient and GET /getTasks without X-Signature answered 403 "X-Signature header is missing."'
      }
    },
    {
      name: 'full flow',
      run: async () => {
        const requestId = await ask()
        const tasks = await signedGet(`/getTasks/${target}`)
        expectAnswer('GET /getTasks', tasks, 200)
        const listed = (tasks.json as { tasks?: unknown } | undefined)?.tasks
        if (!Array.isArray(listed) || !listed.includes(requestId)) throw new CheckFailed(`GET /getTasks answered ${shown(tasks)}, expected a list with the new request`)
        await submit(requestId)
        const name = expectCompleted(await signedGet(resultPath(requestId)))
        const again = await signedGet(resultPath(requestId))
        expectAnswer('GET /getRequestResult a second time', again, 200, { status: 'expired' })
        return `requestClient, getTasks, submitTaskResult, getRequestResult (signed as field plugins sign): ${PACKAGE} came back as "${name}", once`
      }
    },
    {
      name: 'long-poll',
      run: async () => {
        const requestId = await ask()
        let heldFor: number | undefined
        const held = signedGet(resultPath(requestId), HOLD_SECONDS).then((answer) => { heldFor = answer.ms; return answer })
        // A failure of the held call is reported below, where it is awaited.
        held.catch(() => {})
        await sleep(SETTLE_MS)
        if (heldFor !== undefined) {
          throw new CheckFailed(`GET /getRequestResult?wait=${HOLD_SECONDS} answered after ${heldFor} ms, before anything happened: ` +
            `${shown(await held)} (does the server, or a proxy in front of it, hold long-polls?)`)
        }
        const sent = performance.now()
        const submitted = await submit(requestId)
        const answer = await held
        const releasedMs = Math.round(performance.now() - sent)
        expectCompleted(answer)
        return `a held getRequestResult answered ${releasedMs} ms after the submit was sent (the submit itself took ${submitted.ms} ms)`
      }
    }
  ]
}
