/**
 * The default store: one process, nothing to install. Every call is O(1)
 * (amortised; O(per-target cap) at most): an index by target, a pair index for
 * dedupe, and expiry that only ever looks at the oldest requests, since with
 * one TTL for all, creation order is expiry order. Expiry runs on the
 * monotonic clock, so a wall clock that steps back or forth changes nothing.
 * Ids are held only as keyed hashes; the request id and the answer are sealed
 * with a key made at start and never written anywhere.
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_STORE_FULL, WC_ERR_TARGET_BUSY } from '../errors.js'
import { StoreKeys } from './keys.js'
import { sameText } from './same-text.js'
import type { ResultState, StoreLimits, StoreListener, TaskStore, Topic } from './task-store.js'

interface Entry {
  /** The request id, sealed under this entry's key. */
  sealedId: string
  /** The answer's package name, sealed; undefined while pending. */
  sealedAnswer: string | undefined
  /** When the answer landed (monotonic ms), for the retry grace of a repeated submit. */
  answeredAt: number
  targetKey: string
  pairKey: string
  /** Monotonic ms (performance.now()). */
  expiresAt: number
}

const SWEEP_INTERVAL_MS = 1000

export interface MemoryTaskStoreOptions extends StoreLimits {
  listener: StoreListener
  /** Defaults to a new random key: nothing survives a restart. */
  sealer?: Sealer
}

/** Sealing contexts: each sealed field is bound to its record and to its field. */
const idContext = (key: string): string => `id:${key}`
const answerContext = (key: string): string => `answer:${key}`

export class MemoryTaskStore implements TaskStore {
  readonly #limits: StoreLimits
  readonly #sealer: Sealer
  readonly #keys: StoreKeys
  readonly #listener: StoreListener
  /** By request key, in creation (= expiry) order. */
  readonly #requests = new Map<string, Entry>()
  /** Pending request keys by target key, oldest first; a lone key is kept unwrapped to save an array per target. */
  readonly #byTarget = new Map<string, string | string[]>()
  /** Pending request key by (requester, target) pair key. */
  readonly #byPair = new Map<string, string>()
  readonly #sweeper: NodeJS.Timeout

  constructor (options: MemoryTaskStoreOptions) {
    this.#limits = { ttlMs: options.ttlMs, maxPendingPerTarget: options.maxPendingPerTarget, maxPendingTotal: options.maxPendingTotal, retryGraceMs: options.retryGraceMs }
    this.#sealer = options.sealer ?? new Sealer()
    this.#keys = new StoreKeys(this.#sealer)
    this.#listener = options.listener
    this.#sweeper = setInterval(() => this.#sweep(performance.now()), SWEEP_INTERVAL_MS).unref()
  }

  async createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }> {
    const now = performance.now()
    this.#sweep(now)
    const pairKey = this.#keys.pair(requesterId, targetId)
    const existingKey = this.#byPair.get(pairKey)
    if (existingKey !== undefined) {
      const existing = this.#requests.get(existingKey)
      if (existing !== undefined && existing.expiresAt > now) {
        const requestId = this.#sealer.open(existing.sealedId, idContext(existingKey))
        if (requestId !== undefined) return { requestId, created: false }
      }
    }
    const targetKey = this.#keys.target(targetId)
    const queued = this.#byTarget.get(targetKey)
    if (queuedCount(queued) >= this.#limits.maxPendingPerTarget) throw new WC_ERR_TARGET_BUSY()
    if (this.#requests.size >= this.#limits.maxPendingTotal) throw new WC_ERR_STORE_FULL()

    const requestId = randomUUID()
    const key = this.#keys.request(requestId)
    this.#requests.set(key, {
      sealedId: this.#sealer.seal(requestId, idContext(key)),
      sealedAnswer: undefined,
      answeredAt: 0,
      targetKey,
      pairKey,
      expiresAt: now + this.#limits.ttlMs
    })
    this.#byTarget.set(targetKey, withQueued(queued, key))
    this.#byPair.set(pairKey, key)
    this.#listener.wake(targetKey)
    return { requestId, created: true }
  }

  async pendingTasks (userId: number): Promise<string[]> {
    const queued = this.#byTarget.get(this.#keys.target(userId))
    if (queued === undefined) return []
    const now = performance.now()
    const ids: string[] = []
    for (const key of typeof queued === 'string' ? [queued] : queued) {
      const entry = this.#requests.get(key)
      if (entry === undefined || entry.expiresAt <= now) continue
      const id = this.#sealer.open(entry.sealedId, idContext(key))
      if (id !== undefined) ids.push(id)
    }
    return ids
  }

  async submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    const key = this.#keys.request(requestId)
    const entry = this.#requests.get(key)
    if (entry === undefined) return false
    const now = performance.now()
    if (entry.expiresAt <= now) {
      this.#remove(key, entry)
      return false
    }
    if (entry.sealedAnswer !== undefined) {
      // A retry of the submit that landed (its reply may have been lost) succeeds again.
      if (now - entry.answeredAt >= this.#limits.retryGraceMs) return false
      return sameText(this.#sealer.open(entry.sealedAnswer, answerContext(key)), packageName)
    }
    entry.sealedAnswer = this.#sealer.seal(packageName, answerContext(key))
    entry.answeredAt = now
    this.#unindex(key, entry)
    this.#listener.wake(key)
    return true
  }

  async takeResult (requestId: string): Promise<ResultState> {
    const key = this.#keys.request(requestId)
    const entry = this.#requests.get(key)
    if (entry === undefined) return { status: 'expired' }
    const now = performance.now()
    if (entry.expiresAt <= now) {
      this.#remove(key, entry)
      return { status: 'expired' }
    }
    if (entry.sealedAnswer === undefined) return { status: 'pending', expiresInMs: entry.expiresAt - now }
    // In one process the answer cannot be lost between here and the relay: delivered, forgotten.
    this.#requests.delete(key)
    const packageName = this.#sealer.open(entry.sealedAnswer, answerContext(key))
    return packageName === undefined ? { status: 'expired' } : { status: 'completed', packageName }
  }

  wakeKey (topic: Topic): string {
    return this.#keys.topic(topic)
  }

  isReady (): boolean {
    return true
  }

  async countHeld (): Promise<number> {
    return this.size()
  }

  /** How many requests count towards MAX_PENDING_TOTAL now, synchronously (tests). */
  size (): number {
    this.#sweep(performance.now())
    return this.#requests.size
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
    this.#requests.clear()
    this.#byTarget.clear()
    this.#byPair.clear()
    this.#listener.wakeAll()
  }

  /** Drops expired requests from the oldest end; stops at the first live one. */
  #sweep (now: number): void {
    for (const [key, entry] of this.#requests) {
      if (entry.expiresAt > now) return
      this.#remove(key, entry)
    }
  }

  #remove (key: string, entry: Entry): void {
    this.#requests.delete(key)
    if (entry.sealedAnswer === undefined) this.#unindex(key, entry)
  }

  /** Takes a request out of the target and pair indexes (it stops being a pending task). */
  #unindex (key: string, entry: Entry): void {
    const queued = this.#byTarget.get(entry.targetKey)
    if (queued === key) {
      this.#byTarget.delete(entry.targetKey)
    } else if (Array.isArray(queued)) {
      const at = queued.indexOf(key)
      if (at !== -1) queued.splice(at, 1)
      if (queued.length === 1) this.#byTarget.set(entry.targetKey, queued[0] as string)
    }
    if (this.#byPair.get(entry.pairKey) === key) this.#byPair.delete(entry.pairKey)
  }
}

function queuedCount (queued: string | string[] | undefined): number {
  if (queued === undefined) return 0
  return typeof queued === 'string' ? 1 : queued.length
}

/** The target's queue with `key` added at the end. */
function withQueued (queued: string | string[] | undefined, key: string): string | string[] {
  if (queued === undefined) return key
  if (typeof queued === 'string') return [queued, key]
  queued.push(key)
  return queued
}
