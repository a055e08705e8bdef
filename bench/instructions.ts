/**
 * Instructions per idle poll, counted by valgrind's callgrind: the ceiling and
 * our server (and `--before DIR`'s), each under callgrind, warmed up with its
 * counting off, then counted over a fixed number of polls.
 *
 * Why beside `npm run bench`: this VM's speed drifts by tens of percent from
 * minute to minute, which hides any change worth a microsecond or two; an
 * instruction count does not drift (a build counts the same within a few
 * percent, in the same state: see below). It counts user-space
 * instructions only: not the kernel's share (the socket writes), nor how fast
 * they run (cache misses), nor what the host takes, so it is a second view of
 * the idle-poll target, not the target.
 *
 * The main thread is counted apart from V8's helper threads (compiler, GC):
 * under valgrind, where everything runs 50 times slower, the optimising
 * compiler is still at work long after a real run has settled, and its share
 * varies from run to run.
 *
 * Each of our polls is counted in several server processes (`--processes`,
 * 3 by default), and every count is shown: a Node 20 process can settle in
 * one of two states, the second a third dearer, with about a quarter of its
 * main thread in V8's runtime building `process.nextTick`'s tick objects
 * (BENCHMARKS.md §11; §15 found real processes in it too, and its cause, which
 * src/keep-tick-shape.ts now prevents), so each count says how much went there.
 *
 *   npm run build && node dist/bench/instructions.js [--before DIR] [--polls N] [--warmup N] [--processes N]
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { cpus } from 'node:os'
import { dumpedThreads, inclusiveOf, totalOf } from './lib/callgrind.js'
import { sign } from './lib/load.js'
import { findBuild, SERVE_NODE_FLAGS, startProcess, startWhatClient, type Build } from './lib/processes.js'
import { flagValue, resultsFile } from './lib/script.js'
import { Table } from './lib/table.js'
import { hasSignIn, SIGN_IN_ENV, signIn } from './lib/v2.js'

const args = process.argv.slice(2)
const flag = (name: string): string | undefined => flagValue(args, name)
const POLLS = Number(flag('--polls') ?? 5_000)
// Enough for the interpreter's and the compiler's tiers to settle on what the poll runs.
const WARMUP = Number(flag('--warmup') ?? 40_000)
const CONNECTIONS = 10
const PROCESSES = Number(flag('--processes') ?? 3)
const V1_PATH = '/getTasks/424242'
const V2_PATH = '/v2/tasks'
const CEILING = fileURLToPath(new URL('ceiling-server.js', import.meta.url))

let valgrind: string
try {
  valgrind = execFileSync('valgrind', ['--version'], { encoding: 'utf8' }).trim()
} catch {
  process.stderr.write('instructions: valgrind is not installed (apt-get install valgrind)\n')
  process.exit(1)
}

// valgrind and callgrind_control name the pipes they talk through after the user and the
// host, read from these variables: both must see the same values. HOST matters most, as
// the server reads it too (its bind address); USER and LOGNAME are set for a shell without them.
const VG_ENV = { USER: process.env.USER ?? 'bench', LOGNAME: process.env.LOGNAME ?? 'bench', HOST: '127.0.0.1' }
/** V8's runtime function for a computed key in an object literal (see the header). */
const LITERAL_RUNTIME = 'Runtime_DefineKeyedOwnPropertyInLiteral('
const work = mkdtempSync(join(tmpdir(), 'wc-instructions-'))

interface Count {
  /** Instructions per poll on the main thread (JavaScript, libuv, the HTTP parser, crypto). */
  main: number
  /** Instructions per poll on every other thread (V8's compiler and GC helpers). */
  others: number
  /**
   * Of `main`, the share spent in V8's runtime defining computed keys of object literals:
   * near 0 in a settled process, about a quarter in the dearer state (see the header).
   */
  literalRuntimeShare: number
  polls: number
}

async function count (label: string, script: string, scriptArgs: string[], nodeFlags: string[], env: Record<string, string>, path: string): Promise<Count> {
  const out = join(work, `${label}.out`)
  const wrapper = ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', '--separate-threads=yes', `--callgrind-out-file=${out}`, `--log-file=${out}.log`]
  const fail = (what: string): Error => new Error(`${label}: ${what} (valgrind's log: ${out}.log)`)
  const server = await startProcess(script, scriptArgs, { ...VG_ENV, ...env }, nodeFlags, { wrapper, readyWithinMs: 120_000 })
  // callgrind_control exits 0 even when it found no such process: what it prints tells.
  const control = (command: string): void => {
    const run = spawnSync('callgrind_control', [command, String(server.pid)], { env: { ...process.env, ...VG_ENV }, encoding: 'utf8', timeout: 60_000 })
    const said = `${run.stdout ?? ''}${run.stderr ?? ''}`
    if (run.error !== undefined || run.status !== 0 || /not detected|No active callgrind|error/i.test(said)) {
      throw fail(`callgrind_control ${command} failed: ${run.error?.message ?? said.trim()}`)
    }
  }
  try {
    const headers = path === V2_PATH ? { authorization: `Bearer ${await signIn(server.url, 424243)}` } : { 'x-signature': sign(path) }
    const load = async (amount: number): Promise<number> => {
      const result = await autocannon({ url: server.url + path, headers, connections: CONNECTIONS, amount })
      if (result.non2xx > 0 || result.errors > 0) throw fail(`${result.non2xx} non-2xx and ${result.errors} errors`)
      return result['2xx']
    }
    await load(WARMUP)
    control('--instr=on')
    const polls = await load(POLLS)
    control('--dump')
    control('--instr=off')
    const threads = dumpedThreads(readdirSync(work), label)
    if (threads.length === 0) throw fail('callgrind wrote no dump')
    const totals = threads.map((f) => totalOf(readFileSync(join(work, f), 'utf8'), f))
    const main = totals[0] as number
    if (main === 0 || polls === 0) throw fail('nothing was counted')
    const all = totals.reduce((a, b) => a + b, 0)
    const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', join(work, threads[0] as string)], { encoding: 'utf8', maxBuffer: 1 << 28 })
    const literal = inclusiveOf(annotated, LITERAL_RUNTIME)
    return { main: Math.round(main / polls), others: Math.round((all - main) / polls), literalRuntimeShare: Math.round(1000 * literal / main) / 1000, polls }
  } finally {
    await server.stop()
  }
}

/** Whether a build has v2 sign-in (an older one may not): asked of it once, outside valgrind. */
async function buildHasSignIn (build: Build): Promise<boolean> {
  const server = await startWhatClient(build, SIGN_IN_ENV)
  try {
    return await hasSignIn(server.url)
  } finally {
    await server.stop()
  }
}

const beforeDir = flag('--before')
const builds: Build[] = [...(beforeDir === undefined ? [] : [findBuild('before', beforeDir)]), findBuild('after')]
const log = (text: string): void => { process.stderr.write(`instructions: ${text}\n`) }
log(`Node ${process.version}; ${builds.map((b) => `${b.name}: ${b.commit}`).join('; ')}; ${WARMUP} polls of warm-up, ${POLLS} counted`)

const results: Record<string, Count[]> = {}
try {
  log('ceiling, v1')
  results.ceiling = [await count('ceiling', CEILING, [], [], {}, V1_PATH)]
  for (const build of builds) {
    for (const [poll, path] of [['v1', V1_PATH], ['v2', V2_PATH]] as const) {
      if (poll === 'v2' && !await buildHasSignIn(build)) {
        log(`${build.name} has no v2 sign-in: no v2 rows`)
        continue
      }
      const counts: Count[] = []
      for (let i = 1; i <= PROCESSES; i++) {
        log(`${build.name}, ${poll}, process ${i} of ${PROCESSES}`)
        counts.push(await count(`${build.name}-${poll}-${i}`, build.cli, ['serve'], SERVE_NODE_FLAGS, SIGN_IN_ENV, path))
      }
      results[`${build.name} ${poll}`] = counts
    }
  }
  rmSync(work, { recursive: true, force: true })
} catch (error) {
  log(`stopped; callgrind's files and logs are kept in ${work}`)
  throw error
}

const ceiling = (results.ceiling as Count[])[0] as Count
const table = new Table()
const n = (x: number): string => x.toLocaleString('en')
const each = (counts: Count[], show: (c: Count) => string): string => counts.map(show).join(' / ')
const row = (measure: string, poll: 'v1' | 'v2', show: (c: Count) => string, ceilingCell?: string): void => {
  const cells = builds.filter((b) => results[`${b.name} ${poll}`] !== undefined).map((b) => [b.name, each(results[`${b.name} ${poll}`] as Count[], show)])
  table.add({ scenario: 'instructions', measure, ...(ceilingCell === undefined ? {} : { ceiling: ceilingCell }), ...Object.fromEntries(cells) })
}
row('v1: main thread, per poll (each process)', 'v1', (c) => n(c.main), n(ceiling.main))
row('v1: other threads (compiler, GC), per poll', 'v1', (c) => n(c.others), n(ceiling.others))
row('v1: ceiling / ours, main thread', 'v1', (c) => (ceiling.main / c.main).toFixed(2))
row('v1: of which V8 runtime for computed literal keys', 'v1', (c) => `${(100 * c.literalRuntimeShare).toFixed(1)}%`, `${(100 * ceiling.literalRuntimeShare).toFixed(1)}%`)
row('v2: main thread, per poll (each process)', 'v2', (c) => n(c.main))
row('v2: other threads, per poll', 'v2', (c) => n(c.others))
row('v2: ceiling / ours, main thread', 'v2', (c) => (ceiling.main / c.main).toFixed(2))
row('v2: of which V8 runtime for computed literal keys', 'v2', (c) => `${(100 * c.literalRuntimeShare).toFixed(1)}%`)
const title = `WhatClient instructions per idle poll (callgrind, ${POLLS} polls after ${WARMUP}, ${PROCESSES} processes each), Node ${process.version}, ${builds.map((b) => `${b.name} ${b.commit}`).join(', ')}, ${new Date().toISOString().slice(0, 16)}Z`
process.stdout.write(`\n${table.render(title)}\n\n`)
const file = resultsFile('-instructions')
const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', valgrind }
writeFileSync(file, JSON.stringify({ title, node: process.version, machine, warmupPolls: WARMUP, countedPolls: POLLS, processes: PROCESSES, connections: CONNECTIONS, builds: Object.fromEntries(builds.map((b) => [b.name, b.commit])), results }, null, 2))
log(`results in ${file}`)
