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

/**
 * A held poll as the registry keeps it: its wake key and what to call on a
 * wake-up. The relay's own hold is one, so that holding a poll costs no
 * object of the registry's.
 */
export interface Waiter {
  readonly key: string
  wake (): void
  /**
   * Whether it takes a place under its key's cap (a hold: once its first look says it
   * waits, through `startWaiting`). It must not change otherwise while admitted.
   */
  readonly waiting: boolean
}

/** The polls of a key held more than once, with how many of them wait (so the cap is checked in one step). */
class Polls extends Set<Waiter> {
  waiting = 0
}

const waitingOn = (polls: Waiter | Polls | undefined): number =>
  polls === undefined ? 0 : polls instanceof Polls ? polls.waiting : polls.waiting ? 1 : 0

export class PollRegistry {
  /** A key held by one poll maps to it directly; only a key held more than once gets a Polls. */
  readonly #byKey = new Map<string, Waiter | Polls>()
  readonly #limits: PollLimits
  #total = 0

  constructor (limits: PollLimits) {
    this.#limits = limits
  }

  /**
   * Holds `waiter` on its key until `dismiss(waiter)`: its `wake` runs whenever
   * something may have changed for it. Throws WC_ERR_TOO_MANY_POLLS (429) at
   * the per-key cap (only for a waiter already `waiting`; the others meet it
   * at `startWaiting`) and WC_ERR_POLLS_FULL (503) at the total one. A waiter
   * is admitted once, and dismissed once (a second dismiss does nothing).
   */
  admit (waiter: Waiter): void {
    const key = waiter.key
    const polls = this.#byKey.get(key)
    if (waiter.waiting && waitingOn(polls) >= this.#limits.maxPerKey) throw new WC_ERR_TOO_MANY_POLLS()
    if (this.#total >= this.#limits.maxTotal) throw new WC_ERR_POLLS_FULL()
    if (polls === undefined) {
      this.#byKey.set(key, waiter)
    } else if (polls instanceof Polls) {
      polls.add(waiter)
      if (waiter.waiting) polls.waiting++
    } else {
      const both = new Polls([polls, waiter])
      both.waiting = waitingOn(polls) + waitingOn(waiter)
      this.#byKey.set(key, both)
    }
    this.#total++
  }

  /**
   * An admitted `waiter`, not waiting yet, is to wait: throws WC_ERR_TOO_MANY_POLLS
   * (429) when its key has as many waiting polls as its cap allows, else counts it,
   * and it must read as `waiting` from now on.
   */
  startWaiting (waiter: Waiter): void {
    const polls = this.#byKey.get(waiter.key)
    if (waitingOn(polls) >= this.#limits.maxPerKey) throw new WC_ERR_TOO_MANY_POLLS()
    if (polls instanceof Polls) polls.waiting++
  }

  /** Takes an admitted waiter out (still reading as waiting, if it waited). */
  dismiss (waiter: Waiter): void {
    const polls = this.#byKey.get(waiter.key)
    if (polls === waiter) {
      this.#byKey.delete(waiter.key)
    } else if (polls instanceof Polls && polls.delete(waiter)) {
      if (waiter.waiting) polls.waiting--
      if (polls.size === 0) this.#byKey.delete(waiter.key)
    } else {
      return
    }
    this.#total--
  }

  wake (key: string): void {
    const polls = this.#byKey.get(key)
    if (polls === undefined) return
    if (polls instanceof Polls) for (const waiter of [...polls]) waiter.wake()
    else polls.wake()
  }

  /** Wakes every held poll: the store came or went, wake-ups may have been lost, or the server closes. */
  wakeAll (): void {
    for (const polls of [...this.#byKey.values()]) {
      if (polls instanceof Polls) for (const waiter of [...polls]) waiter.wake()
      else polls.wake()
    }
  }

  /** How many polls are held now. */
  get size (): number {
    return this.#total
  }
}
