/**
 * What the SDK throws: the server's answer when it refused a call (4xx, or 5xx
 * after the retries ran out), with its status and `detail`.
 */
export class WhatClientError extends Error {
  readonly status: number
  readonly detail: unknown

  constructor (status: number, detail: unknown) {
    super(`WhatClient server answered ${status}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`)
    this.name = 'WhatClientError'
    this.status = status
    this.detail = detail
  }
}
