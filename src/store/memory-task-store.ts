/**
 * The default store: one process, nothing to install. Every call is O(1)
 * (amortised; O(per-target cap) at most): an index by target, a pair index for
 * dedupe, and expiry that only ever looks at the oldest requests, since with
 * one TTL for all, creation order is expiry order. Expiry runs on the
 * monotonic clock, so a wall clock that steps back or forth changes nothing.
 * Ids are held only as keyed hashes (user ids as a keyed AES permutation, made
 * anew each start: src/crypto/id-permutation.ts); the request id, the requester's id, the
 * public key and the answer are sealed with a key made at start and never
 * written anywhere, each bound to its record and its field.
 *
 * Every call runs to its end without yielding, so each is atomic as the Redis
 * adapter's scripts are: the quota is charged in the same step that opens a
 * request.
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { BoundedExpiries } from '../bounded-expiries.js'
import { IdPermutation } from '../crypto/id-permutation.js'
import { Sealer } from '../crypto/sealer.js'
import { retryAfter, WC_ERR_QUOTA_EXCEEDED, WC_ERR_SIGN_INS_FULL, WC_ERR_STORE_FULL, WC_ERR_TARGET_BUSY, WC_ERR_UNVERIFIED_BUSY } from '../errors.js'
import { MemoryQuota } from '../identity/quota.js'
import { answerPayload, answerFromPayload, type AnswerKind } from './answers.js'
import { StoreKeys } from './keys.js'
import { sameText } from './same-text.js'
import { storeLimits, type Answer, type AnswerOutcome, type AskOptions, type Reader, type ResultState, type StoreLimits, type StoreListener, type Task, type TaskStore, type Topic, type VerifiedResult } from './task-store.js'

interface Entry {
  /** The request id, sealed under this entry's key. */
  sealedId: string
  /** v2: the asker's keyed hash (who may read the answer); undefined for a v1 (unverified) request. */
  requesterKey: string | undefined
  /** v2, named asks only: the asker's id, sealed. */
  sealedRequester: string | undefined
  /** Sealed requests only: the asker's public key, sealed. */
  sealedPublicKey: string | undefined
  /** Undefined while pending. */
  answerKind: AnswerKind | undefined
  /** The answer (a package name, or a sealed answer's `enc.ciphertext`), sealed; undefined for a decline. */
  sealedAnswer: string | undefined
  /** The answer came through v2. */
  answerVerified: boolean
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
const requesterContext = (key: string): string => `requester:${key}`
const publicKeyContext = (key: string): string => `key:${key}`

export class MemoryTaskStore implements TaskStore {
  readonly #limits: StoreLimits
  readonly #sealer: Sealer
  readonly #keys: StoreKeys
  readonly #listener: StoreListener
  readonly #quota: MemoryQuota
  /** By request key, in creation (= expiry) order. */
  readonly #requests = new Map<string, Entry>()
  /** Pending request keys by target key, oldest first; a lone key is kept unwrapped to save an array per target. */
  readonly #byTarget = new Map<string, string | string[]>()
  /** How many of a target's pending requests came through v1, by target key (absent: none). */
  readonly #unverified = new Map<string, number>()
  /** Pending request key by pair key (v1 and v2 pairs hash apart). */
  readonly #byPair = new Map<string, string>()
  /** Signed-in marks: target key -> until (monotonic ms), in about expiry order (see #keepMark). */
  readonly #signedIn: BoundedExpiries
  readonly #sweeper: NodeJS.Timeout

  constructor (options: MemoryTaskStoreOptions) {
    this.#limits = storeLimits(options)
    this.#sealer = options.sealer ?? new Sealer()
    this.#keys = new StoreKeys(this.#sealer, new IdPermutation())
    this.#listener = options.listener
    this.#signedIn = new BoundedExpiries(options.maxSignedInUsers)
    this.#quota = new MemoryQuota({ ...options.askQuota, maxEntries: options.maxSignedInUsers, now: () => performance.now() })
    this.#sweeper = setInterval(() => this.#sweep(performance.now()), SWEEP_INTERVAL_MS).unref()
  }

  async createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }> {
    const now = performance.now()
    this.#sweep(now)
    const pairKey = this.#keys.pair(requesterId, targetId)
    const existing = this.#pendingOfPair(pairKey, now)
    if (existing !== undefined) return { requestId: existing.requestId, created: false }
    const targetKey = this.#keys.target(targetId)
    this.#checkTargetRoom(targetKey, now)
    const maxUnverified = this.#limits.maxUnverifiedPerTarget
    if (maxUnverified !== undefined && (this.#unverified.get(targetKey) ?? 0) >= maxUnverified) {
      throw retryAfter(new WC_ERR_UNVERIFIED_BUSY(), this.#untilOldestFrees(targetKey, now, (entry) => entry.requesterKey === undefined))
    }
    if (this.#requests.size >= this.#limits.maxPendingTotal) throw new WC_ERR_STORE_FULL()
    const { requestId } = this.#open(now, targetKey, pairKey, undefined)
    return { requestId, created: true }
  }

  async ask (requesterId: number, targetId: number, options: AskOptions): Promise<{ requestId: string, created: boolean, expiresInMs: number }> {
    const now = performance.now()
    this.#sweep(now)
    const pairKey = this.#keys.verifiedPair(requesterId, targetId, options.publicKey)
    const existing = this.#pendingOfPair(pairKey, now)
    if (existing !== undefined) return { requestId: existing.requestId, created: false, expiresInMs: existing.entry.expiresAt - now }
    const targetKey = this.#keys.target(targetId)
    this.#checkTargetRoom(targetKey, now)
    if (this.#requests.size >= this.#limits.maxPendingTotal) throw new WC_ERR_STORE_FULL()
    // Last: an ask refused for any other reason costs no quota.
    const wait = this.#quota.takeNow(requesterId)
    if (wait > 0) throw retryAfter(new WC_ERR_QUOTA_EXCEEDED(), wait)
    const { requestId, entry, key } = this.#open(now, targetKey, pairKey, this.#keys.requester(requesterId))
    if (options.named) entry.sealedRequester = this.#sealer.seal(String(requesterId), requesterContext(key))
    if (options.publicKey !== undefined) entry.sealedPublicKey = this.#sealer.seal(options.publicKey, publicKeyContext(key))
    return { requestId, created: true, expiresInMs: this.#limits.ttlMs }
  }

  async pendingTasks (userId: number, targetKey = this.#keys.target(userId)): Promise<string[] | null> {
    // The idle poll: nobody asked, nobody signed in (two lookups, no clock, no generator).
    if (!this.#byTarget.has(targetKey) && !this.#signedIn.has(targetKey)) return []
    const now = performance.now()
    if (this.#signedIn.isLive(targetKey, now)) return null
    const ids: string[] = []
    for (const [key, entry] of this.#pendingOf(targetKey, now)) {
      // A v1 plugin cannot seal: sealed requests are for v2 targets only.
      if (entry.sealedPublicKey !== undefined) continue
      const id = this.#sealer.open(entry.sealedId, idContext(key))
      if (id !== undefined) ids.push(id)
    }
    return ids
  }

  async inbox (userId: number, targetKey = this.#keys.target(userId), signedInUntilMs?: number): Promise<Task[]> {
    const now = performance.now()
    if (signedInUntilMs !== undefined) this.#keepMark(targetKey, now + (signedInUntilMs - Date.now()), now, true)
    const tasks: Task[] = []
    if (!this.#byTarget.has(targetKey)) return tasks
    for (const [key, entry] of this.#pendingOf(targetKey, now)) {
      const requestId = this.#sealer.open(entry.sealedId, idContext(key))
      if (requestId === undefined) continue
      const requester = entry.sealedRequester === undefined ? undefined : this.#sealer.open(entry.sealedRequester, requesterContext(key))
      const task: Task = {
        requestId,
        requesterId: requester === undefined ? null : Number(requester),
        verified: entry.requesterKey !== undefined,
        expiresInMs: entry.expiresAt - now
      }
      if (entry.sealedPublicKey !== undefined) {
        const publicKey = this.#sealer.open(entry.sealedPublicKey, publicKeyContext(key))
        if (publicKey === undefined) continue
        task.publicKey = publicKey
      }
      tasks.push(task)
    }
    return tasks
  }

  async submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    const key = this.#keys.request(requestId)
    const entry = this.#live(key)
    if (entry === undefined) return false
    if (entry.sealedPublicKey !== undefined || this.#signedIn.isLive(entry.targetKey, performance.now())) return false
    return this.#answer(key, entry, { kind: 'plain', packageName }, false)
  }

  async answerAs (callerId: number, requestId: string, answer: Answer): Promise<AnswerOutcome> {
    const key = this.#keys.request(requestId)
    const entry = this.#live(key)
    if (entry === undefined || !sameText(entry.targetKey, this.#keys.target(callerId))) return 'not_found'
    if (answer.kind !== 'declined' && (answer.kind === 'sealed') !== (entry.sealedPublicKey !== undefined)) return 'mismatch'
    return this.#answer(key, entry, answer, true) ? 'accepted' : 'not_found'
  }

  async takeResult (requestId: string, _reader?: Reader, key = this.#keys.request(requestId)): Promise<ResultState> {
    const entry = this.#live(key)
    // A v2 request's result is its asker's, through v2 only.
    if (entry === undefined || entry.requesterKey !== undefined) return { status: 'expired' }
    if (entry.answerKind === undefined) return { status: 'pending', expiresInMs: entry.expiresAt - performance.now() }
    const answer = this.#deliver(key, entry)
    return answer?.kind === 'plain' ? { status: 'completed', packageName: answer.packageName } : { status: 'expired' }
  }

  async resultFor (callerId: number, requestId: string, _reader?: Reader, key = this.#keys.request(requestId)): Promise<VerifiedResult> {
    const entry = this.#live(key)
    if (entry?.requesterKey === undefined || !sameText(entry.requesterKey, this.#keys.requester(callerId))) return { status: 'expired' }
    if (entry.answerKind === undefined) return { status: 'pending', expiresInMs: entry.expiresAt - performance.now() }
    const answer = this.#deliver(key, entry)
    if (answer === undefined) return { status: 'expired' }
    if (answer.kind === 'declined') return { status: 'declined' }
    return { status: 'completed', answer, verified: entry.answerVerified }
  }

  async markSignedIn (userId: number, untilMs: number): Promise<void> {
    const now = performance.now()
    const key = this.#keys.target(userId)
    const shielded = this.#signedIn.isLive(key, now)
    if (!this.#keepMark(key, now + (untilMs - Date.now()), now)) throw new WC_ERR_SIGN_INS_FULL()
    // Newly shielded: their held v1 polls look again and answer at once (TaskStore.markSignedIn).
    if (!shielded) this.#listener.wake(key)
  }

  /**
   * Keeps `key`'s mark at least until `until` (monotonic ms); false when a new mark finds
   * no room. A mark moved goes to the end: sign-ins share one session TTL, so the marks
   * stay in about expiry order and ended ones leave from the front. A poll (`byPoll`)
   * leaves a mark within a second of `until` as it is, since each poll's figure jitters
   * by a millisecond and moving the mark for that would take it out of order. A full
   * table is swept whole (should a mark be out of order) before anyone is refused.
   */
  #keepMark (key: string, until: number, now: number, byPoll = false): boolean {
    const current = this.#signedIn.get(key)
    if (current !== undefined && current >= until - (byPoll ? 1000 : 0)) return true
    this.#signedIn.dropExpiredHead(now)
    return this.#signedIn.set(key, until, now)
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
    this.#unverified.clear()
    this.#byPair.clear()
    this.#signedIn.clear()
    await this.#quota.close()
    this.#listener.wakeAll()
  }

  #pendingOfPair (pairKey: string, now: number): { requestId: string, entry: Entry } | undefined {
    const key = this.#byPair.get(pairKey)
    if (key === undefined) return undefined
    const entry = this.#requests.get(key)
    if (entry === undefined || entry.expiresAt <= now || entry.answerKind !== undefined) return undefined
    const requestId = this.#sealer.open(entry.sealedId, idContext(key))
    return requestId === undefined ? undefined : { requestId, entry }
  }

  /** Throws WC_ERR_TARGET_BUSY, with when the oldest pending request frees its slot, when the target's queue is full. */
  #checkTargetRoom (targetKey: string, now: number): void {
    if (queuedCount(this.#byTarget.get(targetKey)) < this.#limits.maxPendingPerTarget) return
    throw retryAfter(new WC_ERR_TARGET_BUSY(), this.#untilOldestFrees(targetKey, now, () => true))
  }

  /** ms until the oldest of the target's pending requests that `counts` expires (it may be answered sooner). */
  #untilOldestFrees (targetKey: string, now: number, counts: (entry: Entry) => boolean): number {
    for (const [, entry] of this.#pendingOf(targetKey, now)) {
      if (counts(entry)) return Math.max(1, entry.expiresAt - now)
    }
    return 1
  }

  #open (now: number, targetKey: string, pairKey: string, requesterKey: string | undefined): { requestId: string, key: string, entry: Entry } {
    const requestId = randomUUID()
    const key = this.#keys.request(requestId)
    const entry: Entry = {
      sealedId: this.#sealer.seal(requestId, idContext(key)),
      requesterKey,
      sealedRequester: undefined,
      sealedPublicKey: undefined,
      answerKind: undefined,
      sealedAnswer: undefined,
      answerVerified: false,
      answeredAt: 0,
      targetKey,
      pairKey,
      expiresAt: now + this.#limits.ttlMs
    }
    this.#requests.set(key, entry)
    this.#byTarget.set(targetKey, withQueued(this.#byTarget.get(targetKey), key))
    if (requesterKey === undefined) this.#unverified.set(targetKey, (this.#unverified.get(targetKey) ?? 0) + 1)
    this.#byPair.set(pairKey, key)
    this.#listener.wake(targetKey)
    return { requestId, key, entry }
  }

  /** The target's pending, unexpired requests, oldest first. */
  * #pendingOf (targetKey: string, now: number): Generator<[string, Entry]> {
    const queued = this.#byTarget.get(targetKey)
    if (queued === undefined) return
    for (const key of typeof queued === 'string' ? [queued] : queued) {
      const entry = this.#requests.get(key)
      if (entry !== undefined && entry.expiresAt > now) yield [key, entry]
    }
  }

  /** The entry, unless unknown or expired (an expired one is dropped). */
  #live (key: string): Entry | undefined {
    const entry = this.#requests.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= performance.now()) {
      this.#remove(key, entry)
      return undefined
    }
    return entry
  }

  /** Records an answer; the first wins, and the same one again within the grace is a retry. */
  #answer (key: string, entry: Entry, answer: Answer, verified: boolean): boolean {
    const now = performance.now()
    const payload = answerPayload(answer)
    if (entry.answerKind !== undefined) {
      // A retry of the submit that landed (its reply may have been lost) succeeds again.
      if (now - entry.answeredAt >= this.#limits.retryGraceMs) return false
      if (entry.answerKind !== answer.kind || entry.answerVerified !== verified) return false
      if (entry.sealedAnswer === undefined) return payload === undefined
      return payload !== undefined && sameText(this.#sealer.open(entry.sealedAnswer, answerContext(key)), payload)
    }
    entry.answerKind = answer.kind
    entry.sealedAnswer = payload === undefined ? undefined : this.#sealer.seal(payload, answerContext(key))
    entry.answerVerified = verified
    entry.answeredAt = now
    this.#unindex(key, entry)
    this.#listener.wake(key)
    return true
  }

  /** Hands out an answered request's answer and forgets it: in one process it cannot be lost on the way to the relay. */
  #deliver (key: string, entry: Entry): Answer | undefined {
    this.#requests.delete(key)
    const kind = entry.answerKind as AnswerKind
    const payload = entry.sealedAnswer === undefined ? undefined : this.#sealer.open(entry.sealedAnswer, answerContext(key))
    return answerFromPayload(kind, payload)
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
    if (entry.answerKind === undefined) this.#unindex(key, entry)
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
    if (entry.requesterKey === undefined) {
      const left = (this.#unverified.get(entry.targetKey) ?? 1) - 1
      if (left > 0) this.#unverified.set(entry.targetKey, left)
      else this.#unverified.delete(entry.targetKey)
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
