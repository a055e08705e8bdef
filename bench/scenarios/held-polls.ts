/**
 * Scenario 4: many held long-polls at once (distinct users, one socket each,
 * spread over several loopback source addresses so ports do not run short).
 * Measures the server's RSS while they are held, and how long it takes to
 * release one chosen poll among them by giving its user a task.
 */
import { Agent } from 'node:http'
import { call, round } from '../lib/load.js'
import { rssBytes, type RunningServer } from '../lib/processes.js'

export interface HeldPollsResult {
  held: number
  rssMiB: number
  rssPerPollBytes: number
  releaseMedianMs: number
  releaseMaxMs: number
  releaseSamples: number
  refused: number
}

const SOURCES = 8
const OPEN_AT_ONCE = 500
const RELEASE_SAMPLES = 20

export async function heldPolls (server: RunningServer, count: number, firstUserId: number): Promise<HeldPollsResult> {
  const base = new URL(server.url)
  // One socket per poll, as separate phones would have.
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  const rssBefore = rssBytes(server.pid)
  const polls: Array<{ done: Promise<unknown>, sent: Promise<void>, abort: () => void }> = []
  let refused = 0
  for (let i = 0; i < count; i += OPEN_AT_ONCE) {
    for (let j = i; j < Math.min(count, i + OPEN_AT_ONCE); j++) {
      const c = call(agent, base, 'GET', `/getTasks/${firstUserId + j}?wait=120`, undefined, `127.0.0.${1 + (j % SOURCES)}`)
      c.done.then((r) => { if (r.status !== 200) refused++ }, () => {})
      polls.push(c)
    }
    // Let the batch connect before the next, so the listen backlog never overflows.
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // Every poll on the wire (a connect dropped by a full backlog is retried by the kernel
  // after 1 s, 3 s...), then a moment for the server to take them all.
  await Promise.all(polls.map((p) => p.sent))
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const rssHeld = rssBytes(server.pid)

  // Release chosen polls among them, one at a time: give the user a task, time until its held GET answers.
  const samples: number[] = []
  const poster = new Agent({ keepAlive: true })
  for (let k = 0; k < RELEASE_SAMPLES; k++) {
    const chosen = Math.floor((k + 0.5) * count / RELEASE_SAMPLES)
    const t0 = performance.now()
    await call(poster, base, 'POST', '/requestClient', `{"requester_id": ${firstUserId + count + 1}, "target_id": ${firstUserId + chosen}}`).done
    await (polls[chosen] as { done: Promise<unknown> }).done
    samples.push(performance.now() - t0)
  }
  poster.destroy()
  samples.sort((a, b) => a - b)

  for (const p of polls) p.abort()
  agent.destroy()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  return {
    held: count - refused,
    rssMiB: round(rssHeld / 2 ** 20, 1),
    rssPerPollBytes: Math.round((rssHeld - rssBefore) / count),
    releaseMedianMs: round(samples[Math.floor(samples.length / 2)] as number),
    releaseMaxMs: round(samples.at(-1) as number),
    releaseSamples: samples.length,
    refused
  }
}
