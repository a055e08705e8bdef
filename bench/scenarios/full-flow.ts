/**
 * Scenario 3 (and 5): many Alice/Bob pairs doing request -> task -> answer ->
 * result, both sides long-polling. Bob's poll is held before Alice asks, as it
 * is for a plugin in the field. Measures resolutions per second and the
 * latency from Alice's request to Alice holding the answer.
 */
import { Agent } from 'node:http'
import { call, percentile, round } from '../lib/load.js'

const ALICE_SOCKETS = 128

export interface FullFlowOptions {
  /** Instances to spread over: Alice uses one, her Bob the next (cross-instance with two). */
  urls: string[]
  pairs: number
  /** Asks per second across all Alices; 0 = closed loop (each Alice asks again at once). */
  rate: number
  seconds: number
  firstUserId: number
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
  /** Asks the open-loop schedule wanted while every Alice was still busy. */
  skipped: number
}

export async function fullFlow (options: FullFlowOptions): Promise<FullFlowResult> {
  const bases = options.urls.map((u) => new URL(u))
  // Bobs hold a socket each, as phones do; Alices share a bounded pool, so that a burst
  // of asks queues in the driver instead of opening hundreds of sockets at once.
  const bobAgents = bases.map(() => new Agent({ keepAlive: true, maxSockets: Infinity }))
  const aliceAgents = bases.map(() => new Agent({ keepAlive: true, maxSockets: ALICE_SOCKETS }))
  let running = true
  const aborts = new Set<() => void>()
  const latencies: number[] = []
  let failures = 0
  let skipped = 0
  const WARMUP_MS = 500
  // Set once every Bob holds a poll; asks that start earlier are warm-up.
  let recordFrom = Infinity

  const tracked = (agents: Agent[], agentIndex: number, method: 'GET' | 'POST', path: string, payload?: string) => {
    const c = call(agents[agentIndex] as Agent, bases[agentIndex] as URL, method, path, payload)
    aborts.add(c.abort)
    return c.done.finally(() => aborts.delete(c.abort))
  }

  const bob = async (pair: number): Promise<void> => {
    const at = (pair + 1) % bases.length
    const me = options.firstUserId + 2 * pair + 1
    while (running) {
      try {
        const tasks = await tracked(bobAgents, at, 'GET', `/getTasks/${me}?wait=25`)
        if (!running) return
        for (const id of (JSON.parse(tasks.body) as { tasks: string[] }).tasks) {
          await tracked(bobAgents, at, 'POST', '/submitTaskResult', `{"request_id": "${id}", "client_name": "com.exteragram.messenger"}`)
        }
      } catch {
        if (running) failures++
      }
    }
  }

  const ask = async (pair: number): Promise<void> => {
    const at = pair % bases.length
    const me = options.firstUserId + 2 * pair
    const t0 = performance.now()
    try {
      const created = await tracked(aliceAgents, at, 'POST', '/requestClient', `{"requester_id": ${me}, "target_id": ${me + 1}}`)
      const { request_id: id } = JSON.parse(created.body) as { request_id: string }
      for (;;) {
        const result = await tracked(aliceAgents, at, 'GET', `/getRequestResult/${id}?wait=25`)
        const status = (JSON.parse(result.body) as { status: string }).status
        if (status === 'completed') break
        if (status !== 'pending' || !running) throw new Error(status)
      }
      if (t0 >= recordFrom && running) latencies.push(performance.now() - t0)
    } catch {
      if (running) failures++
    }
  }

  // Connect gradually: a burst of connects beyond the listen backlog costs a 1 s SYN retry.
  const bobs: Array<Promise<void>> = []
  for (let pair = 0; pair < options.pairs; pair++) {
    bobs.push(bob(pair))
    if (pair % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await Promise.all(bases.map((base, i) => Promise.all(Array.from({ length: ALICE_SOCKETS }, () =>
    call(aliceAgents[i] as Agent, base, 'GET', '/healthz').done))))
  await new Promise((resolve) => setTimeout(resolve, 500))
  const measureFrom = performance.now()
  recordFrom = measureFrom + WARMUP_MS
  const endAt = measureFrom + options.seconds * 1000
  const idle: number[] = Array.from({ length: options.pairs }, (_, i) => i)

  if (options.rate === 0) {
    await Promise.all(idle.map(async (pair) => { while (performance.now() < endAt) await ask(pair) }))
  } else {
    let issued = 0
    const inFlight = new Set<Promise<void>>()
    while (performance.now() < endAt) {
      const due = Math.floor((performance.now() - measureFrom) / 1000 * options.rate)
      while (issued < due) {
        issued++
        const pair = idle.shift()
        if (pair === undefined) { skipped++; continue }
        const p: Promise<void> = ask(pair).then(() => { idle.push(pair); inFlight.delete(p) })
        inFlight.add(p)
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(inFlight)
  }
  running = false
  for (const abort of aborts) abort()
  await Promise.allSettled(bobs)
  for (const agent of [...bobAgents, ...aliceAgents]) agent.destroy()

  const measuredSeconds = options.seconds - WARMUP_MS / 1000
  latencies.sort((a, b) => a - b)
  return {
    pairs: options.pairs,
    targetRate: options.rate,
    resolutionsPerSecond: Math.round(latencies.length / measuredSeconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? NaN),
    resolutions: latencies.length,
    failures,
    skipped
  }
}
