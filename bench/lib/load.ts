/**
 * Load generation: autocannon for fixed requests, and a signed-request helper
 * for our own drivers.
 */
import { createHmac } from 'node:crypto'
import { Agent, request } from 'node:http'
import autocannon from 'autocannon'
import { BENCH_KEY, cpuMicros } from './processes.js'

export const sign = (material: string): string => createHmac('sha256', BENCH_KEY).update(material).digest('hex')

export interface LoadResult {
  rps: number
  /** Server CPU per request (user + system), when the server's pid was given. */
  cpuUsPerRequest?: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  requests: number
}

function summarise (result: autocannon.Result): LoadResult {
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total
  }
}

export interface HammerOptions {
  /** Requests at once (autocannon connections). */
  connections: number
  /** The measured window. */
  seconds: number
  /** The same load first, not measured (JIT, heap, sockets). */
  warmupSeconds?: number
  /** Servers whose CPU time is read before and after the measured window (summed). */
  pids?: number[]
  /** Headers to send instead of the v1 signature (e.g. a v2 bearer token). */
  headers?: Record<string, string>
  /** Called right before and after the measured window (e.g. Redis counters). */
  around?: { before: () => Promise<void>, after: () => Promise<void> }
  /** Requests per second in all (open loop) instead of as fast as the server answers. */
  rate?: number
}

/** A GET of `path` (v1-signed unless `headers` are given), `connections` at a time, after a warm-up. */
export async function hammer (url: string, path: string, options: HammerOptions): Promise<LoadResult> {
  const headers = options.headers ?? { 'x-signature': sign(path.split('?')[0] as string) }
  const base = { url: url + path, connections: options.connections, headers, ...(options.rate === undefined ? {} : { overallRate: options.rate }) }
  const warmup = options.warmupSeconds ?? 2
  if (warmup > 0) await autocannon({ ...base, duration: warmup })
  await options.around?.before()
  const pids = options.pids ?? []
  const cpuBefore = pids.map(cpuMicros)
  const result = summarise(await autocannon({ ...base, duration: options.seconds }))
  const cpuUsed = pids.reduce((sum, pid, i) => sum + cpuMicros(pid) - (cpuBefore[i] as number), 0)
  await options.around?.after()
  if (pids.length > 0 && result.requests > 0) result.cpuUsPerRequest = round(cpuUsed / result.requests, 1)
  return result
}

/** A signed GET of `path`, `connections` at a time, after a short warm-up. */
export async function hammerGet (url: string, path: string, connections: number, seconds: number, pid?: number, warmupSeconds = 2): Promise<LoadResult> {
  return hammer(url, path, { connections, seconds, warmupSeconds, pids: pid === undefined ? [] : [pid] })
}

/** `amount` distinct signed requestClient calls (fills the store); returns the rate it managed. */
export async function fillPending (url: string, amount: number, firstId: number, connections = 100): Promise<LoadResult> {
  let next = firstId
  const result = await autocannon({
    url: `${url}/requestClient`,
    connections,
    amount,
    requests: [{
      method: 'POST',
      setupRequest: (req) => {
        const requester = next++
        const body = `{"requester_id": ${requester}, "target_id": ${requester + 1}}`
        return { ...req, body, headers: { 'content-type': 'application/json', 'x-signature': sign(body) } }
      }
    }]
  })
  return summarise(result)
}

export interface Reply {
  status: number
  body: string
}

/** One signed call through `agent`, for drivers that need to chain calls. */
export function call (agent: Agent, base: URL, method: 'GET' | 'POST', path: string, payload?: string, localAddress?: string): { done: Promise<Reply>, sent: Promise<void>, abort: () => void } {
  const headers: Record<string, string> = { 'x-signature': sign(payload ?? path.split('?')[0] as string) }
  if (payload !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(payload))
  }
  const req = request({ agent, host: base.hostname, port: base.port, method, path, headers, localAddress })
  const done = new Promise<Reply>((resolve, reject) => {
    req.on('error', reject)
    req.on('response', (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
  })
  // Resolves once the request is on the wire (its socket connected), or failed.
  const sent = new Promise<void>((resolve) => {
    req.once('finish', () => resolve())
    req.once('error', () => resolve())
  })
  req.end(payload)
  return { done, sent, abort: () => req.destroy() }
}

/**
 * How much the second of each pair of measurements exceeds the first, as a fraction: the
 * median over the pairs (of an even count, the mean of the middle two), and in how many
 * pairs the second was the larger. Pairs taken close together cancel a drift that is
 * slow next to one pair.
 */
export function pairedExcess (first: readonly number[], second: readonly number[]): { median: number, above: number, pairs: number } {
  const pairs = Math.min(first.length, second.length)
  const excess = Array.from({ length: pairs }, (_, i) => (second[i] as number) / (first[i] as number) - 1)
  return { median: median(excess), above: excess.filter((e) => e > 0).length, pairs }
}

/**
 * The median of the finite values, NaN without any. Of an even count it is the mean of the
 * middle two, rounded to `digits` when given (an odd count's median is a value as measured).
 */
export function median (values: readonly number[], digits?: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length % 2 === 1) return sorted[mid] as number
  const mean = ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return digits === undefined ? mean : round(mean, digits)
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))] as number
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits
