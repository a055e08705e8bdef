/**
 * WhatClientV2: the v2 protocol, "verified identity". The client signs in
 * with Telegram Mini App init data (`POST /v2/session`) and every call then
 * acts as that user through a bearer token: no call names the caller, and
 * only the token's user can read their answers or see questions about them.
 *
 * A class of its own beside the v1 `WhatClient` (they share the HTTP core and the polling):
 * in v1 every call names its users and anyone with the key may act for
 * anyone; in v2 the session is the user. The same method names would mean
 * different things on one class (`answerTasks(me, name)` against
 * `answerTasks(name)`), and a v1 key and a v2 session mixed on one object
 * would invite acting as someone the session is not.
 *
 * Asks are sealed by default (docs/protocol.md, "Sealed answers"): a one-use key
 * pair per ask, its private half kept in this process's memory until the
 * answer is read or the request expires (asked.ts); the answer is opened here
 * and its app named with the server's catalogue (catalogue.ts).
 *
 * @example
 * ```ts
 * const wc = new WhatClientV2({ baseUrl: 'https://whatclient.example.org', initData: () => askTelegramForInitData() })
 * const requestId = await wc.ask(targetId)
 * const outcome = await wc.waitForAnswer(requestId, { timeoutMs: 120_000 })
 * ```
 */
import { AskedRequests } from './asked.js'
import { backoffDelay, sleep, untilAborted } from './backoff.js'
import { CatalogueCache, type Catalogue } from './catalogue.js'
import { httpCoreFor, type WaitOptions, type WhatClientOptions } from './client.js'
import { WhatClientError } from './errors.js'
import { isRetryableRefusal, malformed, type HttpCall, type HttpCore, type HttpReply } from './http.js'
import { isPackageName } from './protocol.js'
import { openAnswer, sealAnswer, SealingError, type SealedAnswer } from './sealing.js'
import { aborted, Polling, submitted } from './serving.js'

export interface WhatClientV2Options extends Omit<WhatClientOptions, 'apiKey'> {
  /**
   * Supplies fresh init data (Telegram Mini App init data of the server's
   * bot) whenever the client must sign in: before the first call if
   * `signIn` was not called, once the session has expired, and once after a
   * call is refused with 401 (the server restarted with a new key, say).
   * Init data is single use: return new data each time.
   */
  initData?: () => string | Promise<string>
}

/** Who the client acts as, and until when (unix seconds). */
export interface Session {
  userId: number
  expiresAt: number
}

/** What `GET /v2/info` says about a server. */
export interface ServerInfo {
  version: number
  signIn: boolean
  botUsername: string | null
  webappUrl: string | null
  v1Enabled: boolean
  maxWaitSeconds: number
}

/** A pending question about the signed-in user. */
export interface Task {
  requestId: string
  /** The asker, when they chose to be named and signed in; else null. */
  requesterId: number | null
  /** Asked by a signed-in user (v2); false for a question through the v1 key. */
  verified: boolean
  /** Unix seconds. */
  expiresAt: number
  /** Present when the asker wants the answer sealed to this key. */
  publicKey: string | undefined
}

export interface AskOptions {
  /** Keep the asker's id from the target (default true). The server always knows. */
  anonymous?: boolean
  /** Ask for a sealed answer that only this client can open (default true). */
  sealed?: boolean
  signal?: AbortSignal
}

export interface CompletedAnswer {
  status: 'completed'
  /** The target app's package name. In a sealed answer no server checked it: show it escaped. */
  packageName: string
  /** Its display name: the server's for a plain answer; from the catalogue for a sealed one (the package name itself if the catalogue cannot be read). */
  clientName: string
  /** Answered by a signed-in target (v2); false when the answer came through the v1 key. */
  verified: boolean
  /** The answer came sealed and was opened here. */
  sealed: boolean
}

export type AnswerState = { status: 'pending' } | CompletedAnswer | { status: 'declined' } | { status: 'expired' }

export type AnswerOutcome = CompletedAnswer | { status: 'declined' } | { status: 'expired' } | { status: 'timeout' }

/** What a target's policy does with a task. */
export type TaskDecision = 'answer' | 'decline'

export interface AnswerTasksOptions {
  /** Answer or decline each task (default: answer all). Declining tells the asker at once. */
  policy?: (task: Task) => TaskDecision | Promise<TaskDecision>
  signal?: AbortSignal
  /** Called after each task answered or declined. */
  onAnswered?: (task: Task, action: 'answered' | 'declined') => void
}

export interface PollOptions {
  /** How long the server may hold the call (long-poll), in seconds (default 0). */
  waitSeconds?: number
  signal?: AbortSignal
}

/** What `GET /v2/requests/{id}` may answer; anything else is no answer at all (a proxy's page), not an expiry. */
const ANSWER_STATUSES = new Set<unknown>(['pending', 'completed', 'declined', 'expired'])

/** The one sign-in under way: the calls that need one wait for it together. */
interface SharedSignIn {
  done: Promise<void>
  /** Aborts it (its backoff, its call) once the last call waiting for it has given up. */
  stop: AbortController
  waiters: number
}

export class WhatClientV2 {
  readonly #http: HttpCore
  readonly #initData: (() => string | Promise<string>) | undefined
  readonly #polling: Polling
  readonly #asked = new AskedRequests()
  readonly #catalogue: CatalogueCache
  #token: string | undefined
  #session: Session | undefined
  /** The one sign-in under way (calls that need one share it). */
  #signingIn: SharedSignIn | undefined
  /** Sign-ins after a 401 since a token last worked: each waits longer, so a server that refuses every token is not hammered. */
  #renewals = 0

  constructor (options: WhatClientV2Options) {
    this.#http = httpCoreFor(options)
    this.#initData = options.initData
    this.#polling = new Polling(this.#http, options)
    this.#catalogue = new CatalogueCache(this.#http)
  }

  /** The signed-in user and the session's expiry; undefined before the first sign-in. */
  get session (): Session | undefined {
    return this.#session === undefined ? undefined : { ...this.#session }
  }

  /** `GET /v2/info`: whether the server signs anyone in, and with which bot. */
  async info (signal?: AbortSignal): Promise<ServerInfo> {
    const { body } = await this.#http.send({ method: 'GET', path: '/v2/info', signal })
    const b = (body ?? {}) as Record<string, unknown>
    return {
      version: typeof b.version === 'number' ? b.version : 0,
      signIn: b.sign_in === true,
      botUsername: typeof b.bot_username === 'string' ? b.bot_username : null,
      webappUrl: typeof b.webapp_url === 'string' ? b.webapp_url : null,
      v1Enabled: b.v1_enabled === true,
      maxWaitSeconds: typeof b.max_wait_seconds === 'number' ? b.max_wait_seconds : 0
    }
  }

  /**
   * Signs in with init data (or, without it, with the `initData` callback's).
   * Throws WhatClientError 401 when the server refuses it (not its bot's,
   * stale, already used), 503 when the server has no sign-in, and 401 too,
   * keeping the session it has, when the client is signed in already and the
   * init data is another user's: a client acts for one user (its questions'
   * keys are that user's); make another client for another user.
   */
  async signIn (initData?: string, signal?: AbortSignal): Promise<Session> {
    await this.#signInWith(initData, signal, this.#session?.userId)
    return this.session as Session
  }

  /** Asks which app `targetId` runs; returns the request id. Asking again while it is pending returns the same id. */
  async ask (targetId: number, { anonymous = true, sealed = true, signal }: AskOptions = {}): Promise<string> {
    if (!Number.isSafeInteger(targetId) || targetId < 1) throw new RangeError('a target is a Telegram user id, an integer in 1..2^53-1')
    const keyPair = sealed ? await this.#asked.keyFor(targetId, anonymous) : undefined
    const payload = keyPair === undefined
      ? { target_id: targetId, anonymous }
      : { target_id: targetId, anonymous, public_key: keyPair.publicKey }
    let reply: HttpReply
    try {
      reply = await this.#authed({ method: 'POST', path: '/v2/requests', body: JSON.stringify(payload), signal })
    } catch (err) {
      // Refused for good: nothing was made with this key. Otherwise (network, 5xx, quota) it waits for a retry.
      if (keyPair !== undefined && err instanceof WhatClientError && !isRetryableRefusal(err)) this.#asked.refused(targetId, anonymous, keyPair)
      throw err
    }
    const { request_id: requestId, expires_at: expiresAt } = (reply.body ?? {}) as { request_id?: unknown, expires_at?: unknown }
    if (typeof requestId !== 'string' || requestId === '') throw malformed(reply, 'POST /v2/requests', 'a request_id')
    const expiry = typeof expiresAt === 'number' ? expiresAt : Date.now() / 1000
    // The request's lifetime by the server's own clock (its Date header), so that a clock here that runs ahead does not drop the key early.
    const serverNow = Date.parse(reply.headers.get('date') ?? '')
    const lifetimeMs = expiry * 1000 - (Number.isNaN(serverNow) ? Date.now() : serverNow)
    this.#asked.asked(requestId, expiry, lifetimeMs, keyPair === undefined ? undefined : { targetId, anonymous, keyPair })
    return requestId
  }

  /** When a request this client asked expires (unix seconds), as the server said; undefined once it has ended here. */
  expiresAt (requestId: string): number | undefined {
    return this.#asked.get(requestId)?.expiresAt
  }

  /**
   * One poll of a request's answer (held up to `waitSeconds`). A sealed
   * answer is opened here; a sealed request answered in the clear, or an
   * answer that does not open, throws SealingError. Anything but pending is
   * delivered once: the request is gone from the server afterwards.
   */
  async checkAnswer (requestId: string, { waitSeconds = 0, signal }: PollOptions = {}): Promise<AnswerState> {
    return await this.#check(requestId, waitSeconds, signal, signal)
  }

  /**
   * checkAnswer, whose call ends when `callSignal` aborts (a wait's deadline, or the
   * caller's abort): once an answer is in hand, only the caller's own `signal` may
   * still lose it (naming its app), as it is delivered only once.
   */
  async #check (requestId: string, waitSeconds: number, callSignal: AbortSignal | undefined, signal: AbortSignal | undefined): Promise<AnswerState> {
    const path = `/v2/requests/${encodeURIComponent(requestId)}`
    const reply = await this.#polling.longPoll.poll(waitSeconds, async (wait) => await this.#authed({ method: 'GET', path, waitSeconds: wait, signal: callSignal }))
    const body = (reply.body ?? {}) as Record<string, unknown>
    if (body.status === 'pending') return { status: 'pending' }
    // Thrown before the request is forgotten: a sealed ask's key must outlive a reply that said nothing.
    if (!ANSWER_STATUSES.has(body.status)) throw malformed(reply, 'GET /v2/requests', 'a status')
    try {
      if (body.status === 'completed') return await this.#completed(requestId, body, reply, callSignal, signal)
      return body.status === 'declined' ? { status: 'declined' } : { status: 'expired' }
    } finally {
      this.#asked.done(requestId)
    }
  }

  /**
   * Polls until the answer comes, the target declines, the request expires,
   * or `timeoutMs` passes (then `{ status: 'timeout' }`, at about `timeoutMs`
   * even while a call hangs or is retried, and the request may still be waited
   * for). Throws the abort reason if `signal` aborts.
   */
  async waitForAnswer (requestId: string, options: WaitOptions = {}): Promise<AnswerOutcome> {
    return await this.#polling.waitFor((waitSeconds, callSignal) => this.#check(requestId, waitSeconds, callSignal, options.signal), options)
  }

  /** One poll of the questions about the signed-in user, oldest first (held up to `waitSeconds`). */
  async tasks ({ waitSeconds = 0, signal }: PollOptions = {}): Promise<Task[]> {
    const reply = await this.#polling.longPoll.poll(waitSeconds, async (wait) => await this.#authed({ method: 'GET', path: '/v2/tasks', waitSeconds: wait, signal }))
    const listed = (reply.body as { tasks?: unknown } | undefined)?.tasks
    if (!Array.isArray(listed)) throw malformed(reply, 'GET /v2/tasks', 'a task list')
    return listed.flatMap((entry): Task[] => {
      const t = (entry ?? {}) as Record<string, unknown>
      if (typeof t.request_id !== 'string' || t.request_id === '') return []
      return [{
        requestId: t.request_id,
        requesterId: typeof t.requester_id === 'number' && Number.isSafeInteger(t.requester_id) ? t.requester_id : null,
        verified: t.verified === true,
        expiresAt: typeof t.expires_at === 'number' ? t.expires_at : 0,
        publicKey: typeof t.public_key === 'string' ? t.public_key : undefined
      }]
    })
  }

  /**
   * Answers one task with a package name: sealed to the asker's key when the
   * task carries one, plain otherwise. False when the server no longer has
   * it (answered, expired). Throws RangeError for a name that is not an
   * Android package name, SealingError for a key no one can seal to.
   */
  async answer (task: Task, packageName: string, signal?: AbortSignal): Promise<boolean> {
    if (!isPackageName(packageName)) throw new RangeError('not an Android package name (segments of letters, digits and _, joined by dots)')
    const answer = task.publicKey === undefined
      ? { package_name: packageName }
      : { sealed: await sealAnswer(task.publicKey, task.requestId, packageName) }
    return await this.#submit({ request_id: task.requestId, ...answer }, signal)
  }

  /** Declines a task: the asker hears at once that no answer will come. False when the server no longer has it. */
  async decline (task: Task | string, signal?: AbortSignal): Promise<boolean> {
    return await this.#submit({ request_id: typeof task === 'string' ? task : task.requestId, declined: true }, signal)
  }

  /**
   * Serves the signed-in user's tasks with `packageName` until `signal`
   * aborts: each is answered or declined as `policy` says (a task whose key
   * cannot be sealed to is declined). Network trouble and server errors never
   * end it: it backs off and goes on. A refusal that retrying cannot fix (a
   * 401 that signing in again did not cure, a 422) is thrown.
   */
  async answerTasks (packageName: string, options: AnswerTasksOptions = {}): Promise<void> {
    if (!isPackageName(packageName)) throw new RangeError('not an Android package name (segments of letters, digits and _, joined by dots)')
    await this.#serve(packageName, options)
  }

  /** Declines every question about the signed-in user until `signal` aborts (as answerTasks with a policy that always declines). */
  async declineTasks (options: Omit<AnswerTasksOptions, 'policy'> = {}): Promise<void> {
    await this.#serve(undefined, { ...options, policy: () => 'decline' })
  }

  async #serve (packageName: string | undefined, options: AnswerTasksOptions): Promise<void> {
    const { signal, policy } = options
    await this.#polling.serve(async (waitSeconds) => await this.tasks({ waitSeconds, signal }), async (task) => {
      const action = await this.#handle(task, packageName, policy, signal)
      if (action === undefined) return false
      options.onAnswered?.(task, action)
      return true
    }, signal)
  }

  /** The server's package -> display name catalogue (cached, revalidated with its ETag). */
  async catalogue (signal?: AbortSignal): Promise<Catalogue> {
    return await this.#catalogue.get(signal)
  }

  async #handle (task: Task, packageName: string | undefined, policy: AnswerTasksOptions['policy'], signal: AbortSignal | undefined): Promise<'answered' | 'declined' | undefined> {
    if (packageName === undefined || (await policy?.(task) ?? 'answer') === 'decline') return await this.decline(task, signal) ? 'declined' : undefined
    try {
      return await this.answer(task, packageName, signal) ? 'answered' : undefined
    } catch (err) {
      // The asker's key is not a usable X25519 key: no answer can be sealed to it, so say no at once.
      if (err instanceof SealingError && err.code === 'WC_ERR_SEAL_KEY') return await this.decline(task, signal) ? 'declined' : undefined
      throw err
    }
  }

  async #submit (payload: object, signal: AbortSignal | undefined): Promise<boolean> {
    return await submitted(this.#authed({ method: 'POST', path: '/v2/answers', body: JSON.stringify(payload), signal }))
  }

  async #completed (requestId: string, body: Record<string, unknown>, reply: HttpReply, callSignal: AbortSignal | undefined, signal: AbortSignal | undefined): Promise<CompletedAnswer> {
    const verified = body.verified === true
    const keyPair = this.#asked.get(requestId)?.keyPair
    if (keyPair !== undefined) {
      // Asked sealed: only a sealed answer is accepted (openAnswer refuses a missing one), never a name in the clear.
      const packageName = await openAnswer(keyPair.privateKey, body.sealed as SealedAnswer, requestId)
      // The target wrote it, and the server never saw it: only a package name is handed on (as the plugin does).
      if (!isPackageName(packageName)) throw new SealingError('WC_ERR_SEAL_PADDING', 'The sealed answer opened, but not to a package name: the target broke the protocol.')
      return { status: 'completed', packageName, clientName: await this.#nameOf(packageName, callSignal, signal), verified, sealed: true }
    }
    if (body.sealed !== undefined) throw new SealingError('WC_ERR_SEAL_OPEN', 'A sealed answer came for a request this client holds no key for.')
    if (typeof body.package_name !== 'string') throw malformed(reply, 'GET /v2/requests', 'a package_name')
    const clientName = typeof body.client_name === 'string' ? body.client_name : await this.#nameOf(body.package_name, callSignal, signal)
    return { status: 'completed', packageName: body.package_name, clientName, verified, sealed: false }
  }

  /**
   * The display name of a package; never fails once an answer is in hand (it is delivered
   * only once), unless the caller's `signal` aborts. `callSignal` (a wait's deadline) only
   * cuts the catalogue short: the name is then the stale catalogue's, or the package's.
   */
  async #nameOf (packageName: string, callSignal: AbortSignal | undefined, signal: AbortSignal | undefined): Promise<string> {
    try {
      return (await this.#catalogue.get(callSignal)).nameOf(packageName)
    } catch (err) {
      if (aborted(signal)) throw err
      const stale = this.#catalogue.stale
      return stale === undefined ? packageName : stale.nameOf(packageName)
    }
  }

  /**
   * A call as the signed-in user. Signs in first when there is no session,
   * or it has expired and the callback can renew it; after a 401 signs in
   * again through the callback once, and repeats the call once.
   */
  async #authed (call: Omit<HttpCall, 'headers'>): Promise<HttpReply> {
    // Before any sign-in starts: an aborted call must not leave one behind that no one awaits.
    call.signal?.throwIfAborted()
    let token = await this.#currentToken(call.signal)
    for (let renewed = false; ; renewed = true) {
      try {
        const reply = await this.#http.send({ ...call, headers: { authorization: `Bearer ${token}` } })
        this.#renewals = 0
        return reply
      } catch (err) {
        if (renewed || this.#initData === undefined || !(err instanceof WhatClientError && err.status === 401)) throw err
        token = await this.#renew(token, err, call.signal)
      }
    }
  }

  async #currentToken (signal: AbortSignal | undefined): Promise<string> {
    await this.#joinSignIn(signal)
    const expired = this.#session !== undefined && this.#session.expiresAt * 1000 <= Date.now()
    if (this.#token !== undefined && !(expired && this.#initData !== undefined)) return this.#token
    // As the server would refuse the call: a 401, before asking it.
    if (this.#initData === undefined) throw new WhatClientError(401, 'not signed in: call signIn(initData) first, or give the client an initData callback')
    this.#startSignIn(0)
    await this.#joinSignIn(signal)
    return this.#token as string
  }

  /** A fresh token after `stale` was refused; concurrent refusals share one sign-in. */
  async #renew (stale: string, refusal: WhatClientError, signal: AbortSignal | undefined): Promise<string> {
    if (this.#signingIn === undefined) {
      // Another call signed in again since this one was sent.
      if (this.#token !== undefined && this.#token !== stale) return this.#token
      const delayMs = this.#renewals === 0 ? 0 : backoffDelay(this.#renewals - 1, this.#http.retry)
      this.#renewals++
      this.#http.onRetry?.(refusal, delayMs)
      this.#startSignIn(delayMs)
    }
    await this.#joinSignIn(signal)
    return this.#token as string
  }

  /** Signs in with the callback's init data after `delayMs`, as the same user if there was one; shared by every call that waits for it. */
  #startSignIn (delayMs: number): void {
    if (this.#signingIn !== undefined) return
    const stop = new AbortController()
    const shared: SharedSignIn = { stop, waiters: 0, done: Promise.resolve() }
    shared.done = (async () => {
      await sleep(delayMs, stop.signal)
      stop.signal.throwIfAborted()
      await this.#signInWith(undefined, stop.signal, this.#session?.userId)
    })().finally(() => { if (this.#signingIn === shared) this.#signingIn = undefined })
    // Its waiters hear how it failed; one cancelled with none left must not go unhandled.
    shared.done.catch(() => {})
    this.#signingIn = shared
  }

  /**
   * Waits for the shared sign-in, if one is under way, until `signal` aborts. The
   * last waiter to give up cancels it: nobody wants it then, and left running (its
   * backoff, its retried calls) it would keep the process alive for no one.
   */
  async #joinSignIn (signal: AbortSignal | undefined): Promise<void> {
    const shared = this.#signingIn
    if (shared === undefined) return
    shared.waiters++
    try {
      await untilAborted(shared.done, signal)
    } finally {
      if (--shared.waiters === 0 && aborted(signal)) {
        // A call made from now on starts a sign-in of its own rather than join a cancelled one.
        if (this.#signingIn === shared) this.#signingIn = undefined
        shared.stop.abort(signal?.reason)
      }
    }
  }

  async #freshInitData (): Promise<string> {
    if (this.#initData === undefined) throw new TypeError('signIn needs init data: pass it, or give the client an initData callback')
    const data = await this.#initData()
    if (typeof data !== 'string' || data === '') throw new TypeError('the initData callback gave no init data')
    return data
  }

  /**
   * POST /v2/session with `initData`, or the callback's, fresh for every attempt (a
   * retried 503 may follow a write that landed: the same init data would then be
   * refused as a replay). `sameUser` (a client signed in already) refuses a session for
   * anyone else: before sending, when the init data names its user, so that init data
   * single-use on the server is not spent for nothing; after, by the reply, in any case.
   */
  async #signInWith (initData: string | undefined, signal: AbortSignal | undefined, sameUser?: number): Promise<void> {
    const checked = (data: string): string => {
      const named = initDataUser(data)
      if (sameUser !== undefined && named !== undefined && named !== sameUser) throw anotherUser()
      return JSON.stringify({ init_data: data })
    }
    const body = initData !== undefined ? checked(initData) : async () => checked(await this.#freshInitData())
    const reply = await this.#http.send({ method: 'POST', path: '/v2/session', body, signal })
    const { token, user_id: userId, expires_at: expiresAt } = (reply.body ?? {}) as Record<string, unknown>
    if (typeof token !== 'string' || token === '' || typeof userId !== 'number' || !Number.isSafeInteger(userId) || typeof expiresAt !== 'number') {
      throw malformed(reply, 'POST /v2/session', 'a token, user_id and expires_at')
    }
    if (sameUser !== undefined && userId !== sameUser) throw anotherUser()
    this.#token = token
    this.#session = { userId, expiresAt }
  }
}

const anotherUser = (): WhatClientError =>
  new WhatClientError(401, 'the init data signs in another user than this client\'s session: refused, the client still acts as its user')

/** The user id init data names (its `user` field, JSON), or undefined when it names none that can be read: the server then decides. */
function initDataUser (initData: string): number | undefined {
  try {
    const user = JSON.parse(new URLSearchParams(initData).get('user') ?? '') as { id?: unknown }
    return typeof user?.id === 'number' && Number.isSafeInteger(user.id) ? user.id : undefined
  } catch {
    return undefined
  }
}
