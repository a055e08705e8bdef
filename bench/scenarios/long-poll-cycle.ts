/**
 * Scenario 8: what an online plugin costs while nobody asks about it. Each
 * plugin holds `GET /getTasks/{id}?wait=S` on a keep-alive socket of its own;
 * the hold ends empty after S seconds and the plugin polls again at once. The
 * server's CPU per cycle (from /proc), and in Redis mode Redis's, is what the
 * capacity model in docs/operations.md multiplies by the online plugins.
 */
import { sign } from '../lib/load.js'
import { cpuMicros } from '../lib/processes.js'
import { RawConnection } from '../lib/raw-http.js'

export interface CycleOptions {
  url: string
  pid: number
  plugins: number
  waitSeconds: number
  seconds: number
  warmupSeconds: number
  firstUserId: number
  /** Called right before and after the measured window (e.g. Redis counters). */
  around?: { before: () => Promise<void>, after: () => Promise<void> }
}

export interface CycleResult {
  plugins: number
  waitSeconds: number
  /** Cycles completed in the measured window. */
  cycles: number
  cyclesPerSecond: number
  cpuUsPerCycle: number
  /** Polls that answered other than 200 with no task (none expected). */
  failures: number
}

/** Connections opened at once: more at a time would overflow the listen backlog. */
const CONNECT_BATCH = 200

export async function longPollCycles (options: CycleOptions): Promise<CycleResult> {
  const base = new URL(options.url)
  const host = `host: ${base.host}\r\n`
  const connections: RawConnection[] = []
  let running = true
  let cycles = 0
  let failures = 0

  const plugin = async (index: number, conn: RawConnection): Promise<void> => {
    const path = `/getTasks/${options.firstUserId + index}`
    const head = `GET ${path}?wait=${options.waitSeconds} HTTP/1.1\r\n${host}x-signature: ${sign(path)}\r\n`
    while (running) {
      try {
        const reply = await conn.request(head)
        if (reply.status !== 200 || reply.body !== '{"tasks":[]}') failures++
        cycles++
      } catch {
        if (running) failures++
        return
      }
    }
  }

  for (let i = 0; i < options.plugins; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, options.plugins - i) }, () => new RawConnection(base.hostname, Number(base.port)))
    await Promise.all(batch.map(async (conn) => { await conn.open() }))
    connections.push(...batch)
  }
  // Started over one wait, so that the holds do not all end in the same instant.
  const spread = (options.waitSeconds * 1000) / options.plugins
  const loops = connections.map(async (conn, i) => {
    await new Promise((resolve) => setTimeout(resolve, i * spread))
    await plugin(i, conn)
  })
  await new Promise((resolve) => setTimeout(resolve, options.warmupSeconds * 1000))

  await options.around?.before()
  const cpuBefore = cpuMicros(options.pid)
  const cyclesBefore = cycles
  const started = performance.now()
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000))
  const elapsedS = (performance.now() - started) / 1000
  const done = cycles - cyclesBefore
  const cpuUsed = cpuMicros(options.pid) - cpuBefore
  await options.around?.after()

  running = false
  for (const conn of connections) conn.close()
  await Promise.all(loops)
  return {
    plugins: options.plugins,
    waitSeconds: options.waitSeconds,
    cycles: done,
    cyclesPerSecond: Math.round(done / elapsedS),
    cpuUsPerCycle: Math.round(cpuUsed / Math.max(done, 1)),
    failures
  }
}
