/**
 * The v1 and v2 calls as operations on a TaskStore, plus the long-poll hold
 * that the `wait` extension adds to the GET calls. The relay owns the held
 * polls (the registry and its caps); the store only says which wake key may
 * have changed. A hold registers before it looks at the store, so a task or
 * answer that lands in between still wakes it.
 *
 * v1 and v2 polls wait on the same topics (a user's tasks, a request's
 * answer), so a v1 question wakes a v2 poll and the other way round, and they
 * share one per-user (per-request) cap on held polls.
 */
import { performance } from 'node:perf_hooks'
import { WC_ERR_SHUTTING_DOWN } from '../errors.js'
import type {
  Answer, AnswerOutcome, AskOptions, ResultState, StoreListener, Task, TaskStore, Topic, VerifiedResult
} from '../store/task-store.js'
import { PollRegistry, type PollLimits } from './poll-registry.js'

interface Check<T> {
  done: boolean
  value: T
  /** Look again after this long even without a wake-up (e.g. the request expires then). */
  againInMs?: number
}

/** A signed-in user's v1 poll finds nothing (pendingTasks says null). */
const orNone = (tasks: string[] | null): string[] => tasks ?? []

export class Relay {
  readonly #store: TaskStore
  readonly #polls: PollRegistry
  /** Set once by releaseHolds: holds end (each woken through the registry) and no request opens. */
  #closed = false

  /** Opens the store with `open`, handing it the listener that wakes this relay's held polls. */
  static async open (open: (listener: StoreListener) => TaskStore | Promise<TaskStore>, limits: PollLimits): Promise<Relay> {
    const polls = new PollRegistry(limits)
    const store = await open({ wake: (key) => polls.wake(key), wakeAll: () => polls.wakeAll() })
    return new Relay(store, polls)
  }

  private constructor (store: TaskStore, polls: PollRegistry) {
    this.#store = store
    this.#polls = polls
  }

  createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }> {
    if (this.#closed) return Promise.reject(new WC_ERR_SHUTTING_DOWN())
    return this.#store.createRequest(requesterId, targetId)
  }

  submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    return this.#store.submitAnswer(requestId, packageName)
  }

  /** Pending tasks for `userId`; with `waitMs` > 0, held until there is one. `client` aborts when the caller leaves. */
  tasksFor (userId: number, waitMs: number, client?: AbortSignal): Promise<string[]> {
    if (waitMs <= 0) return this.#store.pendingTasks(userId).then(orNone)
    return this.#hold<string[], number>({ kind: 'tasks', userId }, waitMs, client, [], this.#lookForTasks, userId)
  }

  async #lookForTasks (userId: number): Promise<Check<string[]>> {
    const tasks = await this.#store.pendingTasks(userId)
    // A signed-in user's v1 poll answers at once: held, it would take a place among their
    // held polls, and the v1 key could crowd their own v2 polls out.
    return tasks === null ? { done: true, value: [] } : { done: tasks.length > 0, value: tasks }
  }

  /** The request's result; with `waitMs` > 0, held while it is pending (not past its expiry). */
  resultOf (requestId: string, waitMs: number, client?: AbortSignal): Promise<ResultState> {
    if (waitMs <= 0) return this.#store.takeResult(requestId)
    const nobodyListens: ResultState = { status: 'pending', expiresInMs: 0 }
    return this.#hold<ResultState, string>({ kind: 'result', requestId }, waitMs, client, nobodyListens, this.#lookForResult, requestId)
  }

  async #lookForResult (requestId: string, client: AbortSignal | undefined): Promise<Check<ResultState>> {
    const state = await this.#store.takeResult(requestId, client)
    return state.status === 'pending' ? { done: false, value: state, againInMs: state.expiresInMs } : { done: true, value: state }
  }

  /** v2: `requesterId` asks about `targetId` (see TaskStore.ask). */
  ask (requesterId: number, targetId: number, options: AskOptions): Promise<{ requestId: string, created: boolean, expiresInMs: number }> {
    if (this.#closed) return Promise.reject(new WC_ERR_SHUTTING_DOWN())
    return this.#store.ask(requesterId, targetId, options)
  }

  /** v2: the questions about `userId`; with `waitMs` > 0, held until there is one. */
  inbox (userId: number, waitMs: number, client?: AbortSignal): Promise<Task[]> {
    if (waitMs <= 0) return this.#store.inbox(userId)
    return this.#hold<Task[], number>({ kind: 'tasks', userId }, waitMs, client, [], this.#lookInInbox, userId)
  }

  async #lookInInbox (userId: number): Promise<Check<Task[]>> {
    const tasks = await this.#store.inbox(userId)
    return { done: tasks.length > 0, value: tasks }
  }

  /** v2: `callerId` answers a question about them. */
  answerAs (callerId: number, requestId: string, answer: Answer): Promise<AnswerOutcome> {
    return this.#store.answerAs(callerId, requestId, answer)
  }

  /** v2: the state of `callerId`'s own request; with `waitMs` > 0, held while it is pending. */
  resultFor (callerId: number, requestId: string, waitMs: number, client?: AbortSignal): Promise<VerifiedResult> {
    if (waitMs <= 0) return this.#store.resultFor(callerId, requestId)
    const nobodyListens: VerifiedResult = { status: 'pending', expiresInMs: 0 }
    return this.#hold<VerifiedResult, [number, string]>({ kind: 'result', requestId }, waitMs, client, nobodyListens, this.#lookForOwnResult, [callerId, requestId])
  }

  async #lookForOwnResult ([callerId, requestId]: [number, string], client: AbortSignal | undefined): Promise<Check<VerifiedResult>> {
    const state = await this.#store.resultFor(callerId, requestId, client)
    return state.status === 'pending' ? { done: false, value: state, againInMs: state.expiresInMs } : { done: true, value: state }
  }

  /** Shields `userId` from the v1 calls until `untilMs` (unix ms): they signed in through v2. */
  markSignedIn (userId: number, untilMs: number): Promise<void> {
    return this.#store.markSignedIn(userId, untilMs)
  }

  /** Whether the store can serve calls and deliver wake-ups (readiness). */
  isReady (): boolean {
    return this.#store.isReady()
  }

  /** How many requests the store holds (every instance's, in Redis mode): the pending-requests gauge. */
  countHeldRequests (): Promise<number> {
    return this.#store.countHeld()
  }

  /** How many polls this process holds now (the held-polls gauge; tests wait on it to know a poll is held). */
  heldPolls (): number {
    return this.#polls.size
  }

  /** Answers every held poll at once (each with what it has) and refuses new holds and requests. */
  releaseHolds (): void {
    this.#closed = true
    this.#polls.wakeAll()
  }

  /** Whether holds were released (the server closes): a released poll's reply closes its connection. */
  isClosing (): boolean {
    return this.#closed
  }

  /** Releases holds and closes the store. */
  async close (): Promise<void> {
    this.releaseHolds()
    await this.#store.close()
  }

  /**
   * Holds a call until `check` is done, the wait passes, the server closes, or
   * the client leaves. A client that has left gets `nobodyListens` and the
   * store is not looked at again for it: a look may consume an answer.
   * `check` is one of the #look methods, called with `arg`: no closure per hold.
   */
  async #hold<T, A> (topic: Topic, waitMs: number, client: AbortSignal | undefined, nobodyListens: T, check: (this: Relay, arg: A, client: AbortSignal | undefined) => Promise<Check<T>>, arg: A): Promise<T> {
    // (No wait at all never gets here: tasksFor and resultOf answer those directly.)
    if (clientLeft(client)) return nobodyListens
    if (this.#closed) return (await check.call(this, arg, client)).value
    const deadline = performance.now() + waitMs
    const hold = new Hold()
    // Hold first, then look: a task or answer that lands in between still wakes us.
    const held = this.#polls.hold(this.#store.wakeKey(topic), hold)
    client?.addEventListener('abort', hold, { once: true })
    try {
      for (;;) {
        const result = await check.call(this, arg, client)
        // Closing wakes every hold through the registry (releaseHolds).
        if (result.done || this.#closed) return result.value
        const left = deadline - performance.now()
        if (left <= 0) return result.value
        await hold.next(Math.min(left, result.againInMs ?? left))
        if (clientLeft(client)) return nobodyListens
      }
    } finally {
      held.release()
      hold.dispose()
      client?.removeEventListener('abort', hold)
    }
  }
}

/** setTimeout's largest delay; longer (or non-finite) ones would fire at once, in a loop. */
const MAX_TIMER_MS = 2 ** 31 - 1

const wakeHold = (hold: Hold): void => { hold.wake() }

/** The client of a held call has gone. */
const clientLeft = (client: AbortSignal | undefined): boolean => client?.aborted === true

/**
 * The latch one held poll sleeps on: set by a wake-up (from the registry, or
 * when the server closes), its timer, or its client leaving (as the abort
 * signal's listener object: `handleEvent`). A wake-up that comes while nobody
 * sleeps is remembered, so none is lost between a look and the next sleep.
 * One object per held poll, with one timer while it sleeps: no closures, no
 * AbortController, no listener per poll on a shared signal.
 */
class Hold {
  #fired = false
  #resolve: (() => void) | undefined = undefined
  #timer: NodeJS.Timeout | undefined = undefined

  wake (): void {
    const resolve = this.#resolve
    if (resolve === undefined) {
      this.#fired = true
      return
    }
    this.#resolve = undefined
    clearTimeout(this.#timer)
    this.#timer = undefined
    resolve()
  }

  handleEvent (): void {
    this.wake()
  }

  /** Resolves on the next wake-up (or one that came since the last), or after `timeoutMs`. */
  next (timeoutMs: number): Promise<void> {
    if (this.#fired) {
      this.#fired = false
      return Promise.resolve()
    }
    const delay = Number.isFinite(timeoutMs) ? Math.min(Math.max(1, Math.ceil(timeoutMs)), MAX_TIMER_MS) : MAX_TIMER_MS
    return new Promise((resolve) => {
      this.#resolve = resolve
      this.#timer = setTimeout(wakeHold, delay, this)
    })
  }

  dispose (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#resolve = undefined
  }
}
