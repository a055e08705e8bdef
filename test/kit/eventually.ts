/**
 * The one bounded wait of the tests: look again until something holds,
 * instead of a hand-made sleep loop, and fail saying what never came.
 */
import { setTimeout as sleep } from 'node:timers/promises'

export interface WaitOptions {
  /** How long to keep looking (default 3 s). */
  timeoutMs?: number
  /** How long to sleep between looks (default 10 ms). */
  intervalMs?: number
  /** What the test waits for, for the failure message (default: the probe's source); a function is asked at the failure. */
  message?: string | (() => string)
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>

/** Resolves with `probe`'s first truthy result (the first look is at once); rejects once `timeoutMs` have passed without one. */
export async function eventually<T> (probe: () => T | Promise<T>, { timeoutMs = 3000, intervalMs = 10, message }: WaitOptions = {}): Promise<Truthy<T>> {
  // A clock that does not step (tests may mock Date.now).
  const end = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value) return value as Truthy<T>
    if (performance.now() > end) {
      const what = typeof message === 'function' ? message() : message ?? String(probe)
      throw new Error(`waited ${timeoutMs} ms in vain for ${what}`)
    }
    await sleep(intervalMs)
  }
}

/** Waits until `relay` holds exactly `n` long-polls. */
export async function heldPollsBecome (relay: { heldPolls: () => number }, n: number, timeoutMs = 3000): Promise<void> {
  await eventually(() => relay.heldPolls() === n, { timeoutMs, message: () => `${n} held polls (there are ${relay.heldPolls()})` })
}
