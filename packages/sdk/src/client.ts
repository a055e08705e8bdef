/**
 * The WhatClient SDK: signed v1 calls, plus the loops a requester and a target
 * need. It long-polls, and against a server that answers at once (a v1 server
 * ignores `?wait=`) it keeps at least `pollIntervalMs` between polls, so it
 * never busy-loops. Network errors, 429 and 5xx are retried with backoff and
 * jitter; other 4xx are thrown as WhatClientError.
 *
 * @example
 * ```ts
 * const wc = new WhatClient({ baseUrl: 'http://127.0.0.1:8000', apiKey: 'key' })
 * const id = await wc.requestClient(me, target)
 * const result = await wc.waitForResult(id, { timeoutMs: 120_000 })
 * ```
 */
import { sign } from './signature.js'
import { type BackoffOptions } from './backoff.js'
import { HttpCore, malformed, type HttpReply } from './http.js'
import { UNKNOWN_CLIENT } from './protocol.js'
import { Polling, submitted } from './serving.js'

export interface WhatClientOptions {
  /** Server URL, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string
  /** The shared API_SECRET_KEY. */
  apiKey: string
  /**
   * How long the server may hold a poll, in seconds (default 25; 0 turns long-poll off).
   * A server refuses a hold above its MAX_WAIT_SECONDS (30 by default) with 422: the
   * client then halves it until the server takes it, and keeps that.
   */
  longPollSeconds?: number
  /** The least time between two polls that found nothing (default 2000 ms). */
  pollIntervalMs?: number
  /** Backoff for retried calls (default 250 ms doubling to 10 s). */
  retry?: BackoffOptions
  /** Retries of one call before its error is thrown (default 4); `answerTasks` keeps going regardless. */
  maxRetries?: number
  /** Time limit for one HTTP call, on top of its long-poll hold (default 10 s; above 0 and below about 24 days, else RangeError). */
  requestTimeoutMs?: number
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch
  /** Called before each backoff sleep of a retried call. */
  onRetry?: (error: unknown, delayMs: number) => void
}

export type ResultState =
  | { status: 'pending' }
  | { status: 'completed', clientName: string, packageName: string | undefined }
  | { status: 'expired' }

export type WaitOutcome =
  | { status: 'completed', clientName: string, packageName: string | undefined }
  | { status: 'expired' }
  | { status: 'timeout' }

export interface WaitOptions {
  /** Stop waiting after this long (default: until the server says the request expired). */
  timeoutMs?: number
  signal?: AbortSignal
  /** Called after each poll that found no answer yet. */
  onPending?: () => void
}

export interface AnswerOptions {
  signal?: AbortSignal
  /** Called after each task answered. */
  onAnswered?: (requestId: string) => void
}

export class WhatClient {
  readonly #http: HttpCore
  readonly #key: Buffer
  readonly #polling: Polling

  constructor (options: WhatClientOptions) {
    this.#http = httpCoreFor(options)
    this.#key = Buffer.from(options.apiKey, 'utf8')
    this.#polling = new Polling(this.#http, options)
  }

  /** The v1 signature of a POST body or a GET path. */
  sign (material: string): string {
    return sign(this.#key, material)
  }

  /** Asks which client `target` runs; returns the request id. */
  async requestClient (me: number, target: number, signal?: AbortSignal): Promise<string> {
    const reply = await this.#call('POST', '/requestClient', { requester_id: me, target_id: target }, 0, signal)
    const requestId = (reply.body as { request_id?: unknown } | undefined)?.request_id
    if (typeof requestId !== 'string' || requestId === '') throw malformed(reply, 'POST /requestClient', 'a request_id')
    return requestId
  }

  /** One poll of a user's pending tasks (held up to `waitSeconds` by a long-poll server). */
  async getTasks (userId: number, waitSeconds = 0, signal?: AbortSignal): Promise<string[]> {
    const reply = await this.#call('GET', `/getTasks/${userId}`, undefined, waitSeconds, signal)
    const listed = (reply.body as { tasks?: unknown } | undefined)?.tasks
    if (!Array.isArray(listed)) throw malformed(reply, 'GET /getTasks', 'a task list')
    // An entry that is no request id cannot be answered: skipped, as v2 skips such tasks.
    return listed.filter((id): id is string => typeof id === 'string' && id !== '')
  }

  /** Answers one task; false when the server no longer knows it (answered, expired). */
  async submitTaskResult (requestId: string, packageName: string, signal?: AbortSignal): Promise<boolean> {
    return await submitted(this.#call('POST', '/submitTaskResult', { request_id: requestId, client_name: packageName }, 0, signal))
  }

  /** One poll of a request's result (held up to `waitSeconds` by a long-poll server). */
  async getRequestResult (requestId: string, waitSeconds = 0, signal?: AbortSignal): Promise<ResultState> {
    const reply = await this.#call('GET', `/getRequestResult/${encodeURIComponent(requestId)}`, undefined, waitSeconds, signal)
    const body = reply.body as { status?: unknown, client_name?: unknown, package_name?: unknown } | undefined
    // Typed as the protocol says, whatever a broken or hostile server sends. A reply
    // without a status (an HTML page from a proxy) is not "expired": that would end a wait.
    if (body?.status === 'completed') {
      return {
        status: 'completed',
        clientName: typeof body.client_name === 'string' ? body.client_name : UNKNOWN_CLIENT,
        packageName: typeof body.package_name === 'string' ? body.package_name : undefined
      }
    }
    if (body?.status === 'pending') return { status: 'pending' }
    if (body?.status === 'expired') return { status: 'expired' }
    throw malformed(reply, 'GET /getRequestResult', 'a status')
  }

  /**
   * Polls until the answer comes, the request expires, or `timeoutMs` passes
   * (then `{ status: 'timeout' }`, at about `timeoutMs` even while a call
   * hangs or is retried). Throws the abort reason if `signal` aborts.
   */
  async waitForResult (requestId: string, options: WaitOptions = {}): Promise<WaitOutcome> {
    return await this.#polling.waitFor((wait, signal) => this.getRequestResult(requestId, wait, signal), options)
  }

  /**
   * Serves `me`'s tasks with `packageName` until `signal` aborts. Network
   * trouble and server errors never end it: it backs off and goes on. A refusal
   * that retrying cannot fix (403 wrong key, 422) is thrown.
   */
  async answerTasks (me: number, packageName: string, options: AnswerOptions = {}): Promise<void> {
    const { signal } = options
    await this.#polling.serve(async (wait) => await this.getTasks(me, wait, signal), async (requestId) => {
      if (!await this.submitTaskResult(requestId, packageName, signal)) return false
      options.onAnswered?.(requestId)
      return true
    }, signal)
  }

  /** One signed call, through the shared core (retries, time limit, errors). */
  async #call (method: 'GET' | 'POST', path: string, payload: object | undefined, waitSeconds: number, signal?: AbortSignal): Promise<HttpReply> {
    const body = payload === undefined ? undefined : JSON.stringify(payload)
    const signature = this.sign(body ?? decodeURIComponent(path))
    return await this.#polling.longPoll.poll(waitSeconds, async (wait) =>
      await this.#http.send({ method, path, body, headers: { 'x-signature': signature }, waitSeconds: wait, signal }))
  }
}

/** The HTTP core for a client's options, with the defaults both clients share. */
export function httpCoreFor (options: Pick<WhatClientOptions, 'baseUrl' | 'retry' | 'maxRetries' | 'requestTimeoutMs' | 'fetch' | 'onRetry'>): HttpCore {
  const { requestTimeoutMs } = options
  // A timer takes whole ms up to 2^31 - 1 (the hold adds at most 300 s); past that, or NaN, it fires at once.
  if (requestTimeoutMs !== undefined && !(requestTimeoutMs > 0 && requestTimeoutMs <= 2 ** 31 - 1 - 300_000)) {
    throw new RangeError('requestTimeoutMs is a time in ms: above 0, and below about 24 days')
  }
  return new HttpCore({
    baseUrl: options.baseUrl,
    retry: options.retry ?? { baseMs: 250, maxMs: 10_000 },
    maxRetries: options.maxRetries ?? 4,
    requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
    fetch: options.fetch ?? fetch,
    onRetry: options.onRetry
  })
}
