/**
 * The v1 calls as operations on a TaskStore, plus the long-poll hold that the
 * `wait` extension adds to both GET calls. A hold registers its watch before it
 * looks at the store, so a task or answer that lands in between still wakes it.
 */
import { setMaxListeners } from 'node:events'
import type { ResultState, TaskStore, Topic, Watch } from '../store/task-store.js'
import { WC_ERR_SHUTTING_DOWN } from '../errors.js'

interface Check<T> {
  done: boolean
  value: T
  /** When waiting stops making sense even without a wake-up (e.g. the request expires). */
  until?: number
}

export class Relay {
  readonly #store: TaskStore
  readonly #closing = new AbortController()

  constructor (store: TaskStore) {
    this.#store = store
    // Every held poll listens here; thousands at once are expected, not a leak.
    setMaxListeners(0, this.#closing.signal)
  }

  get store (): TaskStore {
    return this.#store
  }

  createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }> {
    if (this.#closing.signal.aborted) return Promise.reject(new WC_ERR_SHUTTING_DOWN())
    return this.#store.createRequest(requesterId, targetId)
  }

  submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    return this.#store.submitAnswer(requestId, packageName)
  }

  /** Pending tasks for `userId`; with `waitMs` > 0, held until there is one. */
  tasksFor (userId: number, waitMs: number, signal?: AbortSignal): Promise<string[]> {
    if (waitMs <= 0) return this.#store.pendingTasks(userId)
    return this.#hold({ kind: 'tasks', userId }, waitMs, signal, async () => {
      const tasks = await this.#store.pendingTasks(userId)
      return { done: tasks.length > 0, value: tasks }
    })
  }

  /** The request's result; with `waitMs` > 0, held while it is pending (not past its expiry). */
  resultOf (requestId: string, waitMs: number, signal?: AbortSignal): Promise<ResultState> {
    if (waitMs <= 0) return this.#store.takeResult(requestId)
    return this.#hold<ResultState>({ kind: 'result', requestId }, waitMs, signal, async () => {
      const state = await this.#store.takeResult(requestId)
      return state.status === 'pending' ? { done: false, value: state, until: state.expiresAt } : { done: true, value: state }
    })
  }

  /** Releases every held poll at once (each answers with what it has) and refuses new holds. */
  close (): void {
    this.#closing.abort()
  }

  async #hold<T> (topic: Topic, waitMs: number, signal: AbortSignal | undefined, check: () => Promise<Check<T>>): Promise<T> {
    // (No wait at all never gets here: tasksFor and resultOf answer those directly.)
    if (this.#closing.signal.aborted || signal?.aborted === true) return (await check()).value
    const deadline = Date.now() + waitMs
    const wake = new Wake([this.#closing.signal, signal])
    let watch: Watch | undefined
    try {
      // Watch first, then look: a task or answer that lands in between still wakes us.
      watch = this.#store.watch(topic, wake.fire)
      for (;;) {
        const result = await check()
        if (result.done || wake.stopped) return result.value
        const remaining = Math.min(deadline, result.until ?? Infinity) - Date.now()
        if (remaining <= 0) return result.value
        await wake.next(remaining)
      }
    } finally {
      watch?.cancel()
      wake.dispose()
    }
  }
}

/**
 * A latch a hold sleeps on: set by a wake-up, a timeout, or an abort. A wake-up
 * that comes while nobody sleeps is remembered, so none is lost.
 */
class Wake {
  #fired = false
  #resolve: (() => void) | undefined
  #timer: NodeJS.Timeout | undefined
  readonly #signals: AbortSignal[]
  readonly #onAbort = (): void => this.fire()

  constructor (signals: Array<AbortSignal | undefined>) {
    this.#signals = signals.filter((s): s is AbortSignal => s !== undefined)
    for (const s of this.#signals) s.addEventListener('abort', this.#onAbort, { once: true })
  }

  readonly fire = (): void => {
    this.#fired = true
    const resolve = this.#resolve
    this.#resolve = undefined
    resolve?.()
  }

  get stopped (): boolean {
    return this.#signals.some((s) => s.aborted)
  }

  next (timeoutMs: number): Promise<void> {
    if (this.#fired || this.stopped) {
      this.#fired = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      this.#timer = setTimeout(this.fire, timeoutMs)
      this.#resolve = () => {
        clearTimeout(this.#timer)
        this.#fired = false
        resolve()
      }
    })
  }

  dispose (): void {
    clearTimeout(this.#timer)
    for (const s of this.#signals) s.removeEventListener('abort', this.#onAbort)
  }
}
