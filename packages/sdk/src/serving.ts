/**
 * How both clients poll a server over time: the long-poll hold and the pace
 * between polls (with their defaults), the wait for an answer, and the loop a
 * target serves its tasks with. v1 and v2 differ in how a call is made and
 * what a task is, not in how often to ask, what to wait out and when to stop:
 * kept in one place, a fix to that (a busy loop, an error that should end
 * serving) reaches both clients at once.
 */
import { backoffDelay, pollUntilSettled, sleep, type PollUntilOptions } from './backoff.js'
import { WhatClientError } from './errors.js'
import { LongPollCap, mayPass, type HttpCore } from './http.js'

export function aborted (signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

/** False when the server answered 404: it no longer has the task (answered already, expired), which is no failure to a target. */
export async function submitted (call: Promise<unknown>): Promise<boolean> {
  try {
    await call
    return true
  } catch (err) {
    if (err instanceof WhatClientError && err.status === 404) return false
    throw err
  }
}

export class Polling {
  /** The hold asked for, lowered for good by a server that refuses it. */
  readonly longPoll: LongPollCap
  readonly #pollIntervalMs: number
  readonly #http: HttpCore

  constructor (http: HttpCore, options: { longPollSeconds?: number, pollIntervalMs?: number }) {
    this.#http = http
    this.longPoll = new LongPollCap(options.longPollSeconds ?? 25)
    this.#pollIntervalMs = options.pollIntervalMs ?? 2000
  }

  /** pollUntilSettled with this client's hold and pace; a wait with a deadline rides out what `mayPass`. */
  async waitFor<T extends { status: string }> (
    poll: (waitSeconds: number, signal: AbortSignal | undefined) => Promise<T>,
    options: Pick<PollUntilOptions, 'timeoutMs' | 'signal' | 'onPending'>
  ): Promise<Exclude<T, { status: 'pending' }> | { status: 'timeout' }> {
    return await pollUntilSettled(poll,
      { ...options, longPollSeconds: this.longPoll.seconds, pollIntervalMs: this.#pollIntervalMs, retryable: mayPass, onRetry: this.#http.onRetry })
  }

  /**
   * Polls for tasks and hands each to `handle` (true when it did something, false
   * when the task was gone) until `signal` aborts, which both should heed too.
   * Throws what waiting cannot cure.
   */
  async serve<T> (
    poll: (waitSeconds: number) => Promise<T[]>,
    handle: (task: T) => Promise<boolean>,
    signal: AbortSignal | undefined
  ): Promise<void> {
    let failures = 0
    while (!aborted(signal)) {
      const started = Date.now()
      try {
        // The hold is read anew each round: a server that refused it lowered it.
        const tasks = await poll(this.longPoll.seconds)
        let handled = 0
        for (const task of tasks) {
          if (aborted(signal)) return
          if (await handle(task)) handled++
        }
        failures = 0
        // Nothing done (nothing there, or all gone meanwhile: a stale id that answers 404
        // each time): a server that answered at once is not asked again at once.
        if (handled === 0) await sleep(this.#pollIntervalMs - (Date.now() - started), signal)
      } catch (err) {
        if (aborted(signal)) return
        // Only what waiting may cure is waited out: anything else (a malformed reply, a bug) would loop for ever.
        if (!mayPass(err)) throw err
        // Past the call's own retries, which it has spent: the backoff goes on from there.
        const delay = backoffDelay(this.#http.maxRetries + failures++, this.#http.retry)
        this.#http.onRetry?.(err, delay)
        await sleep(delay, signal)
      }
    }
  }
}
