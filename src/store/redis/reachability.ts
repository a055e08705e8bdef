/**
 * Whether Redis answers, known within about a second whatever the
 * connection does. node-redis stops timing a command once it is written, so
 * a frozen Redis (SIGSTOP, a stuck host, a full network buffer) would hold
 * every call for ever. Here every call runs against our own deadline, and a
 * heartbeat PING finds a Redis that stalls while nobody calls. A missed
 * deadline marks Redis unreachable: calls then fail at once (503) until a
 * heartbeat is answered again. The heartbeat pings both connections
 * (commands and pub/sub): one that is silently gone (a NAT or firewall that
 * dropped it, a half-open socket) would otherwise look up, while no reply or
 * no wake-up comes, for as long as TCP takes to notice. A connection that has
 * heard nothing for a whole deadline, its ping included, while the other
 * answered a ping sent after that, is gone: its owner is told, and reconnects
 * it. (Both gone at once leaves nothing to judge by: the clients' idle
 * timeout, in the store, closes them.)
 */
import { performance } from 'node:perf_hooks'
import { WC_ERR_STORE_UNAVAILABLE } from '../../errors.js'

export interface ReachabilityOptions {
  /** How long one store call may take before it answers 503. */
  deadlineMs: number
  /** How often the heartbeat beats; each connection has one ping out at a time. */
  heartbeatMs: number
  /** One PING on the command connection. */
  ping: () => Promise<unknown>
  /** Whether the command connection is up (node-redis's view: it notices closed sockets, not stalls). */
  commandsConnected: () => boolean
  /** Whether the pub/sub connection is up and subscribed. */
  wakeUpsConnected: () => boolean
  /** One PING on the pub/sub connection (Redis answers it there while subscribed). */
  pingWakeUps?: (() => Promise<unknown>) | undefined
  /**
   * The pub/sub connection says it is up but has brought nothing, its PING's answer
   * or a wake-up, for a whole deadline before the command connection sent a PING it
   * answered: Redis runs, that connection is gone.
   */
  onWakeUpsSilent?: (() => void) | undefined
  /**
   * The same of the command connection (its PING's answer or a reply to a call),
   * judged by the pub/sub connection's answers (so only with `pingWakeUps`).
   */
  onCommandsSilent?: (() => void) | undefined
  /** Told once per change of `ready`, with why when it turns false. */
  onChange: (ready: boolean, reason: string) => void
  /** Told of every call that failed (`error`, including one refused at once while Redis is unreachable) or missed its deadline (`timeout`). */
  onFailure?: ((kind: 'error' | 'timeout') => void) | undefined
}

interface InFlight {
  settled: boolean
  /** performance.now() by which it must be answered. */
  deadline: number
  reject: (err: unknown) => void
}

export class Reachability {
  readonly #options: ReachabilityOptions
  /** A call or a ping missed its deadline, and no ping has been answered since. */
  #stalled = false
  #ready = false
  #heartbeat: NodeJS.Timeout | undefined
  /**
   * When the PING out on each connection was sent: one at a time on each, so that
   * a frozen Redis collects one unanswered ping per connection, not one per beat.
   */
  #commandsPingSentAt: number | undefined = undefined
  #wakeUpsPingSentAt: number | undefined = undefined
  /**
   * When each connection last brought something: a reply to a call (late ones too),
   * a wake-up. A backlog on one connection delays its ping, not its replies.
   */
  #commandsHeardAt = 0
  #wakeUpsHeardAt = 0
  /** Reporting runs between start() and stop(): connecting is not a change. */
  #running = false
  /** Calls not yet answered, oldest first from #head (answered ones may linger behind an older one). */
  readonly #inFlight: InFlight[] = []
  #head = 0
  /** Armed while calls are in flight, for the oldest one's deadline. */
  #timer: NodeJS.Timeout | undefined

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

  /** The pub/sub connection brought a wake-up. */
  heardWakeUp (): void {
    this.#wakeUpsHeardAt = performance.now()
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
   *
   * Every call has the same deadline, so calls expire in the order they
   * started: they wait in one queue under one timer, armed for the oldest,
   * rather than each with a timer and a race of its own.
   */
  call<T> (run: () => Promise<T>): Promise<T> {
    if (!this.callable) {
      this.#options.onFailure?.('error')
      return Promise.reject(new WC_ERR_STORE_UNAVAILABLE())
    }
    return new Promise<T>((resolve, reject) => {
      const call: InFlight = { settled: false, deadline: performance.now() + this.#options.deadlineMs, reject }
      let work: Promise<T>
      try {
        work = run()
      } catch (err) {
        reject(err)
        return
      }
      this.#inFlight.push(call)
      this.#timer ??= setTimeout(this.#expire, this.#options.deadlineMs)
      // A late reply, after the deadline answered, is dropped here.
      work.then((value) => {
        this.#commandsHeardAt = performance.now()
        if (this.#settle(call)) resolve(value)
      }, (err: unknown) => {
        this.#commandsHeardAt = performance.now()
        if (!this.#settle(call)) return
        this.#options.onFailure?.('error')
        reject(new WC_ERR_STORE_UNAVAILABLE({ cause: err }))
      })
    })
  }

  /** Marks a call answered; false when its deadline answered it already. */
  #settle (call: InFlight): boolean {
    if (call.settled) return false
    call.settled = true
    // Answered calls leave the front of the queue at once, so that it stays short.
    const queue = this.#inFlight
    while (this.#head < queue.length && (queue[this.#head] as InFlight).settled) this.#head++
    if (this.#head === queue.length) {
      queue.length = 0
      this.#head = 0
    } else if (this.#head >= 1024 && this.#head * 2 >= queue.length) {
      queue.splice(0, this.#head)
      this.#head = 0
    }
    return true
  }

  /** The timer: fails every call past its deadline, then waits for the oldest one left. */
  readonly #expire = (): void => {
    this.#timer = undefined
    const now = performance.now()
    const queue = this.#inFlight
    for (;;) {
      const call = queue[this.#head]
      if (call === undefined) break
      if (!call.settled) {
        if (call.deadline > now) break
        call.settled = true
        this.#options.onFailure?.('timeout')
        this.#stall()
        call.reject(new WC_ERR_STORE_UNAVAILABLE())
      }
      this.#head++
    }
    if (this.#head === queue.length) {
      queue.length = 0
      this.#head = 0
      return
    }
    this.#timer = setTimeout(this.#expire, Math.max(1, Math.ceil((queue[this.#head] as InFlight).deadline - now)))
  }

  #stall (): void {
    if (this.#stalled) return
    this.#stalled = true
    this.update('Redis does not answer')
  }

  /** Beats on while a ping is unanswered: the other connection's answers judge it. */
  #beat (): void {
    if (!this.#running) return
    this.#pingWakeUps()
    this.#pingCommands()
    this.#heartbeat = setTimeout(() => this.#beat(), this.#options.heartbeatMs).unref()
  }

  #pingCommands (): void {
    if (this.#commandsPingSentAt !== undefined) return
    const sentAt = this.#commandsPingSentAt = performance.now()
    const missed = setTimeout(() => this.#stall(), this.#options.deadlineMs)
    this.#options.ping().then(() => {
      this.#stalled = false
      this.update()
      if (this.#outlasted(this.#wakeUpsPingSentAt, this.#wakeUpsHeardAt, sentAt)) this.#options.onWakeUpsSilent?.()
    }, () => {
      // Connection errors are reported by the connection events; the next beat tries again.
    }).finally(() => {
      clearTimeout(missed)
      this.#commandsPingSentAt = undefined
    })
  }

  #pingWakeUps (): void {
    const ping = this.#options.pingWakeUps
    if (ping === undefined || this.#wakeUpsPingSentAt !== undefined || !this.#options.wakeUpsConnected()) return
    const sentAt = this.#wakeUpsPingSentAt = performance.now()
    // Failed with its connection, node-redis reconnects it itself.
    ping().then(() => {
      if (this.#outlasted(this.#commandsPingSentAt, this.#commandsHeardAt, sentAt)) this.#options.onCommandsSilent?.()
    }, () => {}).finally(() => { this.#wakeUpsPingSentAt = undefined })
  }

  /**
   * A connection whose ping is still unanswered and that has heard nothing else, for a
   * whole deadline before a ping just answered on the other connection was sent. A
   * frozen or slow Redis, or a stalled event loop, delays both connections alike; a
   * backlog on one still brings replies: only a connection that is gone stays silent.
   */
  #outlasted (unansweredSentAt: number | undefined, heardAt: number, answeredSentAt: number): boolean {
    const since = answeredSentAt - this.#options.deadlineMs
    return this.#running && unansweredSentAt !== undefined && unansweredSentAt <= since && heardAt <= since
  }
}
