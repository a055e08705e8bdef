/**
 * The v1 and v2 calls as operations on a TaskStore, plus the long-poll hold
 * that the `wait` extension adds to the GET calls. The relay owns the held
 * polls (the registry and its caps); the store only says which wake key may
 * have changed. A hold registers before it looks at the store, so a task or
 * answer that lands in between still wakes it; it counts under its user's (or
 * request's) cap only once that look says it must wait (poll-registry.ts).
 *
 * v1 and v2 polls wait on the same topics (a user's tasks, a request's
 * answer), so a v1 question wakes a v2 poll and the other way round, and they
 * share one per-user (per-request) cap on held polls.
 */
import { performance } from 'node:perf_hooks'
import { WC_ERR_SHUTTING_DOWN } from '../errors.js'
import type { Session } from '../identity/tokens.js'
import type {
  Answer, AnswerOutcome, AskOptions, Reader, ResultState, StoreListener, Task, TaskStore, VerifiedResult
} from '../store/task-store.js'
import { PollRegistry, type PollLimits, type Waiter } from './poll-registry.js'
import { MAX_TIMER_MS, sleep, unsleep, type Sleeper } from './sleepers.js'

/**
 * Where a held poll's outcome goes: one object per caller (a route), shared by
 * all its polls, and told each poll's own `context` (its reply or response): no closure,
 * promise or async frame per poll is kept while it waits.
 */
export interface Outcome<T, C> {
  answer (context: C, value: T): void
  fail (context: C, error: unknown): void
}

/**
 * A held poll, as its caller sees it: `start` it once (it answers through its
 * outcome, never before `start`, and a failure to hold, such as a cap, goes
 * there too), and `leave` it when its client has gone. Started `atOnce`, it
 * looks once and answers what it finds, as a call without a wait would, and
 * takes no place among the held polls.
 */
export interface Held {
  start (atOnce?: boolean): void
  leave (): void
}

interface Check<T> {
  done: boolean
  value: T
  /**
   * Look again after this long even without a wake-up (e.g. the request expires then).
   * A look that is not done and names none found an empty task list: if nothing wakes
   * its hold before the deadline, the hold answers `nobodyListens` (the empty list) then,
   * without a last look (see Hold.timeUp).
   */
  againInMs?: number
}

/**
 * A held poll as its look sees it: the store's reader (`aborted` once the
 * client left) and the topic's wake key, which is also the store's key for the
 * id looked up (so that the look does not hash the id again).
 */
interface Looker extends Reader {
  readonly key: string
}

/** A signed-in user's v1 poll finds nothing (pendingTasks says null). */
const orNone = (tasks: string[] | null): string[] => tasks ?? []

export class Relay {
  readonly #store: TaskStore
  readonly #polls: PollRegistry
  /**
   * Set once by releaseHolds, when the server begins to close: holds end (each woken through
   * the registry) and no request opens. The server's one "closing" flag (isClosing).
   */
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

  /** The store it opened, for what borrows its connection (v2's sign-in memory in Redis mode); tasks go through the relay. */
  get store (): TaskStore {
    return this.#store
  }

  createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }> {
    if (this.#closed) return Promise.reject(new WC_ERR_SHUTTING_DOWN())
    return this.#store.createRequest(requesterId, targetId)
  }

  submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    return this.#store.submitAnswer(requestId, packageName)
  }

  /** Pending tasks for `userId` (none for a user shielded from v1), at once. */
  tasksFor (userId: number): Promise<string[]> {
    return this.#store.pendingTasks(userId).then(orNone)
  }

  /** tasksFor held up to `waitMs` until there is one, answering through `outcome`. */
  holdTasks<C> (userId: number, waitMs: number, outcome: Outcome<string[], C>, context: C): Held {
    return new Hold(this, this.#polls, this.#store.wakeKey({ kind: 'tasks', userId }), waitMs, NO_TASKS, this.#lookForTasks, userId, outcome, context)
  }

  async #lookForTasks (userId: number, hold: Looker): Promise<Check<string[]>> {
    const tasks = await this.#store.pendingTasks(userId, hold.key)
    // A signed-in user's v1 poll answers at once: held, it would take a place among their
    // held polls, and the v1 key could crowd their own v2 polls out (so could its look,
    // had it counted: it does not, see poll-registry.ts).
    return tasks === null ? { done: true, value: [] } : { done: tasks.length > 0, value: tasks }
  }

  /** The request's result, at once. */
  resultOf (requestId: string): Promise<ResultState> {
    return this.#store.takeResult(requestId)
  }

  /** resultOf held up to `waitMs` while it is pending (not past its expiry), answering through `outcome`. */
  holdResult<C> (requestId: string, waitMs: number, outcome: Outcome<ResultState, C>, context: C): Held {
    return new Hold(this, this.#polls, this.#store.wakeKey({ kind: 'result', requestId }), waitMs, NOBODY_LISTENS, this.#lookForResult, requestId, outcome, context)
  }

  async #lookForResult (requestId: string, hold: Looker): Promise<Check<ResultState>> {
    const state = await this.#store.takeResult(requestId, hold, hold.key)
    return state.status === 'pending' ? { done: false, value: state, againInMs: state.expiresInMs } : { done: true, value: state }
  }

  /** v2: `requesterId` asks about `targetId` (see TaskStore.ask). */
  ask (requesterId: number, targetId: number, options: AskOptions): Promise<{ requestId: string, created: boolean, expiresInMs: number }> {
    if (this.#closed) return Promise.reject(new WC_ERR_SHUTTING_DOWN())
    return this.#store.ask(requesterId, targetId, options)
  }

  /**
   * v2: the questions about the caller, at once. Each look, held or not, keeps the
   * caller's signed-in mark up for their session (TaskStore.inbox).
   */
  inbox (caller: Session): Promise<Task[]> {
    return this.#store.inbox(caller.userId, undefined, caller.expiresAt * 1000)
  }

  /** inbox held up to `waitMs` until there is one, answering through `outcome`. */
  holdInbox<C> (caller: Session, waitMs: number, outcome: Outcome<Task[], C>, context: C): Held {
    return new Hold(this, this.#polls, this.#store.wakeKey({ kind: 'tasks', userId: caller.userId }), waitMs, NO_TASKS, this.#lookInInbox, caller, outcome, context)
  }

  async #lookInInbox (caller: Session, hold: Looker): Promise<Check<Task[]>> {
    const tasks = await this.#store.inbox(caller.userId, hold.key, caller.expiresAt * 1000)
    return { done: tasks.length > 0, value: tasks }
  }

  /** v2: `callerId` answers a question about them. */
  answerAs (callerId: number, requestId: string, answer: Answer): Promise<AnswerOutcome> {
    return this.#store.answerAs(callerId, requestId, answer)
  }

  /** v2: the state of `callerId`'s own request, at once. */
  resultFor (callerId: number, requestId: string): Promise<VerifiedResult> {
    return this.#store.resultFor(callerId, requestId)
  }

  /** resultFor held up to `waitMs` while it is pending, answering through `outcome`. */
  holdOwnResult<C> (callerId: number, requestId: string, waitMs: number, outcome: Outcome<VerifiedResult, C>, context: C): Held {
    return new Hold(this, this.#polls, this.#store.wakeKey({ kind: 'result', requestId }), waitMs, NOBODY_LISTENS, this.#lookForOwnResult, [callerId, requestId], outcome, context)
  }

  async #lookForOwnResult ([callerId, requestId]: [number, string], hold: Looker): Promise<Check<VerifiedResult>> {
    const state = await this.#store.resultFor(callerId, requestId, hold, hold.key)
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

  /**
   * Answers every held poll at once (each with what it has) and refuses new holds and
   * requests: from now on the relay is closing (isClosing).
   */
  releaseHolds (): void {
    this.#closed = true
    this.#polls.wakeAll()
  }

  /**
   * Whether the server closes (holds were released). The one place that says so, read by
   * every part that acts on it: the routes refuse calls (routes/refuse-while-closing.ts),
   * /readyz says closing, the fast path takes no poll, and a released poll's reply closes
   * its connection. One flag, so that they all begin at the same moment.
   */
  isClosing (): boolean {
    return this.#closed
  }

  /** Releases holds and closes the store. */
  async close (): Promise<void> {
    this.releaseHolds()
    await this.#store.close()
  }
}

/** What a held result poll answers once its client has left: nobody reads it. */
const NOBODY_LISTENS: { readonly status: 'pending', readonly expiresInMs: 0 } = Object.freeze({ status: 'pending', expiresInMs: 0 })

/** What a held tasks poll answers once its client has left (shared: never written to). */
const NO_TASKS: never[] = Object.freeze([]) as unknown as never[]

/** A hold's state, and its flags, in one small integer (one field, not five). */
const NEW = 0
const LOOKING = 1
const SLEEPING = 2
const DONE = 3
const STATE = 3
/** In the registry (to be dismissed once). */
const ADMITTED = 4
/** Woken during a look: look again. */
const WOKEN = 8
/** Its client has gone. */
const LEFT = 16
/** Its last look found nothing and named no time to look again (a task list). */
const QUIET = 32
/** It waits: it takes a place under its key's cap (from its first look that was not done). */
const WAITING = 64

/**
 * One held poll: holds a call until its look is done, the wait passes, the
 * server closes, or the client leaves. A client that has left gets
 * `nobodyListens`, and the store is not looked at again for it: a look may
 * consume an answer. A state machine, not an async function: while it sleeps
 * a poll keeps this object (which is also its registry entry and its timer,
 * sleepers.ts) and nothing else of its own: no promise, closure, suspended
 * frame or Node timer.
 *
 * The look is one of the relay's #look methods, called on the relay with
 * `arg` and this hold (a Looker: the store's reader, and the key it looks up).
 * A wake-up that comes during a look is remembered and makes it look again,
 * so none is lost between a look and the next sleep.
 */
class Hold<T, A, C> implements Held, Waiter, Looker, Sleeper {
  readonly key: string
  readonly #relay: Relay
  readonly #polls: PollRegistry
  #deadline: number
  readonly #nobodyListens: T
  readonly #look: (this: Relay, arg: A, hold: Looker) => Promise<Check<T>>
  readonly #arg: A
  readonly #outcome: Outcome<T, C>
  readonly #context: C
  #flags = NEW
  /** The sleepers' (sleepers.ts). */
  due = 0
  slot = -1

  constructor (relay: Relay, polls: PollRegistry, key: string, waitMs: number, nobodyListens: T, look: (this: Relay, arg: A, hold: Looker) => Promise<Check<T>>, arg: A, outcome: Outcome<T, C>, context: C) {
    this.key = key
    this.#relay = relay
    this.#polls = polls
    this.#deadline = performance.now() + waitMs
    this.#nobodyListens = nobodyListens
    this.#look = look
    this.#arg = arg
    this.#outcome = outcome
    this.#context = context
  }

  /** The client has gone (the store reads this as its reader's `aborted`). */
  get aborted (): boolean {
    return (this.#flags & LEFT) !== 0
  }

  /** The store's: whether it is registered for wake-ups (it may wait), so that one still on its way reaches it. */
  get listening (): boolean {
    return (this.#flags & ADMITTED) !== 0
  }

  /** The registry's: whether it counts under its key's cap. */
  get waiting (): boolean {
    return (this.#flags & WAITING) !== 0
  }

  start (atOnce = false): void {
    if ((this.#flags & STATE) !== NEW) return
    // A client gone already: answered at once, never looked for, never counted.
    if (this.aborted) return this.#end(this.#nobodyListens)
    // Its first look ends it, whatever it finds.
    if (atOnce) this.#deadline = 0
    // Closing, the call is looked at once and answered (the registry wakes nobody any more).
    else if (!this.#relay.isClosing()) {
      try {
        this.#polls.admit(this)
      } catch (error) {
        this.#flags = DONE
        this.#outcome.fail(this.#context, error)
        return
      }
      this.#flags |= ADMITTED
    }
    // Held first, then looked: a task or answer that lands in between still wakes it.
    this.#lookNow()
  }

  leave (): void {
    this.#flags |= LEFT
    this.wake()
  }

  /**
   * Something may have changed (the registry), the time is up (sleepers.ts),
   * the server closes, or the client left. A sleeping hold looks again in a
   * microtask, not at once: a store wakes its polls while it writes, before
   * it is done (an ask's key and requester are set after the entry that wakes
   * them). Until then it counts as looking: another wake-up is in time for that look.
   */
  wake (): void {
    const state = this.#flags & STATE
    if (state === SLEEPING) {
      unsleep(this)
      this.#flags = (this.#flags & ~STATE) | LOOKING
      queueMicrotask(() => { this.#awake() })
    } else if (state === LOOKING) {
      this.#flags |= WOKEN
    }
  }

  /**
   * Its sleep is over (sleepers.ts). A task poll whose wait has passed with no
   * wake-up answers the empty list without looking again: every task a store
   * adds wakes its polls, and a lost wake-up (a Redis subscriber that
   * reconnects) wakes them all. Were one still missed, the task stays pending
   * and the plugin's next poll, made at once, finds it. This halves the store
   * calls of an idle plugin's poll cycle.
   */
  timeUp (): void {
    if ((this.#flags & (STATE | QUIET)) === (SLEEPING | QUIET) && performance.now() >= this.#deadline) {
      return this.#end(this.#nobodyListens)
    }
    this.wake()
  }

  #awake (): void {
    if (this.aborted) this.#end(this.#nobodyListens)
    else this.#lookNow()
  }

  #lookNow (): void {
    this.#flags = (this.#flags & ~(STATE | WOKEN)) | LOOKING
    this.#look.call(this.#relay, this.#arg, this).then((result) => { this.#looked(result) }, (error: unknown) => { this.#failed(error) })
  }

  #looked (result: Check<T>): void {
    // Closing wakes every hold through the registry (releaseHolds).
    if (result.done || this.#relay.isClosing()) return this.#end(result.value)
    const left = this.#deadline - performance.now()
    if (left <= 0) return this.#end(result.value)
    if ((this.#flags & WOKEN) !== 0) return this.#awake()
    if ((this.#flags & (ADMITTED | WAITING)) === ADMITTED) {
      try {
        this.#polls.startWaiting(this)
      } catch (error) {
        return this.#failed(error)
      }
    }
    const timeoutMs = Math.min(left, result.againInMs ?? left)
    this.#flags = (this.#flags & ~(STATE | QUIET)) | SLEEPING | WAITING | (result.againInMs === undefined ? QUIET : 0)
    sleep(this, Number.isFinite(timeoutMs) ? Math.min(Math.max(1, Math.ceil(timeoutMs)), MAX_TIMER_MS) : MAX_TIMER_MS)
  }

  #release (): void {
    // Dismissed while it still reads as waiting: the registry counts its key's waiting polls.
    if ((this.#flags & ADMITTED) !== 0) this.#polls.dismiss(this)
    this.#flags = (this.#flags & LEFT) | DONE
  }

  #end (value: T): void {
    this.#release()
    this.#outcome.answer(this.#context, value)
  }

  #failed (error: unknown): void {
    this.#release()
    this.#outcome.fail(this.#context, error)
  }
}

