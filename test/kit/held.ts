/**
 * The relay's held calls as promises, for tests. The routes and the fast path
 * answer a held call through an Outcome straight onto its response (no promise
 * per poll); a test would rather await it, and leave it when a signal aborts.
 */
import type { Held, Outcome, Relay } from '../../src/relay/relay.js'
import type { Session } from '../../src/identity/tokens.js'
import type { ResultState, Task, VerifiedResult } from '../../src/store/task-store.js'

interface Settle<T> {
  resolve: (value: T) => void
  reject: (error: unknown) => void
  /** Stops listening to the client once the hold has answered. */
  unlisten: () => void
}

const SETTLE: Outcome<any, Settle<any>> = {
  answer (settle, value) {
    settle.unlisten()
    settle.resolve(value)
  },
  fail (settle, error) {
    settle.unlisten()
    settle.reject(error)
  }
}

/** Starts the hold `make` makes, as a promise; `client` aborting leaves it (its client gone). */
function held<T> (make: (outcome: Outcome<T, Settle<T>>, settle: Settle<T>) => Held, client?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const leave = (): void => { hold.leave() }
    const hold = make(SETTLE, { resolve, reject, unlisten: () => { client?.removeEventListener('abort', leave) } })
    if (client?.aborted === true) hold.leave()
    else client?.addEventListener('abort', leave, { once: true })
    hold.start()
  })
}

export const heldTasks = (relay: Relay, userId: number, waitMs: number, client?: AbortSignal): Promise<string[]> =>
  held((outcome, settle) => relay.holdTasks(userId, waitMs, outcome, settle), client)

export const heldResult = (relay: Relay, requestId: string, waitMs: number, client?: AbortSignal): Promise<ResultState> =>
  held((outcome, settle) => relay.holdResult(requestId, waitMs, outcome, settle), client)

export const heldInbox = (relay: Relay, caller: Session, waitMs: number, client?: AbortSignal): Promise<Task[]> =>
  held((outcome, settle) => relay.holdInbox(caller, waitMs, outcome, settle), client)

export const heldOwnResult = (relay: Relay, callerId: number, requestId: string, waitMs: number, client?: AbortSignal): Promise<VerifiedResult> =>
  held((outcome, settle) => relay.holdOwnResult(callerId, requestId, waitMs, outcome, settle), client)
