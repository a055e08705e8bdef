/**
 * The one interface every task-store adapter implements (memory, Redis), and
 * the single conformance suite in test/store/ holds them all to it. The relay
 * sees only this: v1 semantics live here, long-polls and transport elsewhere.
 */

/** What a requester learns about her request. */
export type ResultState =
  /** `expiresInMs`: how long before the requester should look again at the latest (relative: clocks differ). */
  | { status: 'pending', expiresInMs: number }
  | { status: 'completed', packageName: string }
  | { status: 'expired' }

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
   * Opens a request from `requesterId` to `targetId`, or returns the one that
   * is still pending between them (`created: false`). Throws WC_ERR_TARGET_BUSY
   * or WC_ERR_STORE_FULL when a cap is hit. Safe to retry: a create that took
   * effect unseen is found again by the retry.
   */
  createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }>

  /** Request ids of the pending tasks whose target is `userId`, oldest (first created) first. */
  pendingTasks (userId: number): Promise<string[]>

  /**
   * Records the target's answer. False when the request is unknown, expired or
   * answered with another package name; true again for the same answer within
   * the retry grace, so that a retried submit succeeds.
   */
  submitAnswer (requestId: string, packageName: string): Promise<boolean>

  /**
   * The request's state; a completed result is delivered once and then
   * forgotten. `reader` aborted means the reader has left: an adapter that can
   * tell (Redis) then keeps the answer for the next reader.
   */
  takeResult (requestId: string, reader?: AbortSignal): Promise<ResultState>

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
}
