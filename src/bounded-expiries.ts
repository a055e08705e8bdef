/**
 * A bounded table of keys, each with the time (ms) it lasts until: the
 * in-memory shape of single-use init data (identity/seen-once.ts), the ask
 * quota's requesters (identity/quota.ts) and the signed-in marks
 * (store/memory-task-store.ts).
 *
 * Keys sit in the order they were last set. Callers set them in about the
 * order they end, so ended keys leave cheaply from the front
 * (`dropExpiredHead`). A full table makes room before it refuses a new key:
 * from the front, then, only if a key set out of order (ending before one
 * set ahead of it) may have ended behind a live one, by a walk of the whole
 * table. So nothing is refused while an ended key holds its place, and a
 * full table of live keys is not walked on every call.
 */
export class BoundedExpiries {
  readonly #until = new Map<string, number>()
  readonly #maxEntries: number
  /** No key ends later than this (an upper bound): a key set to end before it is out of order. */
  #latest = Number.NEGATIVE_INFINITY
  /** No key set out of order ends before this (a lower bound): until then a walk would free nothing the front does not. */
  #earliestStray = Number.POSITIVE_INFINITY
  #sweeps = 0

  constructor (maxEntries: number) {
    this.#maxEntries = maxEntries
  }

  /** Keys held, ended ones not yet dropped included. */
  get size (): number {
    return this.#until.size
  }

  /** How many times the whole table has been walked (the cost tests bound). */
  get sweeps (): number {
    return this.#sweeps
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
      this.dropExpiredHead(now)
      // A key in order ends no earlier than the live head: only a stray may have ended behind it.
      if (this.#until.size >= this.#maxEntries && now >= this.#earliestStray) this.#sweep(now)
      if (this.#until.size >= this.#maxEntries) return false
    }
    this.#until.set(key, until)
    if (until >= this.#latest) this.#latest = until
    else if (until < this.#earliestStray) this.#earliestStray = until
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
    this.#latest = Number.NEGATIVE_INFINITY
    this.#earliestStray = Number.POSITIVE_INFINITY
  }

  /** Drops every ended key, wherever it sits, and tells again which live keys are out of order. */
  #sweep (now: number): void {
    this.#sweeps++
    let latest = Number.NEGATIVE_INFINITY
    let earliestStray = Number.POSITIVE_INFINITY
    for (const [key, until] of this.#until) {
      if (until <= now) this.#until.delete(key)
      else if (until >= latest) latest = until
      else if (until < earliestStray) earliestStray = until
    }
    this.#latest = latest
    this.#earliestStray = earliestStray
  }
}
