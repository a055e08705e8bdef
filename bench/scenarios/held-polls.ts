/**
 * Scenario 4: many held long-polls at once (distinct users, one socket each,
 * spread over several loopback source addresses so ports do not run short),
 * on one server, grown level by level. At each level: the server's RSS and JS
 * heap (from its metrics listener, or the held-polls ceiling's /memory, after a
 * full GC), and how long
 * it takes to release one chosen poll among them by giving its user a task.
 * Per held poll: from the empty server to the level (fixed costs included),
 * and the marginal cost between levels (the steadier figure).
 */
import { Agent } from 'node:http'
import { call, round } from '../lib/load.js'
import { collectGarbage, heapSample, rssBytes, type HeapSample, type RunningServer } from '../lib/processes.js'

export interface HeldLevel {
  held: number
  rssMiB: number
  /** (RSS at this level - RSS empty) / held: includes what the first polls grow once (pools, code). */
  rssPerPollBytes: number
  /** (RSS here - RSS at the previous level) / polls added. */
  marginalRssPerPollBytes?: number
  heapUsedMiB?: number
  /** The JS heap V8 holds (used and free), after the GC: RSS pays for all of it. */
  heapTotalMiB?: number
  heapPerPollBytes?: number
  marginalHeapPerPollBytes?: number
  /** Outside the JS heap (buffers), per poll, from the empty server. */
  externalPerPollBytes?: number
  releaseMedianMs: number
  releaseMaxMs: number
  releaseSamples: number
  refused: number
}

export interface HeldPollsResult {
  levels: HeldLevel[]
  rssEmptyMiB: number
  heapEmptyMiB?: number
  heapTotalEmptyMiB?: number
  /** How the heap was read. */
  heapMethod: string
}

const SOURCES = 8
const OPEN_AT_ONCE = 500
const RELEASE_SAMPLES = 20
const HEAP_SAMPLES = 3

type Poll = { done: Promise<unknown>, sent: Promise<void>, abort: () => void }
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The least heap of several samples, each right after a full GC (what is live, not garbage yet to collect). */
async function settledHeap (server: RunningServer): Promise<HeapSample | undefined> {
  let least: HeapSample | undefined
  for (let i = 0; i < HEAP_SAMPLES; i++) {
    await collectGarbage(server)
    const s = await heapSample(server)
    if (s === undefined) return undefined
    if (least === undefined || s.heapUsed < least.heapUsed) least = s
  }
  return least
}

/** RSS after the polls settle: the least of a few samples (freed pages return late, never early). */
async function settledRss (pid: number): Promise<number> {
  let least = Infinity
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(200)
    least = Math.min(least, rssBytes(pid))
  }
  return least
}

export async function heldPolls (server: RunningServer, levels: number[], firstUserId: number): Promise<HeldPollsResult> {
  const base = new URL(server.url)
  // One socket per poll, as separate phones would have.
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  await sleep(500)
  // Heap first: its GCs may hand pages back, and RSS is then read after them.
  const heapEmpty = await settledHeap(server)
  const rssEmpty = await settledRss(server.pid)
  const polls: Poll[] = []
  /** The user of each poll. */
  const users: number[] = []
  let refused = 0
  const open = (j: number, user: number): Poll => {
    users[j] = user
    const c = call(agent, base, 'GET', `/getTasks/${user}?wait=120`, undefined, `127.0.0.${1 + (j % SOURCES)}`)
    c.done.then((r) => { if (r.status !== 200) refused++ }, () => {})
    return c
  }
  const out: HeldLevel[] = []
  const poster = new Agent({ keepAlive: true })
  const asker = firstUserId + Math.max(...levels) + 1
  let fresh = asker + 1
  let previousRss = rssEmpty
  let previousHeap = heapEmpty?.heapUsed
  for (const count of levels) {
    for (let i = polls.length; i < count; i += OPEN_AT_ONCE) {
      for (let j = i; j < Math.min(count, i + OPEN_AT_ONCE); j++) polls.push(open(j, firstUserId + j))
      // Let the batch connect before the next, so the listen backlog never overflows.
      await sleep(20)
    }
    // Every poll on the wire (a connect dropped by a full backlog is retried by the kernel
    // after 1 s, 3 s...), then a moment for the server to take them all.
    await Promise.all(polls.map((p) => p.sent))
    await sleep(1000)
    const heap = await settledHeap(server)
    const rss = await settledRss(server.pid)
    const previous = out.at(-1)
    const level: HeldLevel = {
      held: count,
      rssMiB: round(rss / 2 ** 20, 1),
      rssPerPollBytes: Math.round((rss - rssEmpty) / count),
      releaseMedianMs: NaN,
      releaseMaxMs: NaN,
      releaseSamples: 0,
      refused: 0
    }
    if (previous !== undefined) level.marginalRssPerPollBytes = Math.round((rss - previousRss) / (count - previous.held))
    previousRss = rss
    if (heap !== undefined && heapEmpty !== undefined) {
      level.heapUsedMiB = round(heap.heapUsed / 2 ** 20, 1)
      level.heapTotalMiB = round(heap.heapTotal / 2 ** 20, 1)
      level.heapPerPollBytes = Math.round((heap.heapUsed - heapEmpty.heapUsed) / count)
      level.externalPerPollBytes = Math.round((heap.external - heapEmpty.external) / count)
      if (previous !== undefined && previousHeap !== undefined) level.marginalHeapPerPollBytes = Math.round((heap.heapUsed - previousHeap) / (count - previous.held))
      previousHeap = heap.heapUsed
    }

    // Release chosen polls among them, one at a time: give the user a task, time until its
    // held GET answers; then hold a new poll for that user, so the level stays as it was.
    const samples: number[] = []
    for (let k = 0; k < RELEASE_SAMPLES; k++) {
      const chosen = Math.floor((k + 0.5) * count / RELEASE_SAMPLES)
      const t0 = performance.now()
      await call(poster, base, 'POST', '/requestClient', `{"requester_id": ${asker}, "target_id": ${users[chosen] as number}}`).done
      await (polls[chosen] as Poll).done
      samples.push(performance.now() - t0)
    }
    samples.sort((a, b) => a - b)
    level.releaseMedianMs = round(samples[Math.floor(samples.length / 2)] as number)
    level.releaseMaxMs = round(samples.at(-1) as number)
    level.releaseSamples = samples.length
    level.refused = refused
    out.push(level)
    if (count !== levels.at(-1)) {
      // The released users' tasks stay pending: their new polls answer at once. Fresh users instead.
      for (let k = 0; k < RELEASE_SAMPLES; k++) {
        const chosen = Math.floor((k + 0.5) * count / RELEASE_SAMPLES)
        polls[chosen] = open(chosen, fresh++)
      }
    }
  }
  poster.destroy()
  for (const p of polls) p.abort()
  agent.destroy()
  await sleep(1000)
  return {
    levels: out,
    rssEmptyMiB: round(rssEmpty / 2 ** 20, 1),
    ...(heapEmpty === undefined ? {} : { heapEmptyMiB: round(heapEmpty.heapUsed / 2 ** 20, 1), heapTotalEmptyMiB: round(heapEmpty.heapTotal / 2 ** 20, 1) }),
    heapMethod: `least of ${HEAP_SAMPLES} samples of process.memoryUsage().heapUsed (the server's nodejs_heap_size_used_bytes, the ceiling's /memory), each 300 ms after a full GC (SIGWINCH, bench/gc-on-signal.ts)`
  }
}
