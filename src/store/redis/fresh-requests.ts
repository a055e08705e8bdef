/**
 * Requests this instance created a moment ago and has heard nothing of since.
 * Every answer to a request publishes a wake-up on its key (submit.lua), and
 * this instance's subscriber hears every wake-up; so until one names such a
 * request, its answer cannot be there, and the asker's first held look (made
 * right after the create, as plugins do) needs no round trip to Redis: it is
 * pending. That is one of a resolution's seven round trips.
 *
 * Why no wake-up can slip past: a request is watched before its create is
 * sent, so any wake-up published after the create ran arrives after the watch
 * began; and a held poll is registered for wake-ups before it looks (relay.ts),
 * so the hold's watch begins before this one is spent. Only a held look may
 * spend it: a look that is not held has nothing to catch the wake-up that is
 * still on its way, and must ask Redis. Wake-ups lost while the subscriber was
 * away are why `clear` is called when it comes back or the store's state
 * changes, as every held poll is woken then. A watch vouches for a short window
 * only (a request's expiry publishes nothing), and for its own caller (another
 * caller's look says what Redis says: a v2 request is its asker's alone). What
 * it cannot see: a record deleted by hand (FLUSHDB, DEL) within the window
 * looks pending to that one look, and its hold finds it gone a TTL later.
 *
 * What is kept names nobody: the request's keyed hash and the caller's, as a
 * held poll keeps them, and not for long: a watch is dropped once its window
 * has passed, by the next create or by a timer when none comes. Bounded: at
 * most MAX_WATCHED, the oldest dropped first; a dropped watch only costs the
 * round trip it would have saved.
 */
import { performance } from 'node:perf_hooks'

/** How long a watch lasts: the asker's first look comes at once, or it goes to Redis. */
const WINDOW_MS = 2000
/** Watches at most (about 200 bytes each): far above what a window's creates leave unspent. */
const MAX_WATCHED = 10_000

interface Watch {
  /** The caller whose look may spend it ('' for v1, the requester's hash for v2). */
  readonly callerHash: string
  /** When the create was sent (performance.now()). */
  readonly sentAt: number
}

export class FreshRequests {
  /** By request hash, in the order the creates were sent (so the oldest is first). */
  readonly #byRequest = new Map<string, Watch>()
  readonly #ttlMs: number
  readonly #windowMs: number
  /** Drops the watches past their window when no create comes to do it (armed while any is kept). */
  #sweep: NodeJS.Timeout | undefined

  /** `ttlMs`: how long a new request lives (the pending answer's expiry counts from its create). */
  constructor (ttlMs: number) {
    this.#ttlMs = ttlMs
    this.#windowMs = Math.min(WINDOW_MS, ttlMs / 2)
  }

  /** Watches `requestHash` from now: call it before its create is sent. */
  watch (requestHash: string, callerHash: string, now = performance.now()): void {
    this.#drop(now, MAX_WATCHED - 1)
    this.#byRequest.set(requestHash, { callerHash, sentAt: now })
    this.#sweep ??= setTimeout(this.#swept, this.#windowMs).unref()
  }

  /** The create did not make this request (it failed, or found an earlier one): nothing to watch. */
  forget (requestHash: string): void {
    this.#byRequest.delete(requestHash)
  }

  /** A wake-up named `requestHash` (or a task's key: then nothing is watched under it). */
  heard (key: string): void {
    this.#byRequest.delete(key)
  }

  /** Wake-ups may have been lost: no watch can vouch for its request any more. */
  clear (): void {
    this.#byRequest.clear()
    clearTimeout(this.#sweep)
    this.#sweep = undefined
  }

  /**
   * A held look by `callerHash` at `requestHash`: when the request is watched
   * for that caller, the watch is spent and the ms until the request expires
   * are returned (it is pending); undefined when Redis must be asked.
   */
  spend (requestHash: string, callerHash: string, now = performance.now()): number | undefined {
    const watch = this.#byRequest.get(requestHash)
    if (watch === undefined || watch.callerHash !== callerHash) return undefined
    this.#byRequest.delete(requestHash)
    const age = now - watch.sentAt
    return age < this.#windowMs ? Math.max(1, Math.round(this.#ttlMs - age)) : undefined
  }

  /** Drops the oldest watches: those past their window, and any beyond `keep`. */
  #drop (now: number, keep: number): void {
    const watches = this.#byRequest
    for (const [oldest, watch] of watches) {
      if (watches.size <= keep && now - watch.sentAt < this.#windowMs) break
      watches.delete(oldest)
    }
  }

  readonly #swept = (): void => {
    this.#sweep = undefined
    this.#drop(performance.now(), MAX_WATCHED)
    if (this.#byRequest.size > 0) this.#sweep = setTimeout(this.#swept, this.#windowMs).unref()
  }

  /** How many requests are watched (tests). */
  get size (): number {
    return this.#byRequest.size
  }
}
