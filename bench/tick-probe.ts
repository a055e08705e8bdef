/**
 * Preloaded into a server (`node --import dist/bench/tick-probe.js …`) by
 * bench/tick-shape.ts: 1.5 s after the start, times `process.nextTick`, writes
 * `tick-probe: <ns per call>` to stderr and stops the server (SIGTERM). It says
 * which state the start left `nextTick` in (BENCHMARKS.md §15), not what a
 * request costs: timing 140,000 calls makes `nextTick` hot by itself.
 */
import { nsPerNextTick } from './lib/next-tick.js'

setTimeout(() => {
  process.stderr.write(`tick-probe: ${nsPerNextTick()}\n`)
  process.kill(process.pid, 'SIGTERM')
}, 1500)
