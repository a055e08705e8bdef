/**
 * A bounded table of keys, each with the time (ms) it lasts until: the
 * in-memory shape of single-use init data (identity/seen-once.ts), the ask
 * quota's requesters (identity/quota.ts) and the signed-in marks
 * (store/memory-task-store.ts).
 *
 * Keys sit in the order they were last set. Where callers set them in about
 * the order they end, expired keys leave cheaply from the front
 * (`dropExpiredHead`). A full table is swept whole before a new key is
 * refused, so nothing is refused while an ended key holds its place; but only
 * when something in it may have ended (a lower bound on the earliest end), so
 * callers at the bound do not walk it on every call.
 */
export class BoundedExpiries {
  readonly #until = new Map<string, number>()
  readonly #maxEntries: number
  /** No key ends before this (a lower bound): a sweep before it would free nothing. */
  #earliest = Number.POSITIVE_INFINITY

  constructor (maxEntries: number) {
    this.#maxEntries = maxEntries
  }

  /** Keys held, ended ones not yet dropped included. */
  get size (): number {
    return this.#until.size
  }

  /** Whether `key` is held, ended or not: one lookup, for a path that must stay cheap. */
  has (key: string): boolean {
    return this.#until.has(key)
  }

  /** When `key` ends, ended or not; undefined when not held. */
  get (key: string): number | undefined {
    return this.#until.get(key)
  }

  /** Whether `key` is held and has not ended at `now`. */
  isLive (key: string, now: number): boolean {
    const until = this.#until.get(key)
    return until !== undefined && until > now
  }

  /**
   * Holds `key` until `until`, moved to the end of the order. False, with
   * nothing changed, when `key` is new and every place is held by a key
   * that has not ended at `now`.
   */
  set (key: string, until: number, now: number): boolean {
    if (!this.#until.delete(key) && this.#until.size >= this.#maxEntries) {
      if (now >= this.#earliest) this.#sweep(now)
      if (this.#until.size >= this.#maxEntries) return false
    }
    this.#until.set(key, until)
    if (until < this.#earliest) this.#earliest = until
    return true
  }

  delete (key: string): void {
    this.#until.delete(key)
  }

  /** Drops ended keys from the front of the order; stops at the first live one. */
  dropExpiredHead (now: number): void {
    for (const [key, until] of this.#until) {
      if (until > now) return
      this.#until.delete(key)
    }
  }

  clear (): void {
    this.#until.clear()
    this.#earliest = Number.POSITIVE_INFINITY
  }

  /** Every ended key, wherever it sits. */
  #sweep (now: number): void {
    let earliest = Number.POSITIVE_INFINITY
    for (const [key, until] of this.#until) {
      if (until <= now) this.#until.delete(key)
      else if (until < earliest) earliest = until
    }
    this.#earliest = earliest
  }
}
