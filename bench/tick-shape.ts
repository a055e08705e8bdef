/**
 * What src/keep-tick-shape.ts is for, measured: nanoseconds per `process.nextTick`
 * once it is hot, with no full collection since, and after four full collections
 * with no tick queued, without and with the kept tick object. Each case runs in processes of its own
 * (the state it measures is process-wide and lasts), five of each, in turn:
 * `npm run build && node dist/bench/tick-shape.js` (any Node: it measures the one
 * that runs it).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { median } from './lib/load.js'
import { inTurn } from './lib/processes.js'

const KEEP = fileURLToPath(new URL('../src/keep-tick-shape.js', import.meta.url))
const PROCESSES = 5
const COLLECTIONS = 4

/**
 * The child: optionally keep a tick; time nextTick (which also makes it hot, as a
 * server's first requests do); collect `collections` times with nothing queued; time it again.
 */
const child = (keep: boolean, collections: number): string => `
  ${keep ? `await import(${JSON.stringify(KEEP)})` : ''}
  const noop = () => {}
  const time = async () => {
    let best = Infinity
    for (let round = 0; round < 7; round++) {
      const start = process.hrtime.bigint()
      for (let i = 0; i < 20000; i++) process.nextTick(noop)
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 20000)
      await new Promise((resolve) => setImmediate(resolve))
    }
    return best
  }
  await time()
  for (let i = 0; i < ${collections}; i++) {
    globalThis.gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  console.log(await time())
`

const cases = [
  { label: 'no full GC', keep: false, collections: 0 },
  { label: `after ${COLLECTIONS} idle full GCs`, keep: false, collections: COLLECTIONS },
  { label: `after ${COLLECTIONS} idle full GCs, tick kept`, keep: true, collections: COLLECTIONS }
]
const ns: number[][] = cases.map(() => [])
for (let p = 0; p < PROCESSES; p++) {
  for (const i of inTurn(cases.map((_, i) => i), p)) {
    const c = cases[i] as typeof cases[number]
    const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', child(c.keep, c.collections)], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`)
    ns[i]?.push(Number(run.stdout.trim()))
  }
}
console.log(`process.nextTick on Node ${process.version} (best of 7 rounds of 20,000 per process; ${PROCESSES} processes per case)`)
cases.forEach((c, i) => {
  const all = ns[i] as number[]
  console.log(`${c.label.padEnd(40)} median ${median(all).toFixed(0)} ns (all: ${all.map((n) => n.toFixed(0)).join(', ')})`)
})
