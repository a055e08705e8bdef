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
import { BoundedExpiries } from '../bounded-expiries.js'
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
  readonly #now: () => number
  /** hash -> until (ms), set in about the order they end (TTLs differ by the data's age only). */
  readonly #seen: BoundedExpiries

  constructor (options: MemorySeenOnceOptions) {
    this.#hasher = new Sealer(options.secret)
    this.#seen = new BoundedExpiries(options.maxEntries)
    this.#now = options.now ?? Date.now
  }

  get size (): number {
    return this.#seen.size
  }

  async firstTime (fingerprint: string, ttlMs: number): Promise<boolean> {
    const now = this.#now()
    this.#seen.dropExpiredHead(now)
    const key = this.#hasher.hash(fingerprint)
    if (this.#seen.isLive(key, now)) return false
    if (!this.#seen.set(key, now + ttlMs, now)) throw new WC_ERR_SIGN_INS_FULL()
    return true
  }

  async close (): Promise<void> {
    this.#seen.clear()
  }
}
