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

/** What a held poll calls on a wake-up: a function, or an object's `wake` (no closure per poll). */
export type OnWake = (() => void) | { wake (): void }

/**
 * One held poll: its own release handle, so that holding one costs this object
 * and a place in the map, and no closure. A key held by one poll maps to its
 * entry directly; only a key held more than once gets a Set.
 */
class Entry implements HeldPoll {
  readonly #registry: PollRegistry
  readonly key: string
  readonly #onWake: OnWake
  live = true

  constructor (registry: PollRegistry, key: string, onWake: OnWake) {
    this.#registry = registry
    this.key = key
    this.#onWake = onWake
  }

  fire (): void {
    const onWake = this.#onWake
    if (typeof onWake === 'function') onWake()
    else onWake.wake()
  }

  release (): void {
    if (!this.live) return
    this.live = false
    this.#registry.forget(this)
  }
}

export class PollRegistry {
  readonly #byKey = new Map<string, Entry | Set<Entry>>()
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
    const polls = this.#byKey.get(key)
    const count = polls === undefined ? 0 : polls instanceof Entry ? 1 : polls.size
    if (count >= this.#limits.maxPerKey) throw new WC_ERR_TOO_MANY_POLLS()
    if (this.#total >= this.#limits.maxTotal) throw new WC_ERR_POLLS_FULL()
    // A new entry per hold, so the same callback held twice counts twice.
    const entry = new Entry(this, key, onWake)
    if (polls === undefined) this.#byKey.set(key, entry)
    else if (polls instanceof Entry) this.#byKey.set(key, new Set([polls, entry]))
    else polls.add(entry)
    this.#total++
    return entry
  }

  /** Takes a released entry out (Entry.release). */
  forget (entry: Entry): void {
    this.#total--
    const polls = this.#byKey.get(entry.key)
    if (polls === entry) {
      this.#byKey.delete(entry.key)
    } else if (polls instanceof Set) {
      polls.delete(entry)
      if (polls.size === 0) this.#byKey.delete(entry.key)
    }
  }

  wake (key: string): void {
    const polls = this.#byKey.get(key)
    if (polls === undefined) return
    if (polls instanceof Entry) polls.fire()
    else for (const entry of [...polls]) entry.fire()
  }

  /** Wakes every held poll: the store came or went, wake-ups may have been lost, or the server closes. */
  wakeAll (): void {
    for (const polls of [...this.#byKey.values()]) {
      if (polls instanceof Entry) polls.fire()
      else for (const entry of [...polls]) entry.fire()
    }
  }

  /** How many polls are held now. */
  get size (): number {
    return this.#total
  }
}
