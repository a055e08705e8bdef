/**
 * What src/keep-tick-shape.ts is for, measured, in nanoseconds per
 * `process.nextTick` (each figure the best of 7 rounds of 20,000 calls):
 *
 * - in fresh processes that make `nextTick` hot and then run no full collection,
 *   or four with nothing queued, without and with the kept tick object: five
 *   processes per case, the cases in turn (the state measured is process-wide
 *   and lasts, so each measure needs a process of its own);
 * - 1.5 s after each of ten starts of `whatclient serve` (this checkout's, and
 *   `--before DIR`'s if given) and of the bare `node:http` ceiling, before any
 *   request (bench/tick-probe.ts): which state a start leaves `nextTick` in.
 *
 *   npm run build && node dist/bench/tick-shape.js [--before DIR] [--starts N]
 *
 * Any Node: it measures the one that runs it. Writes a JSON file to bench/results/.
 */
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { freePort } from './lib/free-port.js'
import { median } from './lib/load.js'
import { BENCH_KEY, findBuild, inTurn, SERVE_NODE_FLAGS, type Build } from './lib/processes.js'
import { flagValue, resultsFile } from './lib/script.js'

const args = process.argv.slice(2)
const flag = (name: string): string | undefined => flagValue(args, name)
const beforeDir = flag('--before')
const STARTS = Number(flag('--starts') ?? 10)
const PROCESSES = 5
const COLLECTIONS = 4
const KEEP = new URL('../src/keep-tick-shape.js', import.meta.url).href
const NEXT_TICK = new URL('lib/next-tick.js', import.meta.url).href
const PROBE = fileURLToPath(new URL('tick-probe.js', import.meta.url))
const CEILING = fileURLToPath(new URL('ceiling-server.js', import.meta.url))

/** A child's script: keep a tick or not; make nextTick hot; collect `collections` times with nothing queued; time it. */
const childScript = (keep: boolean, collections: number): string => `
  ${keep ? `await import(${JSON.stringify(KEEP)})` : ''}
  const { nsPerNextTick } = await import(${JSON.stringify(NEXT_TICK)})
  nsPerNextTick()
  await new Promise((resolve) => setImmediate(resolve))
  for (let i = 0; i < ${collections}; i++) {
    globalThis.gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  console.log(nsPerNextTick())
`

function nsFrom (output: string, what: string): number {
  const ns = Number(output.trim())
  if (!Number.isFinite(ns)) throw new Error(`${what} printed no number: ${JSON.stringify(output)}`)
  return ns
}

const cases = [
  { label: 'hot, no full collection since', keep: false, collections: 0 },
  { label: `after ${COLLECTIONS} full collections, nothing queued`, keep: false, collections: COLLECTIONS },
  { label: `the same, with the tick object kept`, keep: true, collections: COLLECTIONS }
]
const nsPerCall: number[][] = cases.map(() => [])
for (let p = 0; p < PROCESSES; p++) {
  for (const i of inTurn(cases.map((_, i) => i), p)) {
    const measured = cases[i] as typeof cases[number]
    const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', childScript(measured.keep, measured.collections)], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`)
    nsPerCall[i]?.push(nsFrom(run.stdout, 'a child'))
  }
}

/** One start of `script` (with `args`, on Node with `flags`) under the probe: ns per nextTick 1.5 s after it. */
async function probeStart (script: string, args: string[], flags: readonly string[]): Promise<number> {
  const port = await freePort()
  const child = spawn(process.execPath, [...flags, '--import', PROBE, script, ...args], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), API_SECRET_KEY: BENCH_KEY, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += String(chunk) })
  await new Promise((resolve) => child.once('exit', resolve))
  const line = /^tick-probe: (.*)$/m.exec(stderr)
  return nsFrom(line?.[1] ?? stderr, script)
}

const builds: Build[] = beforeDir === undefined ? [findBuild('after')] : [findBuild('before', beforeDir), findBuild('after')]
const starters = [
  // As the other benchmarks start them: the server with the flags `npm start` gives it.
  ...builds.map((b) => ({ label: `whatclient serve, ${b.name} (${b.commit})`, script: b.cli, args: ['serve'], flags: SERVE_NODE_FLAGS })),
  { label: 'the node:http ceiling', script: CEILING, args: [] as string[], flags: [] as string[] }
]
const startNs: number[][] = starters.map(() => [])
for (let s = 0; s < STARTS; s++) {
  for (const i of inTurn(starters.map((_, i) => i), s)) {
    const starter = starters[i] as typeof starters[number]
    startNs[i]?.push(await probeStart(starter.script, starter.args, starter.flags))
  }
}

const title = `process.nextTick on Node ${process.version}, ns per call (best of 7 rounds of 20,000)`
console.log(title)
console.log(`Fresh processes, ${PROCESSES} per case: median (each)`)
cases.forEach((c, i) => {
  const all = nsPerCall[i] as number[]
  console.log(`  ${c.label.padEnd(48)} ${median(all)} (${all.join(', ')})`)
})
console.log(`1.5 s after each of ${STARTS} starts, before any request: median (each)`)
starters.forEach((s, i) => {
  const all = startNs[i] as number[]
  console.log(`  ${s.label.padEnd(48)} ${median(all)} (${all.join(', ')})`)
})

const file = resultsFile('-tick-shape')
writeFileSync(file, JSON.stringify({
  title,
  node: process.version,
  machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown' },
  builds: Object.fromEntries(builds.map((b) => [b.name, b.commit])),
  freshProcesses: cases.map((c, i) => ({ ...c, nsPerCall: nsPerCall[i] })),
  starts: starters.map((s, i) => ({ label: s.label, nsPerCall: startNs[i] }))
}, null, 2))
console.log(`results in ${file}`)
