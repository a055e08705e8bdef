/**
 * The long-polls this process holds, by wake key (a keyed hash of the topic a
 * poll waits on, so the registry names nobody), with the caps on how many may
 * be held per key and in total. The relay owns it; store adapters only say
 * which key may have changed.
 */
import { WC_ERR_POLLS_FULL, WC_ERR_TOO_MANY_POLLS } from '../errors.js'

export interface PollLimits {
  /** Held polls per wake key (per user id or request id). */
  maxPerKey: number
  /** Held polls in this process. */
  maxTotal: number
}

export interface HeldPoll {
  /** Stops holding; safe to call more than once. */
  release (): void
}

export class PollRegistry {
  readonly #byKey = new Map<string, Set<() => void>>()
  readonly #limits: PollLimits
  #total = 0

  constructor (limits: PollLimits) {
    this.#limits = limits
  }

  /**
   * Holds a poll on `key`; `onWake` runs whenever something may have changed
   * for it. Throws WC_ERR_TOO_MANY_POLLS (429) or WC_ERR_POLLS_FULL (503) at the caps.
   */
  hold (key: string, onWake: () => void): HeldPoll {
    let polls = this.#byKey.get(key)
    if (polls !== undefined && polls.size >= this.#limits.maxPerKey) throw new WC_ERR_TOO_MANY_POLLS()
    if (this.#total >= this.#limits.maxTotal) throw new WC_ERR_POLLS_FULL()
    if (polls === undefined) {
      polls = new Set()
      this.#byKey.set(key, polls)
    }
    // A fresh function per hold, so the same callback held twice counts twice.
    const entry = (): void => onWake()
    polls.add(entry)
    this.#total++
    const held = polls
    let live = true
    return {
      release: () => {
        if (!live) return
        live = false
        this.#total--
        held.delete(entry)
        if (held.size === 0 && this.#byKey.get(key) === held) this.#byKey.delete(key)
      }
    }
  }

  wake (key: string): void {
    const polls = this.#byKey.get(key)
    if (polls === undefined) return
    for (const fn of [...polls]) fn()
  }

  /** Wakes every held poll: the store came or went, wake-ups may have been lost, or the server closes. */
  wakeAll (): void {
    for (const polls of [...this.#byKey.values()]) {
      for (const fn of [...polls]) fn()
    }
  }

  /** How many polls are held now. */
  get size (): number {
    return this.#total
  }
}
