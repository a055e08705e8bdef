/**
 * The one interface every task-store adapter implements (memory, Redis), and
 * the single conformance suite in test/store/ holds them all to it. The relay
 * sees only this: v1 and v2 semantics live here, long-polls and transport
 * elsewhere.
 *
 * v1 and v2 share one set of requests. A request made through v1 is
 * unverified (its requester id is only claimed); one made through v2 (`ask`)
 * knows its requester, who alone may read its answer. The v1 calls keep their
 * meaning with three limits (docs/protocol.md, "v1 beside v2"): a user marked
 * signed in (`markSignedIn`) is shielded from them, a sealed request is never
 * shown to them, and a v2 request's result is never read through them.
 */
import type { QuotaRate } from '../identity/quota.js'

/** What a requester learns about her request. */
export type ResultState =
  /** `expiresInMs`: how long before the requester should look again at the latest (relative: clocks differ). */
  | { status: 'pending', expiresInMs: number }
  | { status: 'completed', packageName: string }
  | { status: 'expired' }

/** A sealed answer as it travels (HPKE `enc` and `ciphertext`, base64url): the store holds it as it is, sealed again at rest. */
export interface SealedAnswer { enc: string, ciphertext: string }

/** What a target answers through v2. */
export type Answer =
  | { kind: 'plain', packageName: string }
  | { kind: 'sealed', sealed: SealedAnswer }
  | { kind: 'declined' }

export interface AskOptions {
  /** The asker chose to be named to the target (`"anonymous": false`). */
  named: boolean
  /** The X25519 public key (base64url) of a sealed request; absent for a plain one. */
  publicKey?: string | undefined
}

/** A pending question as its target sees it through v2. */
export interface Task {
  requestId: string
  /** The asker's id, only when they asked through v2 and chose to be named. */
  requesterId: number | null
  /** Asked through v2 (a signed-in asker), not v1. */
  verified: boolean
  expiresInMs: number
  /** Set for a sealed request: the key to seal the answer to. */
  publicKey?: string
}

/** What the asker of a v2 request learns about it. */
export type VerifiedResult =
  | { status: 'pending', expiresInMs: number }
  | { status: 'completed', answer: { kind: 'plain', packageName: string } | { kind: 'sealed', sealed: SealedAnswer }, verified: boolean }
  | { status: 'declined' }
  | { status: 'expired' }

/**
 * What became of a v2 answer: `mismatch` when a plain answer came for a
 * sealed request or a sealed one for a plain request (only ever told to the
 * request's target); `not_found` for everything else that is refused.
 */
export type AnswerOutcome = 'accepted' | 'not_found' | 'mismatch'

/**
 * A reader of a result, as a held poll shows it: `aborted` once it has left,
 * before it was handed anything; `listening` while it is registered for the
 * topic's wake-ups (a poll that may wait; not one that looks once and
 * answers, as a pipelined poll or one made while the server closes does).
 */
export interface Reader {
  readonly aborted: boolean
  readonly listening: boolean
}

/** What a long-poll waits on: new tasks for a user, or the answer to a request. */
export type Topic =
  | { kind: 'tasks', userId: number }
  | { kind: 'result', requestId: string }

/**
 * How an adapter tells its owner (the relay) that held polls should look
 * again. Keys are the adapter's own wake keys (see `TaskStore.wakeKey`).
 */
export interface StoreListener {
  /** Something may have changed for the topic with this wake key, on any instance. */
  wake (key: string): void
  /** Anything may have changed, or wake-ups may have been lost: every held poll looks again. */
  wakeAll (): void
}

export interface TaskStore {
  /**
   * v1: opens an unverified request from `requesterId` to `targetId`, or
   * returns the v1 request still pending between them (`created: false`).
   * Throws WC_ERR_TARGET_BUSY, WC_ERR_UNVERIFIED_BUSY (both with
   * `retryAfterMs`) or WC_ERR_STORE_FULL when a cap is hit. Safe to retry: a
   * create that took effect unseen is found again by the retry.
   */
  createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }>

  /**
   * v1: request ids of the pending tasks whose target is `userId`, oldest
   * (first created) first; sealed requests left out. `null` while `userId` is
   * marked signed in: v1 sees nothing of them, and a v1 poll must not wait
   * (a held one would take a place among the user's held polls).
   *
   * `key`, here and in the other lookups: what `wakeKey` gave for the same
   * topic (a held poll has it), so that the id is not hashed again on every
   * look. Only ever that: the store takes it as the id's key unchecked.
   */
  pendingTasks (userId: number, key?: string): Promise<string[] | null>

  /**
   * v1: records the target's answer (unverified). False when the request is
   * unknown, expired, sealed, about a user marked signed in, or answered with
   * another package name; true again for the same answer within the retry
   * grace, so that a retried submit succeeds.
   */
  submitAnswer (requestId: string, packageName: string): Promise<boolean>

  /**
   * v1: the request's state; a completed result is delivered once and then
   * forgotten (a declined one is delivered as expired). (Redis: once its
   * delivery is confirmed; a hand-out left unconfirmed reaches the next reader
   * too, within the retry grace: docs/operations.md.) A request made through
   * v2 is `expired` here and stays for its asker. `reader` aborted means the
   * reader has left: an adapter that can tell (Redis) then keeps the answer
   * for the next reader. A `reader` is given by held polls only; one that is
   * `listening` was registered for the topic's wake-ups before it looked, and
   * an adapter may answer its look from what its wake-ups told it (Redis:
   * fresh-requests.ts): a wake-up still on its way reaches it.
   */
  takeResult (requestId: string, reader?: Reader, key?: string): Promise<ResultState>

  /**
   * v2: opens a verified request, or returns the one still pending from the
   * same requester to the same target with the same public key (or none).
   * Only a request actually opened is charged to the requester's quota.
   * Throws WC_ERR_TARGET_BUSY, WC_ERR_QUOTA_EXCEEDED (both with
   * `retryAfterMs`), WC_ERR_STORE_FULL or WC_ERR_QUOTA_FULL. Safe to retry.
   */
  ask (requesterId: number, targetId: number, options: AskOptions): Promise<{ requestId: string, created: boolean, expiresInMs: number }>

  /**
   * v2: the pending questions about `userId`, oldest first, v1 and v2 ones
   * alike. With `signedInUntilMs` (the caller's session end, unix ms), it also
   * keeps their signed-in mark up at least that long, as markSignedIn does
   * (in memory, never past the bound): a mark Redis lost with its data (a
   * restart, a failover) is back by the user's next poll, not at their next
   * sign-in, which their token can put off for a day.
   */
  inbox (userId: number, key?: string, signedInUntilMs?: number): Promise<Task[]>

  /**
   * v2: `callerId` answers a pending question about them. The same answer
   * again within the retry grace is accepted again.
   */
  answerAs (callerId: number, requestId: string, answer: Answer): Promise<AnswerOutcome>

  /**
   * v2: the state of `callerId`'s own request; anyone else's is `expired`
   * (and left as it is). Completed and declined are delivered once (as above).
   */
  resultFor (callerId: number, requestId: string, reader?: Reader, key?: string): Promise<VerifiedResult>

  /**
   * Marks `userId` signed in through v2 until `untilMs` (unix ms; a mark only
   * ever moves later): until then the v1 calls cannot list or answer
   * questions about them. A user not marked until now has their task polls
   * woken, so that their held v1 polls answer at once rather than keep the
   * places of their own v2 polls. Throws WC_ERR_SIGN_INS_FULL (memory, at its bound).
   */
  markSignedIn (userId: number, untilMs: number): Promise<void>

  /** The key under which this store reports wake-ups for `topic`: a keyed hash, it names nobody. */
  wakeKey (topic: Topic): string

  /** How many requests the store holds now (pending, or answered and not yet delivered): the pending-requests gauge. */
  countHeld (): Promise<number>

  /** Whether the store can serve calls now and deliver wake-ups (readiness). */
  isReady (): boolean

  /** Frees resources; calls after it fail. */
  close (): Promise<void>
}

/** Settings every adapter honours. */
export interface StoreLimits {
  ttlMs: number
  maxPendingPerTarget: number
  maxPendingTotal: number
  /** How long an answer stays retrievable by a retried call (see docs/operations.md). */
  retryGraceMs: number
  /**
   * Pending v1 (unverified) questions per target, inside maxPendingPerTarget;
   * undefined when sign-in is not configured (no verified questions to keep room for).
   */
  maxUnverifiedPerTarget?: number | undefined
  /** v2 asks per requester (ASK_LIMIT_PER_HOUR). */
  askQuota: QuotaRate
  /** Memory: most users marked signed in, and most askers with a quota not yet whole, at once. */
  maxSignedInUsers: number
}

/** The limits alone, out of an adapter's options (which carry more: a key, a listener, a client). */
export function storeLimits (options: StoreLimits): StoreLimits {
  const { ttlMs, maxPendingPerTarget, maxPendingTotal, retryGraceMs, maxUnverifiedPerTarget, askQuota, maxSignedInUsers } = options
  return { ttlMs, maxPendingPerTarget, maxPendingTotal, retryGraceMs, maxUnverifiedPerTarget, askQuota, maxSignedInUsers }
}
