/**
 * The one interface every task-store adapter implements (memory, Redis), and
 * the single conformance suite in test/store/ holds them all to it. Routes and
 * the relay see only this: v1 semantics live here, transport lives elsewhere.
 */

/** What a requester learns about her request. */
export type ResultState =
  | { status: 'pending', expiresAt: number }
  | { status: 'completed', packageName: string }
  | { status: 'expired' }

/** What a long-poll waits on: new tasks for a user, or the answer to a request. */
export type Topic =
  | { kind: 'tasks', userId: number }
  | { kind: 'result', requestId: string }

export interface Watch {
  cancel (): void
}

export interface TaskStore {
  /**
   * Opens a request from `requesterId` to `targetId`, or returns the one that
   * is still pending between them (`created: false`). Throws WC_ERR_TARGET_BUSY
   * or WC_ERR_STORE_FULL when a cap is hit.
   */
  createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }>

  /** Request ids of the pending tasks whose target is `userId`, oldest first. */
  pendingTasks (userId: number): Promise<string[]>

  /** Records the target's answer. False when the request is unknown, expired or already answered. */
  submitAnswer (requestId: string, packageName: string): Promise<boolean>

  /** The request's state; a completed result is deleted as it is returned (delivered once). */
  takeResult (requestId: string): Promise<ResultState>

  /**
   * Calls `onWake` whenever something may have changed for `topic`, on any
   * instance sharing this store. Throws WC_ERR_TOO_MANY_POLLS or
   * WC_ERR_POLLS_FULL when the caps on held polls are hit.
   */
  watch (topic: Topic, onWake: () => void): Watch

  /** How many long-polls this process holds on the store now. */
  heldPolls (): number

  /** Whether the store can serve calls now (readiness). */
  isReady (): boolean

  /** How many requests the store holds, pending or answered and not yet delivered. */
  size (): Promise<number>

  /** Releases every watcher and frees resources. */
  close (): Promise<void>
}

/** Settings every adapter honours. */
export interface StoreLimits {
  ttlMs: number
  maxPendingPerTarget: number
  maxPendingTotal: number
}
