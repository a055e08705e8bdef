/**
 * The service's Prometheus instruments, in a registry of their own (not
 * prom-client's global one, so that several apps in one process do not mix).
 *
 * Privacy: every label value comes from a short fixed set (route patterns,
 * methods, status codes, outcome words). Nothing here takes a user id, a
 * request id, a package name or an address, and the interface below gives
 * other components no way to pass one.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** What other components feed: counts and readings, never who. */
export interface ServiceMetrics {
  /** Reads the number of requests the store holds, at each scrape. */
  readPendingRequests (read: () => number | Promise<number>): void
  /** Reads the number of long-polls this instance holds, at each scrape. */
  readHeldPolls (read: () => number): void
  /** A store call failed (`error`) or gave up waiting (`timeout`). */
  storeFailure (kind: 'error' | 'timeout'): void
  /** A sign-in (v2) was accepted or refused. */
  signIn (outcome: 'accepted' | 'refused'): void
}

// Seconds. Long-polls are held up to MAX_WAIT_SECONDS (30 by default, at most 300), so
// the top buckets are wide; the low ones separate an idle poll from a store round trip.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 320]

const HTTP_LABELS = ['method', 'route', 'status_code'] as const

export class Metrics implements ServiceMetrics {
  readonly registry = new Registry()
  #processMetrics = false
  #readPending: (() => number | Promise<number>) | undefined
  #readHeld: (() => number) | undefined

  readonly #requests = new Counter({
    name: 'whatclient_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: HTTP_LABELS,
    registers: [this.registry]
  })

  readonly #latency = new Histogram({
    name: 'whatclient_http_request_duration_seconds',
    help: 'Time from request to response, by method, route pattern and status; held long-polls included.',
    labelNames: HTTP_LABELS,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry]
  })

  readonly #storeFailures = new Counter({
    name: 'whatclient_store_failures_total',
    help: 'Store calls that failed (kind="error") or timed out (kind="timeout").',
    labelNames: ['kind'] as const,
    registers: [this.registry]
  })

  readonly #signIns = new Counter({
    name: 'whatclient_sign_ins_total',
    help: 'Sign-ins, by outcome (accepted or refused).',
    labelNames: ['outcome'] as const,
    registers: [this.registry]
  })

  readonly #pending: Gauge = new Gauge({
    name: 'whatclient_pending_requests',
    help: 'Requests the store holds (pending, or answered and not yet delivered); in Redis mode, those of every instance.',
    registers: [this.registry],
    collect: async () => {
      if (this.#readPending === undefined) return
      // A failed read must not fail the whole scrape: the gauge keeps its last value, and
      // the outage shows in whatclient_store_failures_total and in 503 answers.
      try { this.#pending.set(await this.#readPending()) } catch {}
    }
  })

  readonly #held: Gauge = new Gauge({
    name: 'whatclient_held_polls',
    help: 'Long-polls this instance holds now.',
    registers: [this.registry],
    collect: () => {
      if (this.#readHeld !== undefined) this.#held.set(this.#readHeld())
    }
  })

  constructor () {
    // Zero series exist from the start, so that rates and alerts see them before the first event.
    for (const kind of ['error', 'timeout'] as const) this.#storeFailures.inc({ kind }, 0)
    for (const outcome of ['accepted', 'refused'] as const) this.#signIns.inc({ outcome }, 0)
  }

  /** Adds Node's process metrics (CPU, memory, event-loop delay, GC, handles); once. */
  collectProcessMetrics (): void {
    if (this.#processMetrics) return
    this.#processMetrics = true
    collectDefaultMetrics({ register: this.registry })
  }

  /** One answered HTTP request. `route` is the route pattern, never the URL. */
  recordRequest (method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method, route, status_code: statusCode }
    this.#requests.inc(labels)
    this.#latency.observe(labels, seconds)
  }

  readPendingRequests (read: () => number | Promise<number>): void {
    this.#readPending = read
  }

  readHeldPolls (read: () => number): void {
    this.#readHeld = read
  }

  storeFailure (kind: 'error' | 'timeout'): void {
    this.#storeFailures.inc({ kind })
  }

  signIn (outcome: 'accepted' | 'refused'): void {
    this.#signIns.inc({ outcome })
  }

  /** The exposition text and its content type. */
  async exposition (): Promise<{ contentType: string, body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
