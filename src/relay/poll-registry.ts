/**
 * The long-polls this process holds, by wake key (a keyed hash of the topic a
 * poll waits on, so the registry names nobody), with the caps on how many may
 * be held per key and in total. The relay owns it; store adapters only say
 * which key may have changed.
 *
 * The total cap counts every poll from the start. The per-key cap counts
 * only polls that wait: a hold is registered before its first look (so that
 * nothing lands unseen in between) but takes a place under its key only once
 * that look says it must wait. Otherwise polls answered at once, such as the
 * v1 key's polls about a signed-in user, would take the places of that user's
 * own while their look is in flight (a Redis round trip).
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

/** What a held poll calls on a wake-up: a function, or an object's `wake` (no closure per poll). */
export type OnWake = (() => void) | { wake (): void }

/**
 * A held poll as the registry keeps it: its wake key and what to call on a
 * wake-up. The relay's own hold is one (admit/dismiss), so that holding a
 * poll costs no object of the registry's; `hold` wraps a callback in one.
 */
export interface Waiter {
  readonly key: string
  wake (): void
  /** Whether it takes a place under its key's cap (a hold: once its first look says it waits). */
  readonly waiting: boolean
}

/** A callback held through `hold`, with its own release handle. */
class Entry implements Waiter, HeldPoll {
  readonly #registry: PollRegistry
  readonly key: string
  readonly #onWake: OnWake
  #live = true
  readonly waiting = true

  constructor (registry: PollRegistry, key: string, onWake: OnWake) {
    this.#registry = registry
    this.key = key
    this.#onWake = onWake
  }

  wake (): void {
    const onWake = this.#onWake
    if (typeof onWake === 'function') onWake()
    else onWake.wake()
  }

  release (): void {
    if (!this.#live) return
    this.#live = false
    this.#registry.dismiss(this)
  }
}

export class PollRegistry {
  /** A key held by one poll maps to it directly; only a key held more than once gets a Set. */
  readonly #byKey = new Map<string, Waiter | Set<Waiter>>()
  readonly #limits: PollLimits
  #total = 0

  constructor (limits: PollLimits) {
    this.#limits = limits
  }

  /**
   * Holds a poll on `key`; `onWake` runs whenever something may have changed
   * for it. Throws WC_ERR_TOO_MANY_POLLS (429) or WC_ERR_POLLS_FULL (503) at the caps.
   */
  hold (key: string, onWake: OnWake): HeldPoll {
    // A new entry per hold, so the same callback held twice counts twice.
    const entry = new Entry(this, key, onWake)
    this.admit(entry)
    return entry
  }

  /**
   * Holds `waiter` on its key until `dismiss(waiter)`: its `wake` runs whenever
   * something may have changed for it. Throws at the caps, as `hold` does (the
   * per-key one only for a waiter already `waiting`; see `mayWait` for the others).
   * A waiter is admitted once, and dismissed once.
   */
  admit (waiter: Waiter): void {
    const key = waiter.key
    const polls = this.#byKey.get(key)
    if (waiter.waiting) this.mayWait(waiter)
    if (this.#total >= this.#limits.maxTotal) throw new WC_ERR_POLLS_FULL()
    if (polls === undefined) this.#byKey.set(key, waiter)
    else if (polls instanceof Set) polls.add(waiter)
    else this.#byKey.set(key, new Set([polls, waiter]))
    this.#total++
  }

  /**
   * Throws WC_ERR_TOO_MANY_POLLS (429) when `waiter`'s key has as many waiting
   * polls as its cap allows: called before a waiter starts to wait (so it is not one of them).
   */
  mayWait (waiter: Waiter): void {
    const polls = this.#byKey.get(waiter.key)
    let count = 0
    if (polls instanceof Set) {
      for (const poll of polls) if (poll.waiting) count++
    } else if (polls?.waiting === true) {
      count = 1
    }
    if (count >= this.#limits.maxPerKey) throw new WC_ERR_TOO_MANY_POLLS()
  }

  /** Takes an admitted waiter out. */
  dismiss (waiter: Waiter): void {
    const polls = this.#byKey.get(waiter.key)
    if (polls === waiter) {
      this.#byKey.delete(waiter.key)
    } else if (polls instanceof Set && polls.delete(waiter)) {
      if (polls.size === 0) this.#byKey.delete(waiter.key)
    } else {
      return
    }
    this.#total--
  }

  wake (key: string): void {
    const polls = this.#byKey.get(key)
    if (polls === undefined) return
    if (polls instanceof Set) for (const waiter of [...polls]) waiter.wake()
    else polls.wake()
  }

  /** Wakes every held poll: the store came or went, wake-ups may have been lost, or the server closes. */
  wakeAll (): void {
    for (const polls of [...this.#byKey.values()]) {
      if (polls instanceof Set) for (const waiter of [...polls]) waiter.wake()
      else polls.wake()
    }
  }

  /** How many polls are held now. */
  get size (): number {
    return this.#total
  }
}
