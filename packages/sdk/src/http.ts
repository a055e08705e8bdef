/**
 * The HTTP core both clients share (v1's signed calls, v2's bearer calls):
 * one call with a time limit on top of its long-poll hold, retried on network
 * errors, 429 and 5xx with backoff and jitter, and a WhatClientError for every
 * refusal that retrying cannot fix. What proves the caller (a signature, a
 * token) is the caller's business: it comes in as headers.
 */
import { backoffDelay, deadlineSignal, sleep, untilAborted, type BackoffOptions } from './backoff.js'
import { WhatClientError } from './errors.js'

export interface HttpOptions {
  baseUrl: string
  retry: BackoffOptions
  maxRetries: number
  requestTimeoutMs: number
  fetch: typeof fetch
  onRetry: ((error: unknown, delayMs: number) => void) | undefined
}

export interface HttpCall {
  method: 'GET' | 'POST'
  /** The path, already percent-encoded where it carries an id. */
  path: string
  /**
   * The exact body bytes (JSON), sent with Content-Type: application/json. A
   * function is asked again before every attempt: a sign-in's init data is
   * single-use, and a retry after a 5xx whose write landed late would be refused
   * as a replay, so each attempt takes fresh init data. An abort does not wait
   * for the function (nor stop it): the call ends at once.
   */
  body?: string | (() => Promise<string>)
  headers?: Record<string, string>
  /** Appended as `?wait=S` when above zero; the call's time limit grows by as much. */
  waitSeconds?: number
  signal?: AbortSignal | undefined
}

export interface HttpReply {
  status: number
  headers: Headers
  /** The parsed JSON body, or undefined (no body, 304, not JSON). */
  body: unknown
}

/**
 * Whether a refusal may go away by itself. A 503 does only when it says when
 * (Retry-After, as the server's store-down and shutting-down 503s do); one
 * without ("Sign-in is not configured") will not change by waiting.
 */
export const isRetryableStatus = (status: number, retryAfterSeconds?: number): boolean =>
  status === 429 || (status >= 500 && (status !== 503 || retryAfterSeconds !== undefined))

/**
 * Whether a thrown refusal may pass for a caller that keeps going (a serving loop, a wait
 * with a deadline): a 429 or any 5xx. A 503 without Retry-After is not retried at once
 * (isRetryableStatus), but from a proxy in front (no backend ready) it passes like the rest.
 */
export const isRetryableRefusal = (err: unknown): boolean =>
  err instanceof WhatClientError && (err.status === 429 || err.status >= 500)

/** Whether waiting may cure `err`: a transport failure, or a refusal that says to come back (429, 5xx). */
export const mayPass = (err: unknown): boolean => isTransportFailure(err) || isRetryableRefusal(err)

/** Whether `err` is a 422 refusing `?wait=`: longer than the server's MAX_WAIT_SECONDS. */
export const isWaitRefusal = (err: unknown): boolean =>
  err instanceof WhatClientError && err.status === 422 && /\bwait\b/.test(JSON.stringify(err.detail) ?? '')

/**
 * The longest long-poll hold a client asks for. It starts at the client's
 * `longPollSeconds`; a server whose MAX_WAIT_SECONDS (30 by default) is lower
 * refuses such a wait with 422, and every poll would fail: the hold is then
 * lowered to the most the refusal names (a WhatClient server's says
 * "must be <= 5"), or else halved (down to 0, which any server takes), the
 * poll sent again, and the lower hold kept for later polls.
 */
export class LongPollCap {
  seconds: number

  constructor (seconds: number) {
    this.seconds = seconds
  }

  async poll<T> (waitSeconds: number, call: (waitSeconds: number) => Promise<T>): Promise<T> {
    for (;;) {
      const wait = Math.min(waitSeconds, this.seconds)
      try {
        return await call(wait)
      } catch (err) {
        if (wait <= 0 || !isWaitRefusal(err)) throw err
        const most = waitAllowed((err as WhatClientError).detail)
        this.seconds = Math.min(this.seconds, most !== undefined && most < wait ? Math.floor(most) : Math.floor(wait / 2))
      }
    }
  }
}

/** The longest `wait` a 422's detail says the server takes, if it says so (`{"loc": [..., "wait"], "msg": "must be <= 5"}`). */
function waitAllowed (detail: unknown): number | undefined {
  if (!Array.isArray(detail)) return undefined
  for (const item of detail as Array<{ loc?: unknown, msg?: unknown }>) {
    const about = Array.isArray(item?.loc) && item.loc.includes('wait')
    const most = typeof item?.msg === 'string' ? /^must be <= (\d+(?:\.\d+)?)$/.exec(item.msg)?.[1] : undefined
    if (about && most !== undefined) return Number(most)
  }
  return undefined
}

/** A success that lacks what the protocol promises: the server (or a proxy before it) is not speaking the protocol as agreed. */
export function malformed (reply: HttpReply, call: string, what: string): WhatClientError {
  return new WhatClientError(reply.status, `${call} answered without ${what}`)
}

const transportFailures = new WeakSet<object>()
/**
 * Whether `err` is what fetch threw when a call never got an answer (refused,
 * reset, timed out): a serving loop waits those out, and ends on anything
 * else that is not a retryable WhatClientError.
 */
export const isTransportFailure = (err: unknown): boolean => typeof err === 'object' && err !== null && transportFailures.has(err)

export class HttpCore {
  readonly baseUrl: string
  readonly retry: BackoffOptions
  readonly maxRetries: number
  readonly onRetry: HttpOptions['onRetry']
  readonly #requestTimeoutMs: number
  readonly #fetch: typeof fetch

  constructor (options: HttpOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.retry = options.retry
    this.maxRetries = options.maxRetries
    this.onRetry = options.onRetry
    this.#requestTimeoutMs = options.requestTimeoutMs
    this.#fetch = options.fetch
  }

  /**
   * One call, retried on network errors, 429 and 5xx up to `maxRetries` times.
   * Resolves with a 2xx or 304 answer; throws WhatClientError for any other.
   * Retry-After is honoured as the least delay, up to the backoff's ceiling;
   * a 429 whose Retry-After is longer (a spent quota) is not slept through:
   * it is thrown at once with `retryAfterSeconds`, for the caller to decide.
   */
  async send ({ method, path, body, headers = {}, waitSeconds = 0, signal }: HttpCall): Promise<HttpReply> {
    const url = this.baseUrl + path + (waitSeconds > 0 ? `?wait=${waitSeconds}` : '')
    const allHeaders = body === undefined ? headers : { ...headers, 'content-type': 'application/json' }
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted()
      // Outside the try: what the function throws is the caller's, not a failed call to retry.
      const payload = typeof body === 'function' ? await untilAborted(body(), signal) : body
      let retryable: unknown
      let retryAfterMs = 0
      const deadline = deadlineSignal(this.#requestTimeoutMs + waitSeconds * 1000, signal)
      try {
        const res = await this.#fetch(url, {
          method,
          body: payload,
          headers: allHeaders,
          signal: deadline.signal
        })
        // Read in full inside the try: a body cut off (reset, the time limit, an abort) is a
        // failed call, never an empty answer (a wait would read that as "expired").
        const text = await readAtMost(res, MAX_REPLY_BYTES)
        if (text === undefined) throw new WhatClientError(res.status, `answered with a body over ${MAX_REPLY_BYTES} bytes, which is not the protocol's`)
        const parsed = parseJson(text) as { detail?: unknown } | undefined
        if (res.ok || res.status === 304) return { status: res.status, headers: res.headers, body: parsed }
        const retryAfter = retryAfterSeconds(res.headers.get('retry-after'))
        const error = new WhatClientError(res.status, parsed?.detail ?? res.statusText, retryAfter)
        if (!isRetryableStatus(res.status, retryAfter)) throw error
        retryAfterMs = (retryAfter ?? 0) * 1000
        if (res.status === 429 && retryAfterMs > this.retry.maxMs) throw error
        retryable = error
      } catch (err) {
        if (err instanceof WhatClientError && err !== retryable) throw err
        if (signal?.aborted === true) throw signal.reason
        if (typeof err === 'object' && err !== null) transportFailures.add(err)
        // fetch refuses some ports outright (the Fetch standard's "bad ports", such as 6667): no retry reaches them.
        if ((err as { cause?: { message?: unknown } })?.cause?.message === 'bad port') throw err
        retryable = err
      } finally {
        deadline.release()
      }
      if (attempt >= this.maxRetries) throw retryable
      const delay = Math.max(Math.min(retryAfterMs, this.retry.maxMs), backoffDelay(attempt, this.retry))
      this.onRetry?.(retryable, delay)
      await sleep(delay, signal)
    }
  }
}

/**
 * The most of a reply's body that is read: 1 MiB. The protocol's largest
 * answer is a few KB (a task list of 32); a server, or someone between, that
 * sends more is not read on, so it cannot run the caller out of memory.
 */
export const MAX_REPLY_BYTES = 1 << 20

/** `res`'s body as text; undefined, and the rest left unread, when it is longer than `limit` bytes. */
async function readAtMost (res: Response, limit: number): Promise<string | undefined> {
  if (res.body === null) return ''
  if (Number(res.headers.get('content-length') ?? 0) > limit) {
    await res.body.cancel()
    return undefined
  }
  const decoder = new TextDecoder()
  let text = ''
  let size = 0
  // Leaving the loop early cancels the stream.
  for await (const chunk of res.body) {
    size += chunk.byteLength
    if (size > limit) return undefined
    text += decoder.decode(chunk, { stream: true })
  }
  return text + decoder.decode()
}

/** The JSON in `text`, or undefined when there is none (no body, 304, an HTML page): callers check the shape. */
function parseJson (text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * Retry-After in seconds (RFC 9110, 10.2.3: a number of seconds or an HTTP
 * date); undefined when absent or unreadable.
 */
export function retryAfterSeconds (header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text)
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000))
}
