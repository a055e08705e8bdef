/**
 * What the SDK throws: the server's answer when it refused a call (4xx, or 5xx
 * after the retries ran out), with its status and `detail`.
 */
export class WhatClientError extends Error {
  readonly status: number
  readonly detail: unknown
  /** The server's Retry-After, in seconds, when it sent one (a 429 past a quota, a 503). */
  readonly retryAfterSeconds: number | undefined

  constructor (status: number, detail: unknown, retryAfterSeconds?: number) {
    super(`WhatClient server answered ${status}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`)
    this.name = 'WhatClientError'
    this.status = status
    this.detail = detail
    this.retryAfterSeconds = retryAfterSeconds
  }
}
