/**
 * How the heartbeat (src/store/redis/reachability.ts) tells a connection that
 * is gone from one that is slow. Here the two connections are promises the
 * test settles on real timers: a backlog that still brings replies, a
 * pub/sub connection that still brings wake-ups, and a silent one. (Against a
 * real Redis through a proxy: test/store/redis-faults.test.ts.)
 */
import { performance } from 'node:perf_hooks'
import { describe, expect, it, onTestFinished } from 'vitest'
import { Reachability, type ReachabilityOptions } from '../../../src/store/redis/reachability.js'
import { sleep } from '../../helper.js'

const DEADLINE_MS = 300
const NEVER = new Promise<never>(() => {})
/** A ping answered as a real one is, through I/O: after the timers due (stand-in replies and wake-ups included). */
const answered = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A started heartbeat over stand-in connections, and when it judged either one gone. */
function heartbeat (connections: Pick<ReachabilityOptions, 'ping' | 'pingWakeUps'>): { reachability: Reachability, commandsSilent: number[], wakeUpsSilent: number[], startedAt: number } {
  const commandsSilent: number[] = []
  const wakeUpsSilent: number[] = []
  const reachability = new Reachability({
    deadlineMs: DEADLINE_MS,
    heartbeatMs: 50,
    commandsConnected: () => true,
    wakeUpsConnected: () => true,
    onCommandsSilent: () => { commandsSilent.push(performance.now()) },
    onWakeUpsSilent: () => { wakeUpsSilent.push(performance.now()) },
    onChange: () => {},
    ...connections
  })
  const startedAt = performance.now()
  reachability.start()
  onTestFinished(() => { reachability.stop() })
  return { reachability, commandsSilent, wakeUpsSilent, startedAt }
}

describe('the heartbeat', () => {
  it('takes a command connection that hears nothing, its ping included, for gone a deadline after its ping', async () => {
    const { commandsSilent, wakeUpsSilent, startedAt } = heartbeat({ ping: () => NEVER, pingWakeUps: answered })
    await sleep(3 * DEADLINE_MS)
    expect(commandsSilent.length).toBeGreaterThan(0)
    expect(commandsSilent[0]).toBeGreaterThanOrEqual(startedAt + DEADLINE_MS)
    expect(wakeUpsSilent).toEqual([])
  })

  it('does not take a command connection whose ping waits behind a backlog of replies for gone', async () => {
    let backlogDone = (): void => {}
    const drained = new Promise<void>((resolve) => { backlogDone = resolve })
    const { reachability, commandsSilent } = heartbeat({ ping: () => drained, pingWakeUps: answered })
    // Calls in flight as the ping goes out, answered in turn over three deadlines before it:
    // most answer 503 at their deadline, and their late replies still show the connection works.
    const replies = Array.from({ length: 40 }, (_, i) => reachability.call(() => sleep(25 * (i + 1))).catch(() => {}))
    await Promise.all(replies)
    await sleep(25)
    backlogDone()
    await sleep(DEADLINE_MS)
    expect(commandsSilent).toEqual([])
  })

  it('does not take a pub/sub connection that brings wake-ups for gone, and does once they stop', async () => {
    const { reachability, commandsSilent, wakeUpsSilent } = heartbeat({ ping: answered, pingWakeUps: () => NEVER })
    const until = performance.now() + 3 * DEADLINE_MS
    let lastHeard = 0
    while (performance.now() < until) {
      lastHeard = performance.now()
      reachability.heardWakeUp()
      await sleep(25)
    }
    expect(wakeUpsSilent).toEqual([])
    await sleep(3 * DEADLINE_MS)
    expect(wakeUpsSilent.length).toBeGreaterThan(0)
    expect(wakeUpsSilent[0]).toBeGreaterThanOrEqual(lastHeard + DEADLINE_MS)
    expect(commandsSilent).toEqual([])
  })
})
