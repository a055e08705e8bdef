/**
 * The per-requester quota of v2 questions (ASK_LIMIT_PER_HOUR), as GCRA, the
 * generic cell rate algorithm: one number per requester, the "theoretical
 * arrival time" (tat). An empty quota allows `limit` asks at once, then one
 * more every hour/limit; a refused ask learns exactly when the next fits
 * (Retry-After). The record expires by itself once the quota is whole again.
 *
 * The memory store charges an ask with MemoryQuota in the same step that
 * opens it; the Redis store does the same inside its ask script, from
 * src/store/redis/lua/includes/quota.lua (one round trip in all). Asking
 * again for a pending request, or a refused ask, costs no quota. Both pass
 * one conformance suite (test/identity/quota-conformance.ts).
 */
import { BoundedExpiries } from '../bounded-expiries.js'
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_QUOTA_FULL } from '../errors.js'

const HOUR_MS = 3_600_000

export interface QuotaRate {
  /** Asks per period (ASK_LIMIT_PER_HOUR). */
  limit: number
  /** The period (ms); an hour. */
  periodMs?: number
}

/** One ask's share of the period, and how far ahead the tat may run (the burst). */
export function gcraParameters (rate: QuotaRate): { intervalMs: number, burstMs: number } {
  const periodMs = rate.periodMs ?? HOUR_MS
  const intervalMs = periodMs / rate.limit
  return { intervalMs, burstMs: periodMs - intervalMs }
}

export interface Quota {
  /** 0 when the ask fits (and is counted), else the ms until one more fits (nothing counted). */
  take (requesterId: number): Promise<number>
  close (): Promise<void>
}

export interface MemoryQuotaOptions extends QuotaRate {
  /** Keys the hashes of requester ids; random when omitted. */
  secret?: Buffer
  /** Most requesters tracked at once (those whose quota is not whole); beyond, new askers get 503. */
  maxEntries: number
  /** ms now (tests). */
  now?: () => number
}

export class MemoryQuota implements Quota {
  readonly #hasher: Sealer
  readonly #intervalMs: number
  readonly #burstMs: number
  readonly #now: () => number
  /** hashed requester -> tat (ms): held while that requester's quota is not whole (until the tat). */
  readonly #tats: BoundedExpiries

  constructor (options: MemoryQuotaOptions) {
    ({ intervalMs: this.#intervalMs, burstMs: this.#burstMs } = gcraParameters(options))
    this.#hasher = new Sealer(options.secret)
    this.#tats = new BoundedExpiries(options.maxEntries)
    this.#now = options.now ?? Date.now
  }

  get size (): number {
    return this.#tats.size
  }

  async take (requesterId: number): Promise<number> {
    return this.takeNow(requesterId)
  }

  /** `take`, synchronously: the memory task store charges an ask in the same step that opens it. */
  takeNow (requesterId: number): number {
    const now = this.#now()
    const key = this.#hasher.hash(`quota:${requesterId}`)
    const tat = Math.max(this.#tats.get(key) ?? now, now)
    const wait = tat - this.#burstMs - now
    if (wait > 0) return Math.ceil(wait)
    // A requester whose tat has passed holds a place no more: a full table sweeps it out.
    if (!this.#tats.set(key, tat + this.#intervalMs, now)) throw new WC_ERR_QUOTA_FULL()
    return 0
  }

  async close (): Promise<void> {
    this.#tats.clear()
  }
}
