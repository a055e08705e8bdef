/**
 * The latch a held poll sleeps on: set by a wake-up, a timeout, or an abort
 * (the server closes, the client leaves). A wake-up that comes while nobody
 * sleeps is remembered, so none is lost between a look and the next sleep.
 */

/** setTimeout's largest delay; longer (or non-finite) ones would fire at once, in a loop. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Who waits on each signal. Every held poll waits on the server's one closing
 * signal, and an EventTarget looks through all its listeners on each add and
 * remove: with thousands of polls held, that was a few percent of the
 * server's CPU. So each signal gets one listener, and its waiters a Set.
 */
const waiters = new WeakMap<AbortSignal, Set<() => void>>()

function onAbort (signal: AbortSignal, fn: () => void): void {
  let set = waiters.get(signal)
  if (set === undefined) {
    const fns = new Set<() => void>()
    set = fns
    waiters.set(signal, fns)
    signal.addEventListener('abort', () => { for (const f of fns) f() }, { once: true })
  }
  set.add(fn)
}

export class Wake {
  #fired = false
  #resolve: (() => void) | undefined
  #timer: NodeJS.Timeout | undefined
  readonly #signals: AbortSignal[]
  readonly #onAbort = (): void => this.fire()

  constructor (signals: Array<AbortSignal | undefined>) {
    this.#signals = signals.filter((s): s is AbortSignal => s !== undefined)
    for (const s of this.#signals) onAbort(s, this.#onAbort)
  }

  readonly fire = (): void => {
    this.#fired = true
    const resolve = this.#resolve
    this.#resolve = undefined
    resolve?.()
  }

  /** Resolves on the next wake-up (or one that came since the last), an abort, or after `timeoutMs`. */
  next (timeoutMs: number): Promise<void> {
    if (this.#fired || this.#signals.some((s) => s.aborted)) {
      this.#fired = false
      return Promise.resolve()
    }
    const delay = Number.isFinite(timeoutMs) ? Math.min(Math.max(1, Math.ceil(timeoutMs)), MAX_TIMER_MS) : MAX_TIMER_MS
    return new Promise((resolve) => {
      this.#timer = setTimeout(this.fire, delay)
      this.#resolve = () => {
        clearTimeout(this.#timer)
        this.#fired = false
        resolve()
      }
    })
  }

  dispose (): void {
    clearTimeout(this.#timer)
    for (const s of this.#signals) waiters.get(s)?.delete(this.#onAbort)
  }
}
