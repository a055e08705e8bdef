/**
 * Local registry of held long-polls, keyed by a topic hash, with the caps on
 * how many may be held per key and in total. Adapters feed it: the memory store
 * directly, the Redis store from its one pub/sub subscriber per process.
 */
import { WC_ERR_POLLS_FULL, WC_ERR_TOO_MANY_POLLS } from '../errors.js'
import type { Watch } from './task-store.js'

export interface WakeupLimits {
  maxPerKey: number
  maxTotal: number
}

export class Wakeups {
  readonly #byKey = new Map<string, Set<() => void>>()
  readonly #limits: WakeupLimits
  #total = 0

  constructor (limits: WakeupLimits) {
    this.#limits = limits
  }

  add (key: string, onWake: () => void): Watch {
    let set = this.#byKey.get(key)
    if (set !== undefined && set.size >= this.#limits.maxPerKey) throw new WC_ERR_TOO_MANY_POLLS()
    if (this.#total >= this.#limits.maxTotal) throw new WC_ERR_POLLS_FULL()
    if (set === undefined) {
      set = new Set()
      this.#byKey.set(key, set)
    }
    // A fresh function per watch, so the same callback added twice counts twice.
    const entry = (): void => onWake()
    set.add(entry)
    this.#total++
    let live = true
    return {
      cancel: () => {
        if (!live) return
        live = false
        this.#total--
        set.delete(entry)
        if (set.size === 0 && this.#byKey.get(key) === set) this.#byKey.delete(key)
      }
    }
  }

  wake (key: string): void {
    const set = this.#byKey.get(key)
    if (set === undefined) return
    for (const fn of [...set]) fn()
  }

  /** Wakes every held poll, e.g. when the store goes away or the server closes. */
  wakeAll (): void {
    for (const set of [...this.#byKey.values()]) {
      for (const fn of [...set]) fn()
    }
  }

  /** Number of held polls. */
  get size (): number {
    return this.#total
  }
}
