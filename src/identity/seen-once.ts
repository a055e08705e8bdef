/**
 * Single use of init data: the server accepts one init data once, and keeps a
 * keyed hash of it (never the data) for as long as it would otherwise still
 * be fresh. Two adapters, one behaviour (test/identity/seen-once-conformance.ts):
 * memory for one process, Redis (redis-seen-once.ts) for a deployment.
 *
 * The memory is bounded. When it is full of hashes that are all still fresh,
 * it refuses new sign-ins (503) rather than forget one: forgetting would let
 * that init data be replayed.
 */
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_SIGN_INS_FULL } from '../errors.js'

export interface SeenOnce {
  /**
   * True the first time `fingerprint` is offered within `ttlMs`, false after.
   * Throws WC_ERR_SIGN_INS_FULL (memory full) or WC_ERR_STORE_UNAVAILABLE (Redis gone), both 503.
   */
  firstTime (fingerprint: string, ttlMs: number): Promise<boolean>
  close (): Promise<void>
}

export interface MemorySeenOnceOptions {
  /** Keys the hashes; random when omitted. */
  secret?: Buffer
  /** Most hashes held at once (MAX_REMEMBERED_SIGN_INS). */
  maxEntries: number
  /** Milliseconds now (tests). */
  now?: () => number
}

export class MemorySeenOnce implements SeenOnce {
  readonly #hasher: Sealer
  readonly #maxEntries: number
  readonly #now: () => number
  /** hash -> expiry (ms), in insertion order, which is nearly expiry order (TTLs differ by the data's age only). */
  readonly #expiries = new Map<string, number>()
  /** No entry expires before this (a lower bound): a full sweep before it would free nothing. */
  #earliestExpiry = Number.POSITIVE_INFINITY

  constructor (options: MemorySeenOnceOptions) {
    this.#hasher = new Sealer(options.secret)
    this.#maxEntries = options.maxEntries
    this.#now = options.now ?? Date.now
  }

  get size (): number {
    return this.#expiries.size
  }

  async firstTime (fingerprint: string, ttlMs: number): Promise<boolean> {
    const now = this.#now()
    this.#dropExpiredHead(now)
    const key = this.#hasher.hash(fingerprint)
    const expiry = this.#expiries.get(key)
    if (expiry !== undefined) {
      if (expiry > now) return false
      this.#expiries.delete(key)
    }
    if (this.#expiries.size >= this.#maxEntries) {
      if (now >= this.#earliestExpiry) this.#sweep(now)
      if (this.#expiries.size >= this.#maxEntries) throw new WC_ERR_SIGN_INS_FULL()
    }
    const until = now + ttlMs
    this.#expiries.set(key, until)
    if (until < this.#earliestExpiry) this.#earliestExpiry = until
    return true
  }

  async close (): Promise<void> {
    this.#expiries.clear()
  }

  /** Cheap and amortised: expired entries at the front of the insertion order. */
  #dropExpiredHead (now: number): void {
    for (const [key, expiry] of this.#expiries) {
      if (expiry > now) return
      this.#expiries.delete(key)
    }
  }

  /** Every expired entry, wherever it sits; runs only when the memory is full and something has expired. */
  #sweep (now: number): void {
    let earliest = Number.POSITIVE_INFINITY
    for (const [key, expiry] of this.#expiries) {
      if (expiry <= now) this.#expiries.delete(key)
      else if (expiry < earliest) earliest = expiry
    }
    this.#earliestExpiry = earliest
  }
}
