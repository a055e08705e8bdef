/**
 * Scenario 3 (and 5): many Alice/Bob pairs doing request -> task -> answer ->
 * result, both sides long-polling. Bob's poll is held before Alice asks, as it
 * is for a plugin in the field. Measures resolutions per second and the
 * latency from Alice's request to Alice holding the answer.
 *
 * The warm-up is the first part of the same run (same Bobs, sockets and rate),
 * not a run of its own: a fresh run starts with 500 new Bobs connecting and
 * the schedule at full rate at once, a transient of its own that a short
 * measured window would then be mostly made of.
 */
import { percentile, round, sign } from '../lib/load.js'
import { cpuMicros } from '../lib/processes.js'
import { RawConnection, type RawReply } from '../lib/raw-http.js'

/** Asks connect this many at a time before the run, as phones come online over time. */
const CONNECT_BATCH = 100

export interface FullFlowOptions {
  /** Instances to spread over: Alice uses one, her Bob the next (cross-instance with two). */
  urls: string[]
  pairs: number
  /** Asks per second across all Alices; 0 = closed loop (each Alice asks again at once). */
  rate: number
  /** The measured window. */
  seconds: number
  /** The same flow first, not recorded (JIT, heap, sockets, the start's transient). */
  warmupSeconds: number
  firstUserId: number
  /** Servers whose CPU time over the measured window is summed into cpuUsPerResolution. */
  pids?: number[]
  /** Called as the measured window starts and once it has drained (e.g. Redis counters). */
  around?: { before: () => Promise<void>, after: () => Promise<void> }
}

/** One second of the whole run (warm-up included), by when asks started. */
export interface FlowSecond {
  second: number
  resolutions: number
  p50Ms: number
  p99Ms: number
}

export interface FullFlowResult {
  pairs: number
  targetRate: number
  resolutionsPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  resolutions: number
  failures: number
  /** Why steps failed (measured window; Bobs' at any time), by kind, with counts. */
  failureReasons: Record<string, number>
  /** Asks the open-loop schedule wanted while every Alice was still busy (measured window). */
  skipped: number
  /** Server CPU (all pids) over the measured window per recorded resolution, microseconds. */
  cpuUsPerResolution?: number
  /** This load generator's own CPU over the measured window per recorded resolution (it shares the cores). */
  driverCpuUsPerResolution?: number
  /** How late the open-loop schedule started asks in the measured window (ms after each was due): p99 and max. */
  lateMs?: { p99: number, max: number }
  warmupSeconds: number
  /** Per second of the whole run, warm-up included: where the slow ones are. */
  timeline: FlowSecond[]
}

/**
 * The open-loop schedule: `scheduled(t)` asks are due by t seconds, the rate
 * ramping up linearly over the first `rampSeconds` and holding after; `dueAt(k)`
 * is when (ms after the start) the k-th ask is due, its inverse.
 */
export function openLoopSchedule (rate: number, rampSeconds: number): { scheduled: (t: number) => number, dueAt: (k: number) => number } {
  const ramp = rampSeconds
  return {
    scheduled: (t) => ramp === 0 ? rate * t : t < ramp ? rate * t * t / (2 * ramp) : rate * (ramp / 2 + t - ramp),
    dueAt: (k) => 1000 * (ramp === 0 || k >= rate * ramp / 2 ? k / rate + ramp / 2 : Math.sqrt(2 * ramp * k / rate))
  }
}

export async function fullFlow (options: FullFlowOptions): Promise<FullFlowResult> {
  const bases = options.urls.map((u) => new URL(u))
  // Bobs and Alices hold a socket each, as phones do (connected before the run, so that
  // no burst of connects overflows the listen backlog). A shared, smaller pool of Alice
  // sockets would queue asks in the driver once resolutions slow down, and that queue
  // (not the server) would then set the latency. The sockets are raw keep-alive ones
  // (lib/raw-http.ts): node:http's client cost as much CPU as the server on the same cores.
  const connection = (index: number): RawConnection => {
    const base = bases[index % bases.length] as URL
    return new RawConnection(base.hostname, Number(base.port))
  }
  const hostHeader = (index: number): string => `host: ${(bases[index % bases.length] as URL).host}\r\n`
  const connections: RawConnection[] = []
  let running = true
  const latencies: number[] = []
  // Every resolution by when its ask started (ms since the schedule started) and how long it took.
  const all: Array<[number, number]> = []
  let failures = 0
  const failureReasons: Record<string, number> = {}
  const failed = (reason: string): void => {
    failures++
    failureReasons[reason] = (failureReasons[reason] ?? 0) + 1
  }
  let skipped = 0
  // Set once every Bob holds a poll and the warm-up is over; asks that start earlier are warm-up.
  let recordFrom = Infinity
  let scheduleFrom = Infinity

  // A reply other than 200 fails the step, saying which and why (the first words of its body).
  const expect = (reply: RawReply, step: string): RawReply => {
    if (reply.status !== 200) throw new Error(`${step} ${reply.status} ${reply.body.slice(0, 60)}`)
    return reply
  }
  // What a node:http client would send: the request line, Host, the v1 signature (over the
  // path without its query for a GET, the body for a POST) and, for a POST, the JSON type.
  const getHead = (host: string, path: string): string => `GET ${path} HTTP/1.1\r\n${host}x-signature: ${sign(path.split('?')[0] as string)}\r\n`
  const postHead = (host: string, path: string, body: string): string => `POST ${path} HTTP/1.1\r\n${host}x-signature: ${sign(body)}\r\ncontent-type: application/json\r\n`

  const bob = async (pair: number): Promise<void> => {
    const at = pair + 1
    const me = options.firstUserId + 2 * pair + 1
    const conn = connection(at)
    connections.push(conn)
    const host = hostHeader(at)
    const poll = getHead(host, `/getTasks/${me}?wait=25`)
    while (running) {
      try {
        const tasks = expect(await conn.request(poll), 'getTasks')
        if (!running) return
        for (const id of (JSON.parse(tasks.body) as { tasks: string[] }).tasks) {
          const body = `{"request_id": "${id}", "client_name": "com.exteragram.messenger"}`
          expect(await conn.request(postHead(host, '/submitTaskResult', body), body), 'submitTaskResult')
        }
      } catch (err) {
        if (!running) return
        failed(`Bob: ${(err as Error).message}`)
        // Not at once: a server that refuses everything would otherwise be hammered in a loop.
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
  }

  // Alice's socket and her (unchanging) requestClient call.
  const alices = Array.from({ length: options.pairs }, (_, pair) => {
    const me = options.firstUserId + 2 * pair
    const host = hostHeader(pair)
    const body = `{"requester_id": ${me}, "target_id": ${me + 1}}`
    const conn = connection(pair)
    connections.push(conn)
    return { conn, host, body, head: postHead(host, '/requestClient', body) }
  })

  const ask = async (pair: number): Promise<void> => {
    const alice = alices[pair] as typeof alices[number]
    const t0 = performance.now()
    try {
      const created = expect(await alice.conn.request(alice.head, alice.body), 'requestClient')
      const { request_id: id } = JSON.parse(created.body) as { request_id: string }
      const poll = getHead(alice.host, `/getRequestResult/${id}?wait=25`)
      for (;;) {
        const result = expect(await alice.conn.request(poll), 'getRequestResult')
        const status = (JSON.parse(result.body) as { status: string }).status
        if (status === 'completed') break
        if (status !== 'pending' || !running) throw new Error(`getRequestResult: ${status}`)
      }
      const took = performance.now() - t0
      all.push([t0 - scheduleFrom, took])
      if (t0 >= recordFrom && t0 < endAt && running) latencies.push(took)
    } catch (err) {
      if (running && t0 >= recordFrom) failed(`Alice: ${(err as Error).message}`)
    }
  }

  // Connect gradually: a burst of connects beyond the listen backlog costs a 1 s SYN retry.
  const bobs: Array<Promise<void>> = []
  for (let pair = 0; pair < options.pairs; pair++) {
    bobs.push(bob(pair))
    if (pair % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  // Alice's sockets: every one opened and answered once, a batch at a time.
  for (let k = 0; k < alices.length; k += CONNECT_BATCH) {
    await Promise.all(alices.slice(k, k + CONNECT_BATCH).map(async (alice) => { await alice.conn.request(`GET /healthz HTTP/1.1\r\n${alice.host}`) }))
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await new Promise((resolve) => setTimeout(resolve, 500))
  scheduleFrom = performance.now()
  recordFrom = scheduleFrom + options.warmupSeconds * 1000
  const endAt = recordFrom + options.seconds * 1000
  const idle: number[] = Array.from({ length: options.pairs }, (_, i) => i)
  const pids = options.pids ?? []
  let cpuBefore: number[] = []
  let driverBefore: NodeJS.CpuUsage | undefined
  let lateMs: FullFlowResult['lateMs']
  // The measured window opens at recordFrom; the counters are read then, without pausing the schedule.
  let opened: Promise<void> | undefined
  const open = (): void => {
    if (opened !== undefined) return
    cpuBefore = pids.map(cpuMicros)
    driverBefore = process.cpuUsage()
    opened = options.around?.before() ?? Promise.resolve()
  }

  // The rate ramps up over the first half of the warm-up (at most 3 s), then holds: a cold
  // server started at full rate builds a backlog that, at a rate near its capacity, takes
  // longer to drain than a short window lasts.
  const ramp = Math.min(3, options.warmupSeconds / 2)
  const { scheduled, dueAt } = openLoopSchedule(options.rate, ramp)

  if (options.rate === 0) {
    const opener = setTimeout(open, Math.max(0, recordFrom - performance.now()))
    await Promise.all(idle.map(async (pair) => { while (performance.now() < endAt) await ask(pair) }))
    clearTimeout(opener)
    open()
  } else {
    let issued = 0
    const late: number[] = []
    const inFlight = new Set<Promise<void>>()
    while (performance.now() < endAt) {
      const now = performance.now()
      if (now >= recordFrom) open()
      const due = Math.floor(scheduled((now - scheduleFrom) / 1000))
      while (issued < due) {
        issued++
        if (now >= recordFrom) late.push(now - scheduleFrom - dueAt(issued))
        const pair = idle.shift()
        if (pair === undefined) { if (now >= recordFrom) skipped++; continue }
        const p: Promise<void> = ask(pair).then(() => { idle.push(pair); inFlight.delete(p) })
        inFlight.add(p)
      }
      // Sleep until the next ask is due (a timer's 1 ms at the full rate) rather than spin on
      // setImmediate: a spinning driver keeps a whole core busy on a machine where the
      // server and Redis share the same cores, and the server then queues behind it.
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.min(10, Math.ceil(dueAt(issued + 1) - (performance.now() - scheduleFrom))))))
    }
    open()
    await Promise.all(inFlight)
    late.sort((a, b) => a - b)
    lateMs = { p99: round(percentile(late, 99), 1), max: round(late.at(-1) ?? NaN, 1) }
  }
  // Asks still in flight have drained: the window closes (Bobs still hold polls, idle).
  const cpuUsed = pids.reduce((sum, pid, i) => sum + cpuMicros(pid) - (cpuBefore[i] as number), 0)
  const driverUsed = process.cpuUsage(driverBefore)
  await opened
  await options.around?.after()
  running = false
  for (const conn of connections) conn.close()
  await Promise.allSettled(bobs)

  const measuredSeconds = options.seconds
  latencies.sort((a, b) => a - b)
  const timeline: FlowSecond[] = []
  for (const [at] of all) {
    const second = Math.floor(at / 1000)
    while (timeline.length <= second) timeline.push({ second: timeline.length, resolutions: 0, p50Ms: 0, p99Ms: 0 })
    ;(timeline[second] as FlowSecond).resolutions++
  }
  for (const s of timeline) {
    const took = all.filter(([at]) => Math.floor(at / 1000) === s.second).map(([, t]) => t).sort((a, b) => a - b)
    s.p50Ms = round(percentile(took, 50), 1)
    s.p99Ms = round(percentile(took, 99), 1)
  }
  return {
    pairs: options.pairs,
    targetRate: options.rate,
    resolutionsPerSecond: Math.round(latencies.length / measuredSeconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? NaN),
    resolutions: latencies.length,
    failures,
    failureReasons,
    skipped,
    ...(pids.length > 0 && latencies.length > 0 ? { cpuUsPerResolution: round(cpuUsed / latencies.length, 1) } : {}),
    ...(latencies.length > 0 ? { driverCpuUsPerResolution: round((driverUsed.user + driverUsed.system) / latencies.length, 1) } : {}),
    ...(lateMs === undefined ? {} : { lateMs }),
    warmupSeconds: options.warmupSeconds,
    timeline
  }
}
