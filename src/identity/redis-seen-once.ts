/**
 * The single-use memory in Redis, shared by every instance: one SET NX PX per
 * sign-in (one round trip), under the deployment's key prefix. The key is a
 * keyed hash of the init data; the value says nothing. Redis expires it a
 * minute after the init data would have gone stale anyway: each instance
 * judges staleness by its own clock, and one whose clock runs behind (by up to
 * that minute) must still find it here.
 *
 * The command rides the task store's command connection (RedisTaskStore's
 * setOnce), so a sign-in has the store's deadline, answers 503 while the store
 * is down, counts in its failures, and needs no connection of its own to keep
 * alive and watch.
 *
 * Bounded by Redis itself: with `maxmemory-policy noeviction` (docs/operations.md)
 * a full Redis refuses the write, and the sign-in answers 503 instead of
 * forgetting an init data that could then be replayed. An evicting policy
 * would forget; do not use one.
 */
import { Sealer } from '../crypto/sealer.js'
import type { SeenOnce } from './seen-once.js'

/** How far the clocks of a deployment's instances may disagree. */
export const INSTANCE_CLOCK_SKEW_MS = 60_000

/** What this memory needs of Redis: the task store's `setOnce`. */
export interface SetOnce {
  /** Sets `key` for `ttlMs` unless it is set: true when this call set it. Throws WC_ERR_STORE_UNAVAILABLE (503). */
  setOnce: (key: string, ttlMs: number) => Promise<boolean>
}

export interface RedisSeenOnceOptions {
  /** The Redis task store. */
  redis: SetOnce
  /** Keys the hashes: the same on every instance (derived from STORE_KEY). */
  secret: Buffer
  /** How long past its freshness init data is kept (INSTANCE_CLOCK_SKEW_MS by default; a test that waits for it to go sets 0). */
  clockSkewMs?: number
}

export class RedisSeenOnce implements SeenOnce {
  readonly #redis: SetOnce
  readonly #hasher: Sealer
  readonly #clockSkewMs: number

  constructor (options: RedisSeenOnceOptions) {
    this.#redis = options.redis
    this.#hasher = new Sealer(options.secret)
    this.#clockSkewMs = options.clockSkewMs ?? INSTANCE_CLOCK_SKEW_MS
  }

  async firstTime (fingerprint: string, ttlMs: number): Promise<boolean> {
    return await this.#redis.setOnce(`seen:${this.#hasher.hash(fingerprint)}`, ttlMs + this.#clockSkewMs)
  }

  /** The connection is the task store's, closed with it. */
  async close (): Promise<void> {}
}
