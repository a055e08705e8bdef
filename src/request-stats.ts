/**
 * Request statistics for the logs: per route pattern and status, how many
 * requests and how long they took, logged as one summary line per group every
 * LOG_SUMMARY_SECONDS. A per-request access log would itself be metadata (when
 * somebody asked, when somebody answered); a summary says how the service does
 * without saying what any one user did. Memory is bounded: route patterns and
 * statuses are finite, and latencies go into fixed buckets.
 */

/** A request's time as logged and summarised: milliseconds to two decimals. */
export const roundMs = (ms: number): number => Math.round(ms * 100) / 100

/** Upper bounds of the latency buckets, in ms; the last bucket is everything slower. */
const BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000]

interface Group {
  method: string
  route: string
  statusCode: number
  count: number
  maxMs: number
  buckets: number[]
}

export interface RequestSummary {
  method: string
  route: string
  statusCode: number
  count: number
  /**
   * The median / the 99th percentile, in ms, as an upper bound: the bound of the bucket that
   * holds it, or the slowest request when that was faster (a bucket bound above every request
   * measured would say more than was seen).
   */
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export class RequestStats {
  /** By route pattern, then method, then status: no key string is built per request. */
  readonly #groups = new Map<string, Map<string, Map<number, Group>>>()

  record (method: string, route: string, statusCode: number, ms: number): void {
    let byMethod = this.#groups.get(route)
    if (byMethod === undefined) this.#groups.set(route, byMethod = new Map())
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, byStatus = new Map())
    let group = byStatus.get(statusCode)
    if (group === undefined) {
      group = { method, route, statusCode, count: 0, maxMs: 0, buckets: new Array<number>(BUCKETS_MS.length + 1).fill(0) }
      byStatus.set(statusCode, group)
    }
    group.count++
    if (ms > group.maxMs) group.maxMs = ms
    let i = 0
    while (i < BUCKETS_MS.length && ms > (BUCKETS_MS[i] as number)) i++
    group.buckets[i] = (group.buckets[i] as number) + 1
  }

  /** The summaries since the last drain, and a fresh start. */
  drain (): RequestSummary[] {
    const groups: Group[] = []
    for (const byMethod of this.#groups.values()) for (const byStatus of byMethod.values()) groups.push(...byStatus.values())
    const out = groups.map((g) => ({
      method: g.method,
      route: g.route,
      statusCode: g.statusCode,
      count: g.count,
      p50Ms: quantile(g, 0.5),
      p99Ms: quantile(g, 0.99),
      maxMs: roundMs(g.maxMs)
    }))
    this.#groups.clear()
    return out
  }
}

function quantile (group: Group, q: number): number {
  const rank = Math.ceil(q * group.count)
  const max = roundMs(group.maxMs)
  let seen = 0
  for (let i = 0; i < group.buckets.length; i++) {
    seen += group.buckets[i] as number
    if (seen >= rank) return Math.min(BUCKETS_MS[i] ?? max, max)
  }
  return max
}
