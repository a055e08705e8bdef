/**
 * The per-requester quota of v2 questions (ASK_LIMIT_PER_HOUR), as GCRA, the
 * generic cell rate algorithm: one number per requester, the "theoretical
 * arrival time" (tat). An empty quota allows `limit` asks at once, then one
 * more every hour/limit; a refused ask learns exactly when the next fits
 * (Retry-After). The record expires by itself once the quota is whole again.
 *
 * Meant to be folded into the store's create step, so that an ask costs one
 * Redis round trip in all: QUOTA_LUA is a fragment for the create script, to
 * run after the dedupe and the target cap (asking again for a pending
 * request, or a refused ask, costs no quota). The memory adapter and the
 * standalone Redis adapter below share one conformance suite, so the
 * fragment is tested where it will run.
 */
import type { FastifyReply } from 'fastify'
import type { RedisClientType } from 'redis'
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_QUOTA_EXCEEDED, WC_ERR_QUOTA_FULL, WC_ERR_STORE_UNAVAILABLE } from '../errors.js'

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

/**
 * The 429 of a spent quota, with Retry-After in whole seconds (rounded up).
 * The header is set on the reply before the error goes to the error handler.
 */
export function quotaExceeded (reply: FastifyReply, waitMs: number): Error {
  void reply.header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))))
  return new WC_ERR_QUOTA_EXCEEDED()
}

/**
 * The Lua of one GCRA step, for a script that has set `now` (ms, from TIME).
 * quota_wait(key, now, burstMs) -> 0 or ms to wait; quota_take(key, now, intervalMs) counts one ask.
 */
export const QUOTA_LUA = `
local function quota_tat (key, now)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  return tat
end
local function quota_wait (key, now, burstMs)
  local wait = quota_tat(key, now) - burstMs - now
  if wait > 0 then return math.ceil(wait) end
  return 0
end
local function quota_take (key, now, intervalMs)
  local tat = quota_tat(key, now) + intervalMs
  redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now))
end
`

/** KEYS: quota key; ARGV: intervalMs, burstMs -> 0 (counted) or ms to wait. */
export const QUOTA_TAKE_SCRIPT = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
${QUOTA_LUA}
local wait = quota_wait(KEYS[1], now, tonumber(ARGV[2]))
if wait > 0 then return wait end
quota_take(KEYS[1], now, tonumber(ARGV[1]))
return 0`

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
  readonly #maxEntries: number
  readonly #now: () => number
  /** hashed requester -> tat (ms): present while that requester's quota is not whole. */
  readonly #tats = new Map<string, number>()
  /** No tat is earlier than this (a lower bound): a sweep before it would free nothing. */
  #earliest = Number.POSITIVE_INFINITY

  constructor (options: MemoryQuotaOptions) {
    ({ intervalMs: this.#intervalMs, burstMs: this.#burstMs } = gcraParameters(options))
    this.#hasher = new Sealer(options.secret)
    this.#maxEntries = options.maxEntries
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
    if (!this.#tats.has(key) && this.#tats.size >= this.#maxEntries) {
      if (now >= this.#earliest) this.#sweep(now)
      if (this.#tats.size >= this.#maxEntries) throw new WC_ERR_QUOTA_FULL()
    }
    const next = tat + this.#intervalMs
    this.#tats.set(key, next)
    if (next < this.#earliest) this.#earliest = next
    return 0
  }

  async close (): Promise<void> {
    this.#tats.clear()
  }

  /** Drops the requesters whose quota is whole again; runs only when full and one may be. */
  #sweep (now: number): void {
    let earliest = Number.POSITIVE_INFINITY
    for (const [key, tat] of this.#tats) {
      if (tat <= now) this.#tats.delete(key)
      else if (tat < earliest) earliest = tat
    }
    this.#earliest = earliest
  }
}

export interface RedisQuotaOptions extends QuotaRate {
  client: Pick<RedisClientType, 'eval'>
  secret: Buffer
  prefix: string
}

/** The fragment as a script of its own (a second round trip if used beside the create script; see above). */
export class RedisQuota implements Quota {
  readonly #client: Pick<RedisClientType, 'eval'>
  readonly #hasher: Sealer
  readonly #prefix: string
  readonly #args: string[]

  constructor (options: RedisQuotaOptions) {
    const { intervalMs, burstMs } = gcraParameters(options)
    this.#client = options.client
    this.#hasher = new Sealer(options.secret)
    this.#prefix = options.prefix
    this.#args = [String(intervalMs), String(burstMs)]
  }

  async take (requesterId: number): Promise<number> {
    const key = `${this.#prefix}quota:${this.#hasher.hash(`quota:${requesterId}`)}`
    try {
      return Number(await this.#client.eval(QUOTA_TAKE_SCRIPT, { keys: [key], arguments: this.#args }))
    } catch {
      throw new WC_ERR_STORE_UNAVAILABLE()
    }
  }

  async close (): Promise<void> {}
}
