/**
 * Whether Redis answers, known within about a second whatever the
 * connection does. node-redis stops timing a command once it is written, so
 * a frozen Redis (SIGSTOP, a stuck host, a full network buffer) would hold
 * every call for ever. Here every call runs against our own deadline, and a
 * heartbeat PING finds a Redis that stalls while nobody calls. A missed
 * deadline marks Redis unreachable: calls then fail at once (503) until a
 * heartbeat is answered again.
 */
import { WC_ERR_STORE_UNAVAILABLE } from '../../errors.js'

export interface ReachabilityOptions {
  /** How long one store call may take before it answers 503. */
  deadlineMs: number
  /** How often the heartbeat pings while no ping is outstanding. */
  heartbeatMs: number
  /** One PING on the command connection. */
  ping: () => Promise<unknown>
  /** Whether the command connection is up (node-redis's view: it notices closed sockets, not stalls). */
  commandsConnected: () => boolean
  /** Whether the pub/sub connection is up and subscribed. */
  wakeUpsConnected: () => boolean
  /** Told once per change of `ready`, with why when it turns false. */
  onChange: (ready: boolean, reason: string) => void
  /** Told of every call that failed (`error`, including one refused at once while Redis is unreachable) or missed its deadline (`timeout`). */
  onFailure?: ((kind: 'error' | 'timeout') => void) | undefined
}

export class Reachability {
  readonly #options: ReachabilityOptions
  /** A call or a ping missed its deadline, and no ping has been answered since. */
  #stalled = false
  #ready = false
  #heartbeat: NodeJS.Timeout | undefined
  /** Reporting runs between start() and stop(): connecting is not a change. */
  #running = false

  constructor (options: ReachabilityOptions) {
    this.#options = options
  }

  /** Calls can go to Redis now. */
  get callable (): boolean {
    return !this.#stalled && this.#options.commandsConnected()
  }

  /** Calls can go to Redis and wake-ups come back from it. */
  get ready (): boolean {
    return this.callable && this.#options.wakeUpsConnected()
  }

  /** Starts the heartbeat; `ready` is reported from here on. */
  start (): void {
    this.#ready = this.ready
    this.#running = true
    this.#beat()
  }

  stop (): void {
    this.#running = false
    clearTimeout(this.#heartbeat)
  }

  /** Re-reads the connection state (after a connection event) and reports a change. */
  update (reason = 'connection lost'): void {
    const ready = this.ready
    if (ready === this.#ready || !this.#running) return
    this.#ready = ready
    this.#options.onChange(ready, ready ? '' : reason)
  }

  /**
   * Runs one store call within the deadline. Fails at once with
   * WC_ERR_STORE_UNAVAILABLE while Redis is known unreachable, and with it
   * when the deadline passes (the call may still land in Redis later).
   */
  async call<T> (run: () => Promise<T>): Promise<T> {
    if (!this.callable) {
      this.#options.onFailure?.('error')
      throw new WC_ERR_STORE_UNAVAILABLE()
    }
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.#options.onFailure?.('timeout')
        this.#stall()
        reject(new WC_ERR_STORE_UNAVAILABLE())
      }, this.#options.deadlineMs)
    })
    const work = run()
    // The late reply of a call that lost the race is dropped here, not left unhandled.
    work.catch(() => {})
    try {
      return await Promise.race([work, deadline])
    } catch (err) {
      if (err instanceof WC_ERR_STORE_UNAVAILABLE) throw err
      this.#options.onFailure?.('error')
      throw new WC_ERR_STORE_UNAVAILABLE({ cause: err })
    } finally {
      clearTimeout(timer)
    }
  }

  #stall (): void {
    if (this.#stalled) return
    this.#stalled = true
    this.update('Redis does not answer')
  }

  /** One ping at a time: a frozen Redis collects one unanswered ping, not one per beat. */
  #beat (): void {
    if (!this.#running) return
    const missed = setTimeout(() => this.#stall(), this.#options.deadlineMs)
    this.#options.ping().then(() => {
      this.#stalled = false
      this.update()
    }, () => {
      // Connection errors are reported by the connection events; the next beat tries again.
    }).finally(() => {
      clearTimeout(missed)
      if (this.#running) this.#heartbeat = setTimeout(() => this.#beat(), this.#options.heartbeatMs).unref()
    })
  }
}
