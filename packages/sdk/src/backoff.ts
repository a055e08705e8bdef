/**
 * Waiting between retries and polls: exponential backoff with full jitter, a
 * sleep and a wait for other work that an AbortSignal cuts short, and the
 * long-poll loop both clients wait for an answer with.
 */

export interface BackoffOptions {
  /** First delay's upper bound. */
  baseMs: number
  /** Largest delay. */
  maxMs: number
}

/** The delay before retry number `attempt` (0-based): uniform in [0, min(max, base * 2^attempt)]. */
export function backoffDelay (attempt: number, { baseMs, maxMs }: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(random() * ceiling)
}

/** Resolves after `ms`, or at once (without throwing) when `signal` aborts. */
export function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true || ms <= 0) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * `promise`, or the abort reason as soon as `signal` aborts. The work itself is not
 * stopped: it goes on for others who wait on it (a shared sign-in), or to no one.
 */
export async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return await promise
  if (signal.aborted) {
    // Nobody else may wait on it: its failure must not go unhandled.
    promise.catch(() => {})
    throw signal.reason
  }
  return await new Promise<T>((resolve, reject) => {
    const stop = (): void => reject(signal.reason)
    signal.addEventListener('abort', stop, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop))
  })
}

/** A signal for one piece of work, with its end: see `deadlineSignal`. */
export interface Deadline {
  readonly signal: AbortSignal
  /** Whether it aborted because its time ran out (not because the caller's signal did). */
  timedOut: () => boolean
  /** Lets go of the caller's signal and the timer: call it once the work is done. */
  release: () => void
}

/**
 * A signal that aborts when `signal` does (with its reason) or after `ms` (with a
 * TimeoutError, as AbortSignal.timeout's), until released. One AbortController
 * per call, not AbortSignal.any: on Node 20 that left something on the caller's
 * long-lived signal for every call (nodejs/node#55351), and a serving loop grew
 * by about 115 bytes a poll. Its timer does not keep the process alive.
 */
export function deadlineSignal (ms: number, signal: AbortSignal | undefined): Deadline {
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
  }, ms)
  timer.unref()
  const follow = (): void => { controller.abort((signal as AbortSignal).reason) }
  if (signal?.aborted === true) follow()
  else signal?.addEventListener('abort', follow, { once: true })
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    release: () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', follow)
    }
  }
}

export interface PollUntilOptions {
  /** Stop after this long (then `{ status: 'timeout' }`); default: never. */
  timeoutMs?: number
  signal?: AbortSignal
  /** Called after each poll that found nothing yet. */
  onPending?: () => void
  /** The longest hold to ask the server for, in seconds. */
  longPollSeconds: number
  /** The least time between two polls: a server that ignores `wait` answers at once. */
  pollIntervalMs: number
  /**
   * With `timeoutMs`: whether a poll's error may go away by waiting (a transport
   * failure, a 5xx). Such an error, once the call's own retries are spent, does not
   * end the wait: it polls again after `pollIntervalMs`, until the deadline. So a
   * wait rides out a server restart that lasts less than its timeout.
   */
  retryable?: (err: unknown) => boolean
  /** Called before such a pause, as the client's `onRetry`. */
  onRetry?: ((err: unknown, delayMs: number) => void) | undefined
}

/** How long past a wait's deadline its last call may take to bring its reply in. */
const DEADLINE_GRACE_MS = 1000
/** The longest a Node timer takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Long-polls `poll(waitSeconds, signal)` until it answers something other than
 * `pending`, or `timeoutMs` passes. Throws the abort reason if `signal` aborts.
 *
 * `timeoutMs` bounds the whole wait, not just the time between polls: each
 * poll gets a signal that also aborts at the deadline (up to a second after it,
 * below), so a call that hangs, a body still arriving and the retries' backoff
 * all end there, and the wait then ends with `{ status: 'timeout' }` at about
 * the time asked for.
 */
export async function pollUntilSettled<T extends { status: string }> (
  poll: (waitSeconds: number, signal: AbortSignal | undefined) => Promise<T>,
  { timeoutMs, signal, onPending, longPollSeconds, pollIntervalMs, retryable, onRetry }: PollUntilOptions
): Promise<Exclude<T, { status: 'pending' }> | { status: 'timeout' }> {
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs
  // The deadline's timer does not keep a process alive. The signal fires a little after
  // the deadline: the server's hold ends by it (whole seconds, rounded down), and its
  // reply then still has time to arrive; cut, an answer it delivered once would be lost.
  // (A timer takes a whole number of ms up to 2^31 - 1; a longer wait ends by the clock.)
  const expiryMs = timeoutMs === undefined ? Infinity : Math.ceil(Math.max(0, timeoutMs) + Math.min(DEADLINE_GRACE_MS, timeoutMs / 4))
  const expiry = expiryMs <= MAX_TIMER_MS ? deadlineSignal(expiryMs, signal) : undefined
  try {
    return await pollWithin(poll, deadline, expiry?.signal ?? signal, () => expiry?.timedOut() === true, { timeoutMs, signal, onPending, longPollSeconds, pollIntervalMs, retryable, onRetry })
  } finally {
    expiry?.release()
  }
}

/** pollUntilSettled's loop, with its deadline (ms since the epoch) and the signal that carries it. */
async function pollWithin<T extends { status: string }> (
  poll: (waitSeconds: number, signal: AbortSignal | undefined) => Promise<T>,
  deadline: number,
  callSignal: AbortSignal | undefined,
  expired: () => boolean,
  { timeoutMs, signal, onPending, longPollSeconds, pollIntervalMs, retryable, onRetry }: PollUntilOptions
): Promise<Exclude<T, { status: 'pending' }> | { status: 'timeout' }> {
  for (;;) {
    signal?.throwIfAborted()
    const remaining = deadline - Date.now()
    if (remaining <= 0 || expired()) return { status: 'timeout' }
    const started = Date.now()
    let state: T
    try {
      state = await poll(Math.min(longPollSeconds, Math.floor(remaining / 1000)), callSignal)
    } catch (err) {
      // The deadline cut the poll short (its fetch, its body, a backoff): that is this wait's timeout, not a failure.
      if (signal?.aborted !== true && expired()) return { status: 'timeout' }
      if (timeoutMs === undefined || retryable?.(err) !== true) throw err
      const pause = Math.max(0, Math.min(pollIntervalMs, deadline - Date.now()))
      onRetry?.(err, pause)
      await sleep(pause, callSignal)
      continue
    }
    if (state.status !== 'pending') return state as Exclude<T, { status: 'pending' }>
    onPending?.()
    await sleep(Math.min(pollIntervalMs, deadline - Date.now()) - (Date.now() - started), callSignal)
  }
}
