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
}

/**
 * Long-polls `poll(waitSeconds)` until it answers something other than
 * `pending`, or `timeoutMs` passes. Throws the abort reason if `signal` aborts.
 */
export async function pollUntilSettled<T extends { status: string }> (
  poll: (waitSeconds: number) => Promise<T>,
  { timeoutMs, signal, onPending, longPollSeconds, pollIntervalMs }: PollUntilOptions
): Promise<Exclude<T, { status: 'pending' }> | { status: 'timeout' }> {
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs
  for (;;) {
    signal?.throwIfAborted()
    const remaining = deadline - Date.now()
    if (remaining <= 0) return { status: 'timeout' }
    const started = Date.now()
    const state = await poll(Math.min(longPollSeconds, Math.floor(remaining / 1000)))
    if (state.status !== 'pending') return state as Exclude<T, { status: 'pending' }>
    onPending?.()
    await sleep(Math.min(pollIntervalMs, deadline - Date.now()) - (Date.now() - started), signal)
  }
}
