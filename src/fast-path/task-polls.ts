/**
 * The task poll, answered in front of Fastify. It is the call every online
 * plugin makes over and over, and nearly always its answer is "nothing for
 * you": the framework's per-request machinery (routing, hooks, validation,
 * serialisation, reply objects) costs more than the poll itself, in CPU for
 * a poll answered at once and in memory for one held (`?wait`) for as long
 * as it waits.
 *
 * This path takes one kind of call only: a plain `GET /getTasks/<id>` with a
 * valid v1 signature, or a plain `GET /v2/tasks` with a valid session token,
 * no body, and either no query or `?wait=<whole seconds>` (1 to
 * MAX_WAIT_SECONDS, as the plugins send it). It answers such a poll itself
 * only when it finds no task, at once or when its hold ends. Anything else
 * goes to Fastify, which answers it as it always has: untouched, an unusual
 * request or query (`?wait=0` and fractions included), a bad or missing
 * signature or token, the server closing; handed on after the fast path took
 * it, a poll that finds tasks (with them: the routes answer those, and a held
 * one is handed on without its `?wait`), a refused hold (a cap on held
 * polls), a store error. So every error shape and every non-empty reply has
 * one implementation, the routes'; what this file repeats is the check that
 * leads to the empty reply, and that reply's bytes (test/fast-path compares
 * them with the routes' own, byte for byte).
 *
 * A request handed on after its store call or its hold keeps what the fast
 * path learned (handed-on.ts): it arrived before any close that began
 * meanwhile, the tasks it found are answered and a failed store call is
 * answered as such (neither call is made twice), its token or v1 signature
 * is not checked again (a token may expire during the hold), and it is
 * counted from its arrival.
 *
 * It is off while every request is logged (LOG_LEVEL=debug or trace): those
 * lines are written by the framework's request hooks.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { HmacKey } from '../crypto/hmac.js'
import { wrapRequestListener, type RequestHandler } from '../http-servers.js'
import { verify } from '../crypto/signature.js'
import type { Session, SessionTokens } from '../identity/tokens.js'
import type { Held, Outcome, Relay } from '../relay/relay.js'
import { roundMs } from '../request-stats.js'
import { holdResponse, unwatchResponse } from '../routes/held-reply.js'
import { bearerToken } from '../routes/v2/authenticate.js'
import type { Task } from '../store/task-store.js'
import { asError, markHandedOn, type FoundTasks, type HandOn } from './handed-on.js'

export interface TaskPollOptions {
  relay: Relay
  /** The v1 key; undefined when v1 is off (its polls then all go to Fastify). */
  v1Key: HmacKey | undefined
  /** The v2 session tokens. */
  tokens: SessionTokens
  /** Counts an answered request where the routes' hooks would have (log summaries, metrics). */
  record: (method: string, route: string, statusCode: number, ms: number) => void
  /** MAX_WAIT_SECONDS: a longer `?wait` goes to the routes (which refuse it). */
  maxWaitSeconds: number
}

const V1_PREFIX = '/getTasks/'
const V1_ROUTE = '/getTasks/:user_id'
const V2_PATH = '/v2/tasks'
/** The reply the routes give to an empty list (their schema's serialiser, the same bytes). */
const EMPTY = Buffer.from('{"tasks":[]}')
const HEADERS = { 'content-type': 'application/json; charset=utf-8', 'content-length': EMPTY.length }
/** A held poll answered while the server closes says so (as the routes' held replies do). */
const CLOSING_HEADERS = { ...HEADERS, connection: 'close' }
const WAIT = 'wait='
/** Digits read of a `?wait` at most (MAX_WAIT_SECONDS is at most 300; a longer wait is then over it). */
const MAX_WAIT_DIGITS = 6
const ZERO = 0x30
const NINE = 0x39
/** Digits in Number.MAX_SAFE_INTEGER: a longer id is refused by the route (or is not an id). */
const MAX_ID_DIGITS = 16

/** The user id of `/getTasks/<id>` when it is one the route accepts (plain decimal, 1..2^53-1), else 0. */
function v1UserId (url: string): number {
  const length = url.length - V1_PREFIX.length
  if (length < 1 || length > MAX_ID_DIGITS || !url.startsWith(V1_PREFIX)) return 0
  let id = 0
  for (let i = V1_PREFIX.length; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c < ZERO || c > NINE) return 0
    id = id * 10 + (c - ZERO)
  }
  // A leading zero is not a plain decimal (the route says 422).
  return url.charCodeAt(V1_PREFIX.length) === ZERO || !Number.isSafeInteger(id) ? 0 : id
}

/**
 * The hold of `?wait=<seconds>` in ms, from the query after its `?`: a plain decimal integer
 * from 1 to `maxSeconds`, as the plugins send it; 0 for any other query (the routes take it:
 * `?wait=0`, fractions, other or repeated parameters, a wait they refuse).
 */
function heldMs (query: string, maxSeconds: number): number {
  const length = query.length - WAIT.length
  if (length < 1 || length > MAX_WAIT_DIGITS || !query.startsWith(WAIT) || query.charCodeAt(WAIT.length) === ZERO) return 0
  let seconds = 0
  for (let i = WAIT.length; i < query.length; i++) {
    const c = query.charCodeAt(i)
    if (c < ZERO || c > NINE) return 0
    seconds = seconds * 10 + (c - ZERO)
  }
  return seconds <= maxSeconds ? seconds * 1000 : 0
}

/** Whether this request is plain enough for the fast path: GET, a Host, no body. */
function plain (request: IncomingMessage): boolean {
  const headers = request.headers
  return request.method === 'GET' && headers.host !== undefined &&
    headers['content-length'] === undefined && headers['transfer-encoding'] === undefined
}

/** When a held poll began (for the duration its request is counted with), kept on its response. */
const STARTED = Symbol('whatclient held by the fast path since')
/** The session of a held v2 poll, for the routes if it is handed on (handed-on.ts). */
const CALLER = Symbol('whatclient held for the session')
type HeldResponse = ServerResponse & { [STARTED]?: number, [CALLER]?: Session }

/** Where the fast path's held polls end: one per route, shared by its holds, told each hold's response. */
interface HeldOutcomes {
  v1: Outcome<string[], HeldResponse>
  v2: Outcome<Task[], HeldResponse>
}

export class TaskPolls {
  #options: TaskPollOptions | undefined = undefined

  /**
   * Puts the fast path in front of Fastify's request listener on its `server`
   * (call it before any other 'request' listener is added).
   */
  install (server: Server): void {
    wrapRequestListener(server, (framework) => this.handler(framework))
  }

  /** Starts answering (until then, and when never called, every request goes to Fastify). */
  enable (options: TaskPollOptions): void {
    this.#options = options
  }

  /** The server's request handler: the fast path in front of `framework`. */
  handler (framework: RequestHandler): RequestHandler {
    const held: HeldOutcomes = {
      v1: this.#heldOutcome(framework, V1_ROUTE, true, (tasks: string[]) => ({ poll: 'v1', tasks })),
      v2: this.#heldOutcome(framework, V2_PATH, false, (tasks: Task[]) => ({ poll: 'v2', tasks }))
    }
    return (request, response) => {
      if (!this.#serve(request, response, framework, held)) framework(request, response)
    }
  }

  /** Takes the request (and answers it, or hands it on later) or returns false at once. */
  #serve (request: IncomingMessage, response: ServerResponse, framework: RequestHandler, held: HeldOutcomes): boolean {
    const options = this.#options
    if (options === undefined || !plain(request) || options.relay.isClosing()) return false
    const url = request.url as string
    const query = url.indexOf('?')
    let path = url
    let waitMs = 0
    if (query !== -1) {
      waitMs = heldMs(url.slice(query + 1), options.maxWaitSeconds)
      if (waitMs === 0) return false
      path = url.slice(0, query)
    }
    const start = performance.now()
    if (path === V2_PATH) {
      const header = request.headers.authorization
      const token = header === undefined ? undefined : bearerToken(header)
      if (token === undefined) return false
      let caller: Session
      try {
        caller = options.tokens.verify(token)
      } catch {
        return false
      }
      if (waitMs > 0) {
        hold(response, start, caller, options.relay.holdInbox(caller, waitMs, held.v2, response))
        return true
      }
      options.relay.inbox(caller).then((tasks) => {
        if (tasks.length === 0) answerEmpty(request, response, options, V2_PATH, start)
        else handOn(request, response, framework, { error: undefined, found: { poll: 'v2', tasks }, start, caller, signed: false })
      }, (error: unknown) => { handOn(request, response, framework, { error: asError(error), found: undefined, start, caller, signed: false }) })
      return true
    }
    if (options.v1Key === undefined) return false
    const userId = v1UserId(path)
    const signature = request.headers['x-signature']
    // The signature is over the path: here, with no percent sign, the URL up to its query.
    if (userId === 0 || typeof signature !== 'string' || !verify(options.v1Key, path, signature)) return false
    if (waitMs > 0) {
      hold(response, start, undefined, options.relay.holdTasks(userId, waitMs, held.v1, response))
      return true
    }
    options.relay.tasksFor(userId).then((tasks) => {
      if (tasks.length === 0) answerEmpty(request, response, options, V1_ROUTE, start)
      else handOn(request, response, framework, { error: undefined, found: { poll: 'v1', tasks }, start, caller: undefined, signed: true })
    }, (error: unknown) => { handOn(request, response, framework, { error: asError(error), found: undefined, start, caller: undefined, signed: true }) })
    return true
  }

  /**
   * How a held poll of `route` ends: the empty list answered here; tasks, or a failure
   * (a cap on held polls, a store error), handed to the routes, which answer them.
   * `found` tags the tasks with the route's kind of poll (handed-on.ts); `signed`:
   * the route's polls are v1 ones, whose signature was checked before they were held.
   */
  #heldOutcome<T extends unknown[]> (framework: RequestHandler, route: string, signed: boolean, found: (tasks: T) => FoundTasks): Outcome<T, HeldResponse> {
    return {
      answer: (response, tasks) => {
        unwatchResponse(response)
        const request = response.req
        const options = this.#options as TaskPollOptions
        const start = response[STARTED] as number
        if (tasks.length === 0) return answerEmpty(request, response, options, route, start, options.relay.isClosing())
        // The routes answer the tasks found as they would a poll without a wait (at once).
        const url = request.url as string
        const query = url.indexOf('?')
        if (query !== -1) request.url = url.slice(0, query)
        handOn(request, response, framework, { error: undefined, found: found(tasks), start, caller: response[CALLER], signed })
      },
      fail: (response, error) => {
        unwatchResponse(response)
        handOn(response.req, response, framework, { error: asError(error), found: undefined, start: response[STARTED] as number, caller: response[CALLER], signed })
      }
    }
  }
}

function hold (response: HeldResponse, start: number, caller: Session | undefined, held: Held): void {
  response[STARTED] = start
  if (caller !== undefined) response[CALLER] = caller
  holdResponse(response, held)
}

function handOn (request: IncomingMessage, response: ServerResponse, framework: RequestHandler, record: HandOn): void {
  // A client gone while its poll found tasks: nobody to answer them to (as answerEmpty).
  if (record.found !== undefined && request.socket.destroyed) return
  markHandedOn(request, record)
  framework(request, response)
}

function answerEmpty (request: IncomingMessage, response: ServerResponse, options: TaskPollOptions, route: string, start: number, closing = false): void {
  // A client that left is neither answered nor counted (the routes count only what they answer).
  if (request.socket.destroyed) return
  response.writeHead(200, closing ? CLOSING_HEADERS : HEADERS).end(EMPTY)
  options.record('GET', route, 200, roundMs(performance.now() - start))
}
