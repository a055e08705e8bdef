/**
 * The default store: one process, nothing to install. Every call is O(1)
 * (amortised): an index by target, a pair index for dedupe, and expiry that
 * only ever looks at the oldest requests, since with one TTL for all, creation
 * order is expiry order. Ids are held only as keyed hashes; the request id and
 * the answer are sealed with a key made at start and never written anywhere.
 */
import { randomUUID } from 'node:crypto'
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_STORE_FULL, WC_ERR_TARGET_BUSY } from '../errors.js'
import { StoreKeys } from './keys.js'
import type { ResultState, StoreLimits, TaskStore, Topic, Watch } from './task-store.js'
import { Wakeups } from './wakeups.js'

interface Entry {
  /** The request id, sealed under this entry's key. */
  sealedId: string
  /** The answer's package name, sealed; undefined while pending. */
  sealedAnswer: string | undefined
  targetKey: string
  pairKey: string
  expiresAt: number
}

const SWEEP_INTERVAL_MS = 1000

export interface MemoryTaskStoreOptions extends StoreLimits {
  wakeups: Wakeups
  /** Defaults to a new random key: nothing survives a restart. */
  sealer?: Sealer
}

export class MemoryTaskStore implements TaskStore {
  readonly #limits: StoreLimits
  readonly #sealer: Sealer
  readonly #keys: StoreKeys
  readonly #wakeups: Wakeups
  /** By request key, in creation (= expiry) order. */
  readonly #requests = new Map<string, Entry>()
  /** Pending request keys by target key, oldest first; a lone key is kept unwrapped to save an array per target. */
  readonly #byTarget = new Map<string, string | string[]>()
  /** Pending request key by (requester, target) pair key. */
  readonly #byPair = new Map<string, string>()
  readonly #sweeper: NodeJS.Timeout

  constructor (options: MemoryTaskStoreOptions) {
    this.#limits = { ttlMs: options.ttlMs, maxPendingPerTarget: options.maxPendingPerTarget, maxPendingTotal: options.maxPendingTotal }
    this.#sealer = options.sealer ?? new Sealer()
    this.#keys = new StoreKeys(this.#sealer)
    this.#wakeups = options.wakeups
    this.#sweeper = setInterval(() => this.#sweep(Date.now()), SWEEP_INTERVAL_MS).unref()
  }

  async createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }> {
    const now = Date.now()
    this.#sweep(now)
    const pairKey = this.#keys.pair(requesterId, targetId)
    const existingKey = this.#byPair.get(pairKey)
    if (existingKey !== undefined) {
      const existing = this.#requests.get(existingKey)
      const requestId = existing && this.#sealer.open(existing.sealedId, existingKey)
      if (requestId !== undefined) return { requestId, created: false }
    }
    const targetKey = this.#keys.target(targetId)
    const queued = this.#byTarget.get(targetKey)
    const queuedCount = queued === undefined ? 0 : typeof queued === 'string' ? 1 : queued.length
    if (queuedCount >= this.#limits.maxPendingPerTarget) throw new WC_ERR_TARGET_BUSY()
    if (this.#requests.size >= this.#limits.maxPendingTotal) throw new WC_ERR_STORE_FULL()

    const requestId = randomUUID()
    const key = this.#keys.request(requestId)
    this.#requests.set(key, {
      sealedId: this.#sealer.seal(requestId, key),
      sealedAnswer: undefined,
      targetKey,
      pairKey,
      expiresAt: now + this.#limits.ttlMs
    })
    this.#byTarget.set(targetKey, queued === undefined ? key : typeof queued === 'string' ? [queued, key] : (queued.push(key), queued))
    this.#byPair.set(pairKey, key)
    this.#wakeups.wake(targetKey)
    return { requestId, created: true }
  }

  async pendingTasks (userId: number): Promise<string[]> {
    const queued = this.#byTarget.get(this.#keys.target(userId))
    if (queued === undefined) return []
    const now = Date.now()
    const ids: string[] = []
    for (const key of typeof queued === 'string' ? [queued] : queued) {
      const entry = this.#requests.get(key)
      if (entry === undefined || entry.expiresAt <= now) continue
      const id = this.#sealer.open(entry.sealedId, key)
      if (id !== undefined) ids.push(id)
    }
    return ids
  }

  async submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    const key = this.#keys.request(requestId)
    const entry = this.#requests.get(key)
    if (entry === undefined || entry.sealedAnswer !== undefined) return false
    if (entry.expiresAt <= Date.now()) {
      this.#remove(key, entry)
      return false
    }
    entry.sealedAnswer = this.#sealer.seal(packageName, key)
    this.#unindex(key, entry)
    this.#wakeups.wake(key)
    return true
  }

  async takeResult (requestId: string): Promise<ResultState> {
    const key = this.#keys.request(requestId)
    const entry = this.#requests.get(key)
    if (entry === undefined) return { status: 'expired' }
    if (entry.expiresAt <= Date.now()) {
      this.#remove(key, entry)
      return { status: 'expired' }
    }
    if (entry.sealedAnswer === undefined) return { status: 'pending', expiresAt: entry.expiresAt }
    this.#requests.delete(key)
    const packageName = this.#sealer.open(entry.sealedAnswer, key)
    return packageName === undefined ? { status: 'expired' } : { status: 'completed', packageName }
  }

  watch (topic: Topic, onWake: () => void): Watch {
    return this.#wakeups.add(this.#keys.topic(topic), onWake)
  }

  heldPolls (): number {
    return this.#wakeups.size
  }

  isReady (): boolean {
    return true
  }

  async size (): Promise<number> {
    this.#sweep(Date.now())
    return this.#requests.size
  }

  async close (): Promise<void> {
    clearInterval(this.#sweeper)
    this.#requests.clear()
    this.#byTarget.clear()
    this.#byPair.clear()
    this.#wakeups.wakeAll()
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
