/**
 * Waiting between retries and polls: exponential backoff with full jitter, and
 * a sleep that an AbortSignal cuts short.
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
