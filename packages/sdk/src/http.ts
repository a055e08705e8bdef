/**
 * The HTTP core both clients share (v1's signed calls, v2's bearer calls):
 * one call with a time limit on top of its long-poll hold, retried on network
 * errors, 429 and 5xx with backoff and jitter, and a WhatClientError for every
 * refusal that retrying cannot fix. What proves the caller (a signature, a
 * token) is the caller's business: it comes in as headers.
 */
import { backoffDelay, sleep, untilAborted, type BackoffOptions } from './backoff.js'
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

export const isRetryableStatus = (status: number): boolean => status === 429 || status >= 500

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
      try {
        const timeout = AbortSignal.timeout(this.#requestTimeoutMs + waitSeconds * 1000)
        const res = await this.#fetch(url, {
          method,
          body: payload,
          headers: allHeaders,
          signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout])
        })
        const parsed = await res.json().catch(() => undefined) as { detail?: unknown } | undefined
        if (res.ok || res.status === 304) return { status: res.status, headers: res.headers, body: parsed }
        const retryAfter = retryAfterSeconds(res.headers.get('retry-after'))
        const error = new WhatClientError(res.status, parsed?.detail ?? res.statusText, retryAfter)
        if (!isRetryableStatus(res.status)) throw error
        retryAfterMs = (retryAfter ?? 0) * 1000
        if (res.status === 429 && retryAfterMs > this.retry.maxMs) throw error
        retryable = error
      } catch (err) {
        if (err instanceof WhatClientError && err !== retryable) throw err
        if (signal?.aborted === true) throw signal.reason
        if (typeof err === 'object' && err !== null) transportFailures.add(err)
        retryable = err
      }
      if (attempt >= this.maxRetries) throw retryable
      const delay = Math.max(Math.min(retryAfterMs, this.retry.maxMs), backoffDelay(attempt, this.retry))
      this.onRetry?.(retryable, delay)
      await sleep(delay, signal)
    }
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
