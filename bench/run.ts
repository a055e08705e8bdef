/**
 * `npm run bench`: drives the real server over loopback and prints what users
 * feel, against the bare node:http ceiling, as a Markdown table (one row per
 * measured thing; ceiling, before and after side by side). Results go to
 * bench/results/<time>-node<major>[-quick].json. See BENCHMARKS.md.
 *
 *   --quick            the same regime (warm-ups, rates, connections), shorter
 *                      measured windows and smaller levels (~5 min with --before)
 *   --before DIR       also measure the built checkout at DIR (its
 *                      dist/src/cli/index.js; or BENCH_BEFORE_DIR), in the same
 *                      run, in scenarios 1, 4, 5, 6, 8 and 9, round by round,
 *                      alternating which goes first, before first in round 1
 *                      (BENCHMARKS.md §8: measured second, a build can cost
 *                      15-25% more whichever it is); with --quick, 1 and 9 have
 *                      one round, before first
 *   --only 1,4         just those scenarios; --no-redis skips scenario 5 (and
 *                      the Redis parts of 8 and 9)
 *
 * Scenarios: 1 idle poll, v1 and v2 signed in, against the ceiling (server CPU
 * per request from /proc), and v2 against v1 in pairs of short windows; 2 idle
 * poll as pending work grows; 3 full flow in memory mode; 4 held polls (RSS and
 * JS heap per poll, marginal between levels, beside a bare node:http server
 * holding the same requests); 5 Redis mode, one and two instances (Redis
 * commands, round trips and CPU per call and per resolution: it assumes nobody
 * else uses that Redis meanwhile); 6 sign-in over HTTP; 8 the long-poll cycle
 * of an idle plugin (memory and Redis mode: the capacity model's input); 9 the
 * full flow at 1,000/s repeated, memory and Redis mode interleaved (the spread
 * of its p99).
 *
 * Every server runs on the Node that runs this (process.execPath): run
 * `/path/to/other/node dist/bench/run.js` to measure another Node; the table's
 * title and the file name say which.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { createClient } from 'redis'
import autocannon from 'autocannon'
import { fillPending, hammer, median as medianOf, pairedExcess, round, sign, type LoadResult } from './lib/load.js'
import { cpuMicros, findBuild, inTurn, rssBytes, startCeiling, startHeldCeiling, startWhatClient, type Build, type RunningServer } from './lib/processes.js'
import { startCountingProxy } from './lib/redis-counter.js'
import { redisSnapshot, redisUse, type RedisSnapshot, type RedisUse } from './lib/redis-stats.js'
import { flagValue, resultsFile } from './lib/script.js'
import { Table } from './lib/table.js'
import { hasSignIn, SIGN_IN_ENV, signIn, signIns, type SignInResult } from './lib/v2.js'
import { fullFlow, type FullFlowResult } from './scenarios/full-flow.js'
import { heldPolls, type HeldPollsResult } from './scenarios/held-polls.js'
import { longPollCycles, type CycleResult } from './scenarios/long-poll-cycle.js'

const args = process.argv.slice(2)
const flag = (name: string): string | undefined => flagValue(args, name)
const quick = args.includes('--quick')
const skipRedis = args.includes('--no-redis')
const beforeDir = flag('--before') ?? (process.env.BENCH_BEFORE_DIR === '' ? undefined : process.env.BENCH_BEFORE_DIR)

// The regime is the same in both modes: warm-ups, rates and connections. --quick only
// shortens the measured windows and lowers the levels.
const SECONDS = quick ? 3 : 10
/** Scenario 1's fixed-rate pass: below what the slowest server measured answers. */
const IDLE_RATE = 8_000
const RATE_SECONDS = quick ? 3 : 5
/** Scenario 1's v1/v2 pairs: short windows in turn, so that the VM's drift moves both alike. */
const PAIRS = quick ? 6 : 20
const PAIR_SECONDS = quick ? 1 : 2
const WARMUP_SECONDS = 2
/** A full flow's warm-up: the first part of the same run (see scenarios/full-flow.ts). */
const FLOW_WARMUP_SECONDS = 8
const CONNECTIONS = 100
const ROUNDS = quick ? 1 : 3
const PENDING_LEVELS = quick ? [0, 20_000] : [0, 100_000, 1_000_000]
// The hard limit on open files here is 20,000 (one per held poll on each side).
const HELD_LEVELS = quick ? [2_000, 4_000] : [10_000, 18_000]
const SIGN_INS = quick ? 2_000 : 10_000
const REDIS_SIGN_INS = quick ? 1_000 : 3_000
const FLOW_PAIRS = 500
const FLOW_RATE = 1000
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const IDLE_PATH = '/getTasks/424242'
const V2_IDLE_PATH = '/v2/tasks'
const V2_USER = 424243

const after = findBuild('after')
const builds: Build[] = beforeDir === undefined ? [after] : [findBuild('before', beforeDir), after]
const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version, loadAverageAtStart: loadavg().map((n) => round(n)) }
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine,
  builds: Object.fromEntries(builds.map((b) => [b.name, { dir: b.dir, commit: b.commit }])),
  settings: { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, flowWarmupSeconds: FLOW_WARMUP_SECONDS, connections: CONNECTIONS, rounds: ROUNDS, pendingLevels: PENDING_LEVELS, heldLevels: HELD_LEVELS, pairs: PAIRS, pairSeconds: PAIR_SECONDS, signIns: SIGN_INS, flowPairs: FLOW_PAIRS, flowRate: FLOW_RATE }
}
const table = new Table()
const log = (text: string): void => { process.stderr.write(`bench: ${text}\n`) }
type ByBuild<T> = Partial<Record<Build['name'], T>>
/** A row with a cell per build. */
const buildRow = (scenario: string, measure: string, cells: ByBuild<string>, ceiling?: string): void => {
  table.add({ scenario, measure, ...(ceiling === undefined ? {} : { ceiling }), ...cells })
}
const perBuild = <T>(values: ByBuild<T>, show: (v: T) => string): ByBuild<string> =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, show(v as T)])) as ByBuild<string>

/**
 * Rounds of scenarios 4, 5 and 6: with a before build, two, each build first in one of
 * them (inTurn), so that neither always pays for being measured second.
 */
const BUILD_ROUNDS = builds.length > 1 ? 2 : 1
const roundsNote = BUILD_ROUNDS > 1 ? ` (${BUILD_ROUNDS} rounds, before first in round 1, after in round 2: each cell shows round 1 · round 2)` : ''
/** What the results file says of such rounds. */
const roundsFileNote = BUILD_ROUNDS > 1 ? `rounds: one entry per round per build, ${BUILD_ROUNDS} rounds, before first in round 1, after in round 2` : 'rounds: one entry per build'
/** One cell for a build's rounds, each shown, in the order they ran. */
const eachRound = <T>(runs: T[], show: (r: T) => string): string => runs.map(show).join(' · ')
/** A row with a cell per build, each showing every round. */
const roundsRow = <T>(scenario: string, measure: string, out: ByBuild<T[]>, show: (r: T) => string, ceiling?: string): void =>
  buildRow(scenario, measure, perBuild(out, (runs) => eachRound(runs, show)), ceiling)

async function withServer<T> (start: () => Promise<RunningServer>, use: (s: RunningServer) => Promise<T>): Promise<T> {
  const server = await start()
  try {
    return await use(server)
  } finally {
    await server.stop()
  }
}

/**
 * A Redis-mode server's settings under a key prefix of its own (so counts and
 * cleanup see only its keys), the prefix remembered in `prefixes` for deletePrefixes.
 */
function redisEnv (prefixes: string[]): Record<string, string> {
  const prefix = `bench:${randomUUID()}:`
  prefixes.push(prefix)
  return { STORE: 'redis', REDIS_URL, REDIS_KEY_PREFIX: prefix, STORE_KEY: randomBytes(32).toString('base64') }
}

/** Deletes every key under `prefixes`: what the Redis scenarios leave behind. */
async function deletePrefixes (stats: { scanIterator: (options: { MATCH: string, COUNT: number }) => AsyncIterable<string[]>, del: (keys: string[]) => Promise<unknown> }, prefixes: string[]): Promise<void> {
  for (const prefix of prefixes) {
    for await (const keys of stats.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await stats.del(keys)
  }
}

/** The median of the finite values (of an even count, the mean of the middle two, to 2 digits); NaN without any. */
const median = (values: number[]): number => medianOf(values, 2)

/** Each figure the median of the rounds' (rounds are interleaved: this machine's speed drifts). */
function medianRun (runs: LoadResult[]): LoadResult {
  const of = (key: keyof LoadResult): number => median(runs.map((r) => r[key] as number))
  return { rps: of('rps'), cpuUsPerRequest: of('cpuUsPerRequest'), p50: of('p50'), p99: of('p99'), errors: of('errors'), non2xx: of('non2xx'), requests: of('requests') }
}

const failuresOf = (r: LoadResult): string => r.errors + r.non2xx > 0 ? ` (${r.errors} errors, ${r.non2xx} non-2xx!)` : ''
const rps = (r: LoadResult): string => `${r.rps.toLocaleString('en')} req/s${failuresOf(r)}`
const latency = (r: { p50: number, p99: number }): string => `${r.p50} / ${r.p99} ms`
const cpu = (r: LoadResult): string => `${r.cpuUsPerRequest ?? '?'} µs`
const pct = (n: number): string => `${Math.round(n * 100)}%`
const signed = (n: number): string => `${n >= 0 ? '+' : ''}${Math.round(n * 100)}%`

/** Scenario 1: the v1 idle poll and the v2 signed-in idle poll, against the ceiling. */
async function idlePoll (): Promise<void> {
  log('1. idle poll (v1 and v2 signed in) vs the node:http ceiling')
  const ceilingRuns: LoadResult[] = []
  const ceilingAtRate: LoadResult[] = []
  const runs: Record<string, { v1: LoadResult[], v2: LoadResult[], v1AtRate: LoadResult[], v2AtRate: LoadResult[], routedAtRate: LoadResult[] }> = Object.fromEntries(builds.map((b) => [b.name, { v1: [], v2: [], v1AtRate: [], v2AtRate: [], routedAtRate: [] }]))
  const options = (s: RunningServer, headers?: Record<string, string>) => ({ connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, pids: [s.pid], ...(headers === undefined ? {} : { headers }) })
  // The same servers again at one fixed rate that none of them saturates: at saturation a
  // slower server also pays for waking the load generator more often (it shares the two
  // cores), so CPU per request compared at equal load is the fairer of the two ratios.
  const atRate = (s: RunningServer, headers?: Record<string, string>) => ({ ...options(s, headers), warmupSeconds: 0, seconds: RATE_SECONDS, rate: IDLE_RATE })
  for (let i = 0; i < ROUNDS; i++) {
    await withServer(startCeiling, async (s) => {
      ceilingRuns.push(await hammer(s.url, IDLE_PATH, options(s)))
      ceilingAtRate.push(await hammer(s.url, IDLE_PATH, atRate(s)))
    })
    // Alternate which build goes first, so that neither always follows the ceiling.
    for (const build of inTurn(builds, i)) {
      await withServer(() => startWhatClient(build, SIGN_IN_ENV), async (s) => {
        const r = runs[build.name] as (typeof runs)[string]
        const v1 = async (): Promise<void> => {
          r.v1.push(await hammer(s.url, IDLE_PATH, options(s)))
          r.v1AtRate.push(await hammer(s.url, IDLE_PATH, atRate(s)))
        }
        // A build without v2 (older than the sign-in) gets no v2 row.
        const token = await hasSignIn(s.url) ? await signIn(s.url, V2_USER) : undefined
        const v2 = async (): Promise<void> => {
          if (token === undefined) return
          r.v2.push(await hammer(s.url, V2_IDLE_PATH, options(s, { authorization: `Bearer ${token}` })))
          r.v2AtRate.push(await hammer(s.url, V2_IDLE_PATH, atRate(s, { authorization: `Bearer ${token}` })))
        }
        // v1 and v2 take turns going first: what a server measures later in its life costs
        // more on this VM (§8 found 15-25% between builds), and "v2 vs v1" is a target.
        for (const poll of inTurn([v1, v2], i)) await poll()
        // The same poll with ?wait=0: the same answer, through the Fastify routes rather than
        // the fast path in front of them (what a poll that finds tasks, or any other call, costs).
        r.routedAtRate.push(await hammer(s.url, `${IDLE_PATH}?wait=0`, atRate(s)))
      })
    }
  }
  const ceiling = medianRun(ceilingRuns)
  const ceilingRate = medianRun(ceilingAtRate)
  const out: Record<string, unknown> = { rounds: { ceiling: ceilingRuns, ...runs }, ceiling, note: 'each figure is the median of the rounds; servers run with TELEGRAM_BOT_TOKEN set (sign-in on), defaults otherwise; in each server v1 and v2 take turns going first (v1 first in the first round), then the routed poll' }
  const v1: ByBuild<LoadResult> = {}
  const v2: ByBuild<LoadResult> = {}
  const v1Rate: ByBuild<LoadResult> = {}
  const v2Rate: ByBuild<LoadResult> = {}
  const routedRate: ByBuild<LoadResult> = {}
  for (const b of builds) {
    const r = runs[b.name] as { v1: LoadResult[], v2: LoadResult[], v1AtRate: LoadResult[], v2AtRate: LoadResult[], routedAtRate: LoadResult[] }
    v1[b.name] = medianRun(r.v1)
    v1Rate[b.name] = medianRun(r.v1AtRate)
    routedRate[b.name] = medianRun(r.routedAtRate)
    if (r.v2.length > 0) v2[b.name] = medianRun(r.v2)
    if (r.v2AtRate.length > 0) v2Rate[b.name] = medianRun(r.v2AtRate)
  }
  const rateCpuRatio = (r: LoadResult): number => (ceilingRate.cpuUsPerRequest as number) / (r.cpuUsPerRequest as number)
  const v2Builds = builds.filter((b) => v2[b.name] !== undefined)
  const cpuRatio = (r: LoadResult): number => (ceiling.cpuUsPerRequest as number) / (r.cpuUsPerRequest as number)
  const v2VsV1 = (name: Build['name']): number => ((v2[name] as LoadResult).cpuUsPerRequest as number) / ((v1[name] as LoadResult).cpuUsPerRequest as number) - 1
  for (const b of builds) {
    const hasV2 = v2[b.name] !== undefined
    out[b.name] = {
      v1: v1[b.name],
      ceilingCpuOverOurs: round(cpuRatio(v1[b.name] as LoadResult), 3),
      rpsOverCeiling: round((v1[b.name] as LoadResult).rps / ceiling.rps, 3),
      atRate: { rate: IDLE_RATE, ceiling: ceilingRate, v1: v1Rate[b.name], v1Routed: routedRate[b.name], v2: v2Rate[b.name], ceilingCpuOverOursV1: round(rateCpuRatio(v1Rate[b.name] as LoadResult), 3), ...(v2Rate[b.name] === undefined ? {} : { ceilingCpuOverOursV2: round(rateCpuRatio(v2Rate[b.name] as LoadResult), 3), v2CpuVsV1: round((v2Rate[b.name] as LoadResult).cpuUsPerRequest as number / ((v1Rate[b.name] as LoadResult).cpuUsPerRequest as number) - 1, 3) }) },
      ...(hasV2
        ? {
            v2: v2[b.name],
            v2CeilingCpuOverOurs: round(cpuRatio(v2[b.name] as LoadResult), 3),
            v2CpuVsV1: round(v2VsV1(b.name), 3),
            v2RpsOverV1: round((v2[b.name] as LoadResult).rps / (v1[b.name] as LoadResult).rps, 3)
          }
        : { v2: 'no v2 sign-in in this build' })
    }
  }
  results.idlePoll = out
  const rounds = ROUNDS > 1 ? ` (median of ${ROUNDS})` : ''
  buildRow('1 idle poll', `v1 GET /getTasks: req/s${rounds}`, perBuild(v1, rps), rps(ceiling))
  buildRow('1 idle poll', 'v1: p50 / p99', perBuild(v1, latency), latency(ceiling))
  buildRow('1 idle poll', 'v1: server CPU per request', perBuild(v1, cpu), cpu(ceiling))
  buildRow('1 idle poll', 'v1: ceiling CPU / ours (target ≥ 0.7)', perBuild(v1, (r) => round(cpuRatio(r)).toFixed(2)))
  buildRow('1 idle poll', 'v1: req/s / ceiling', perBuild(v1, (r) => (r.rps / ceiling.rps).toFixed(2)))
  buildRow('1 idle poll', `v2 GET /v2/tasks signed in: req/s${rounds}`, perBuild(v2, rps))
  buildRow('1 idle poll', 'v2: p50 / p99', perBuild(v2, latency))
  buildRow('1 idle poll', 'v2: server CPU per request', perBuild(v2, cpu))
  buildRow('1 idle poll', 'v2: ceiling CPU / ours', perBuild(v2, (r) => round(cpuRatio(r)).toFixed(2)))
  buildRow('1 idle poll', 'v2 CPU per request vs v1 (target ≤ +10%)', Object.fromEntries(v2Builds.map((b) => [b.name, signed(v2VsV1(b.name))])))
  const at = `at ${IDLE_RATE.toLocaleString('en')} req/s`
  const cpuAt = (r: LoadResult): string => `${cpu(r)} (${r.rps.toLocaleString('en')} req/s)`
  buildRow('1 idle poll', `${at}: v1 server CPU per request`, perBuild(v1Rate, cpuAt), cpuAt(ceilingRate))
  buildRow('1 idle poll', `${at}: v1 ceiling CPU / ours (target ≥ 0.7)`, perBuild(v1Rate, (r) => round(rateCpuRatio(r)).toFixed(2)))
  buildRow('1 idle poll', `${at}: v1 through the routes (?wait=0): CPU per request`, perBuild(routedRate, cpuAt))
  buildRow('1 idle poll', `${at}: v1 through the routes: ceiling CPU / ours`, perBuild(routedRate, (r) => round(rateCpuRatio(r)).toFixed(2)))
  buildRow('1 idle poll', `${at}: v2 server CPU per request`, perBuild(v2Rate, cpuAt))
  buildRow('1 idle poll', `${at}: v2 ceiling CPU / ours`, perBuild(v2Rate, (r) => round(rateCpuRatio(r)).toFixed(2)))
  buildRow('1 idle poll', `${at}: v2 CPU per request vs v1 (target ≤ +10%)`, Object.fromEntries(v2Builds.filter((b) => v2Rate[b.name] !== undefined).map((b) => [b.name, signed(((v2Rate[b.name] as LoadResult).cpuUsPerRequest as number) / ((v1Rate[b.name] as LoadResult).cpuUsPerRequest as number) - 1)])))
  await idlePollPairs(v2Builds)
}

/**
 * Scenario 1's v2 target again, measured in pairs: on one server per build, v1 and v2 polls
 * in turn at the fixed rate, in windows of PAIR_SECONDS, PAIRS times, and the median of what
 * v2 cost more within each pair. This VM's speed moves by tens of percent within seconds
 * (BENCHMARKS.md §12), enough to tip the comparison of two 5-10 s windows either way.
 */
async function idlePollPairs (v2Builds: Build[]): Promise<void> {
  const out: ByBuild<{ v1: number[], v2: number[], v2OverV1: number, v2Above: number, pairs: number }> = {}
  for (const build of v2Builds) {
    await withServer(() => startWhatClient(build, SIGN_IN_ENV), async (s) => {
      const token = await signIn(s.url, V2_USER)
      const window = (headers?: Record<string, string>) => ({ connections: CONNECTIONS, seconds: PAIR_SECONDS, warmupSeconds: 0, pids: [s.pid], rate: IDLE_RATE, ...(headers === undefined ? {} : { headers }) })
      const polls = {
        v1: async () => (await hammer(s.url, IDLE_PATH, window())).cpuUsPerRequest as number,
        v2: async () => (await hammer(s.url, V2_IDLE_PATH, window({ authorization: `Bearer ${token}` }))).cpuUsPerRequest as number
      }
      // Both warm, as in the rounds above, before the first pair.
      await hammer(s.url, IDLE_PATH, { ...window(), seconds: WARMUP_SECONDS })
      await hammer(s.url, V2_IDLE_PATH, { ...window({ authorization: `Bearer ${token}` }), seconds: WARMUP_SECONDS })
      const v1: number[] = []
      const v2: number[] = []
      for (let i = 0; i < PAIRS; i++) {
        for (const kind of inTurn(['v1', 'v2'] as const, i)) (kind === 'v1' ? v1 : v2).push(await polls[kind]())
      }
      const { median, above, pairs } = pairedExcess(v1, v2)
      out[build.name] = { v1, v2, v2OverV1: round(median, 3), v2Above: above, pairs }
    })
  }
  (results.idlePoll as Record<string, unknown>).pairs = { rate: IDLE_RATE, seconds: PAIR_SECONDS, byBuild: out }
  buildRow('1 idle poll', `at ${IDLE_RATE.toLocaleString('en')} req/s, ${PAIRS} pairs of ${PAIR_SECONDS} s windows in turn: v2 CPU per request vs v1, median of the pairs (target ≤ +10%)`,
    perBuild(out, (r) => `${signed(r.v2OverV1)} (v2 above v1 in ${r.v2Above} of ${r.pairs})`))
}

async function pendingScale (): Promise<void> {
  log('2. idle poll as pending work grows (this build only)')
  const levels: Array<{ pending: number, poll: LoadResult, rssMiB: number, fillRps: number }> = []
  await withServer(() => startWhatClient(after, { MAX_PENDING_TOTAL: '2000000', REQUEST_TTL_SECONDS: '3600' }), async (server) => {
    let filled = 0
    const rssEmpty = rssBytes(server.pid)
    for (const level of PENDING_LEVELS) {
      let fillRps = 0
      if (level > filled) {
        const fill = await fillPending(server.url, level - filled, 1_000_000_000 + 2 * filled)
        if (fill.non2xx > 0 || fill.errors > 0) throw new Error(`filling failed: ${JSON.stringify(fill)}`)
        fillRps = fill.rps
        filled = level
      }
      // A longer warm-up after a fill: the garbage collector is still digesting the new
      // entries, and the scenario is about polling with that much held, not during the fill.
      const poll = await hammer(server.url, IDLE_PATH, { connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: level === 0 ? WARMUP_SECONDS : 6, pids: [server.pid] })
      const rss = rssBytes(server.pid)
      levels.push({ pending: level, poll, rssMiB: round(rss / 2 ** 20, 1), fillRps })
      const perPending = level === 0 ? '' : `, ${Math.round((rss - rssEmpty) / level)} B RSS per pending request`
      table.add({ scenario: '2 pending scale', measure: `${level.toLocaleString('en')} pending: req/s, p99, CPU, RSS`, after: `${rps(poll)}, p99 ${poll.p99} ms, ${cpu(poll)}, ${round(rss / 2 ** 20, 1)} MiB${perPending}` })
    }
    results.pendingScale = { levels, rssEmptyMiB: round(rssEmpty / 2 ** 20, 1) }
  })
  const first = levels[0]?.poll
  const last = levels.at(-1)?.poll
  if (first !== undefined && last !== undefined) {
    table.add({ scenario: '2 pending scale', measure: 'most pending vs none: req/s, CPU per request', after: `${pct(last.rps / first.rps)}, ${pct((last.cpuUsPerRequest as number) / (first.cpuUsPerRequest as number))}` })
  }
}

const flowCell = (r: FullFlowResult): string =>
  `${r.resolutionsPerSecond.toLocaleString('en')}/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms${r.failures > 0 ? `, ${r.failures} failures (most: ${Object.entries(r.failureReasons).sort((a, b) => b[1] - a[1])[0]?.[0].slice(0, 40)}…)!` : ''}${r.skipped > 0 ? `, ${r.skipped} skipped!` : ''}`
const flowCpu = (r: FullFlowResult): string => `${r.cpuUsPerResolution ?? '?'} µs`
const driverCpu = (r: FullFlowResult): string => `${r.driverCpuUsPerResolution ?? '?'} µs${r.lateMs === undefined ? '' : ` (asks started late by ${r.lateMs.p99} ms p99)`}`

async function fullFlows (): Promise<void> {
  log('3. full flow, memory mode (this build only)')
  const out: Record<string, FullFlowResult> = {}
  await withServer(() => startWhatClient(after), async (server) => {
    out.rate1000 = await fullFlow({ urls: [server.url], pairs: FLOW_PAIRS, rate: FLOW_RATE, seconds: SECONDS, warmupSeconds: FLOW_WARMUP_SECONDS, firstUserId: 2_000_000_000, pids: [server.pid] })
    out.closedLoop = await fullFlow({ urls: [server.url], pairs: FLOW_PAIRS, rate: 0, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, firstUserId: 3_000_000_000, pids: [server.pid] })
  })
  table.add({ scenario: '3 full flow, memory', measure: `${FLOW_PAIRS} pairs at ${FLOW_RATE.toLocaleString('en')} asks/s (p99 target < 50 ms)`, after: flowCell(out.rate1000 as FullFlowResult) })
  table.add({ scenario: '3 full flow, memory', measure: 'at 1,000/s: server CPU, load generator CPU per resolution', after: `${flowCpu(out.rate1000 as FullFlowResult)}, ${driverCpu(out.rate1000 as FullFlowResult)}` })
  table.add({ scenario: '3 full flow, memory', measure: `${FLOW_PAIRS} pairs, as fast as they can`, after: flowCell(out.closedLoop as FullFlowResult) })
  results.fullFlow = out
}

async function held (): Promise<void> {
  log('4. held long-polls (and a bare node:http server holding the same requests)')
  const ceiling: HeldPollsResult[] = []
  const out: ByBuild<HeldPollsResult[]> = {}
  for (let round = 0; round < BUILD_ROUNDS; round++) {
    // The ceiling first in each round: what holding a request costs Node's own HTTP server.
    ceiling.push(await withServer(startHeldCeiling, (server) => heldPolls(server, HELD_LEVELS, 4_000_000_000)))
    for (const build of inTurn(builds, round)) {
      await withServer(() => startWhatClient(build, { MAX_WAIT_SECONDS: '120', MAX_HELD_POLLS_TOTAL: '1000000' }, true), async (server) => {
        ;(out[build.name] ??= []).push(await heldPolls(server, HELD_LEVELS, 4_000_000_000))
      })
    }
  }
  results.heldPolls = { note: `${roundsFileNote}; the bare node:http ceiling first in each round`, ceiling, rounds: out }
  const kb = (bytes: number | undefined): string => bytes === undefined ? '?' : `${round(bytes / 1000, 1)} KB`
  const levelOf = (r: HeldPollsResult, i: number) => r.levels[i] as HeldPollsResult['levels'][number]
  HELD_LEVELS.forEach((count, i) => {
    const n = count.toLocaleString('en')
    /** A row with the ceiling's cell beside the builds'. */
    const row = (measure: string, show: (level: HeldPollsResult['levels'][number]) => string): void =>
      roundsRow('4 held polls', measure, out, (r) => show(levelOf(r, i)), eachRound(ceiling, (r) => show(levelOf(r, i))))
    row(`${n} held: server RSS; JS heap used / reserved${i === 0 ? roundsNote : ''}`, (l) => `${l.rssMiB} MiB; ${l.heapUsedMiB ?? '?'} / ${l.heapTotalMiB ?? '?'} MiB`)
    row(`${n} held: RSS per poll, from empty`, (l) => kb(l.rssPerPollBytes))
    row(`${n} held: JS heap per poll, from empty`, (l) => kb(l.heapPerPollBytes))
    if (i > 0) {
      const from = (HELD_LEVELS[i - 1] as number).toLocaleString('en')
      row(`${from} → ${n}: RSS per added poll (target ≤ 8 KB)`, (l) => kb(l.marginalRssPerPollBytes))
      row(`${from} → ${n}: JS heap per added poll`, (l) => kb(l.marginalHeapPerPollBytes))
    }
    row(`${n} held: release one, median / worst of 20`, (l) => `${l.releaseMedianMs} / ${l.releaseMaxMs} ms${l.refused > 0 ? `, ${l.refused} refused!` : ''}`)
  })
}

/** Round trips (commands the servers send, by name, counted by a proxy) per unit. */
interface RoundTrips {
  perUnit: number
  byCommand: Record<string, number>
  units: number
}

const roundTrips = (counts: Record<string, number>, units: number): RoundTrips => {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0)
  return { perUnit: round(total / Math.max(units, 1), 3), byCommand: Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, round(n / Math.max(units, 1), 3)])), units }
}

/**
 * Exact round trips: one more server, its Redis connections through a counting proxy
 * (not timed: the proxy adds a hop), a few hundred of each call, one at a time per socket.
 */
async function countRoundTrips (build: Build, env: Record<string, string>): Promise<Record<string, RoundTrips>> {
  const proxy = await startCountingProxy(REDIS_URL)
  try {
    return await withServer(() => startWhatClient(build, { ...env, REDIS_URL: proxy.url }), async (s) => {
      const amount = 1000
      const out: Record<string, RoundTrips> = {}
      const counted = async (units: () => Promise<number>): Promise<RoundTrips> => {
        proxy.counter.take()
        const n = await units()
        return roundTrips(proxy.counter.take(), n)
      }
      out.idleV1 = await counted(async () => (await autocannon({ url: s.url + IDLE_PATH, connections: 10, amount, headers: { 'x-signature': sign(IDLE_PATH) } })).requests.total)
      if (await hasSignIn(s.url)) {
        const token = await signIn(s.url, V2_USER + 1)
        out.idleV2 = await counted(async () => (await autocannon({ url: s.url + V2_IDLE_PATH, connections: 10, amount, headers: { authorization: `Bearer ${token}` } })).requests.total)
        out.signIn = await counted(async () => (await signIns(s.url, s.pid, 200, 7_900_000_000, 10)).signIns)
      }
      let flowCounts: Record<string, number> = {}
      const flow = await fullFlow({
        urls: [s.url], pairs: 50, rate: 200, seconds: 2, warmupSeconds: 1, firstUserId: 7_950_000_000,
        around: { before: async () => { proxy.counter.take() }, after: async () => { flowCounts = proxy.counter.take() } }
      })
      out.flow = roundTrips(flowCounts, flow.resolutions)
      return out
    })
  } finally {
    await proxy.close()
  }
}

/** One round of one build in scenario 5. */
interface RedisBuildResult {
  idleV1: LoadResult & { redis: RedisUse }
  /** Not for a build without v2 sign-in. */
  idleV2?: LoadResult & { redis: RedisUse }
  signIn?: SignInResult & { redis: RedisUse }
  flowOne: FullFlowResult & { redis: RedisUse }
  idleTwo: { perInstance: LoadResult[], total: number, cpuUsPerRequest: number, redis: RedisUse }
  flowTwo: FullFlowResult & { redis: RedisUse }
}

async function redisMode (): Promise<void> {
  log('5. Redis mode, one and two instances (counts assume nobody else uses this Redis meanwhile)')
  const stats = createClient({ url: REDIS_URL })
  await stats.connect()
  const out: ByBuild<RedisBuildResult[]> = {}
  const redisVersion = /redis_version:(\S+)/.exec(await stats.info('server'))?.[1]
  // Reads Redis's counters around a measured window; `units` divides them afterwards.
  const counting = () => {
    let before: RedisSnapshot | undefined
    let after: RedisSnapshot | undefined
    return {
      around: { before: async () => { before = await redisSnapshot(stats) }, after: async () => { after = await redisSnapshot(stats) } },
      use: (units: number): RedisUse => redisUse(before as RedisSnapshot, after as RedisSnapshot, Math.max(units, 1))
    }
  }
  const prefixes: string[] = []
  /** One round of one build: one instance, then two. */
  const measure = async (build: Build): Promise<RedisBuildResult> => {
    const env = { ...redisEnv(prefixes), ...SIGN_IN_ENV }
    const r: Partial<RedisBuildResult> = {}
    await withServer(() => startWhatClient(build, env), async (one) => {
      const hammerOptions = (around: ReturnType<typeof counting>['around'], headers?: Record<string, string>) => ({ connections: CONNECTIONS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, pids: [one.pid], around, ...(headers === undefined ? {} : { headers }) })
      let c = counting()
      const v1 = await hammer(one.url, IDLE_PATH, hammerOptions(c.around))
      r.idleV1 = { ...v1, redis: c.use(v1.requests) }
      if (await hasSignIn(one.url)) {
        const token = await signIn(one.url, V2_USER)
        c = counting()
        const v2 = await hammer(one.url, V2_IDLE_PATH, hammerOptions(c.around, { authorization: `Bearer ${token}` }))
        r.idleV2 = { ...v2, redis: c.use(v2.requests) }
        await signIns(one.url, one.pid, Math.min(500, REDIS_SIGN_INS), 7_000_000_000)
        c = counting()
        await c.around.before()
        const s = await signIns(one.url, one.pid, REDIS_SIGN_INS, 7_100_000_000)
        await c.around.after()
        r.signIn = { ...s, redis: c.use(s.signIns) }
      }
      c = counting()
      const flow = await fullFlow({ urls: [one.url], pairs: FLOW_PAIRS, rate: FLOW_RATE, seconds: SECONDS, warmupSeconds: FLOW_WARMUP_SECONDS, firstUserId: 5_000_000_000, pids: [one.pid], around: c.around })
      r.flowOne = { ...flow, redis: c.use(flow.resolutions) }
      await withServer(() => startWhatClient(build, env), async (two) => {
        c = counting()
        await Promise.all([one, two].map((s) => hammer(s.url, IDLE_PATH, { connections: CONNECTIONS / 2, seconds: WARMUP_SECONDS, warmupSeconds: 0 })))
        await c.around.before()
        const cpuBefore = [one, two].map((s) => cpuMicros(s.pid))
        const polls = await Promise.all([one, two].map((s) => hammer(s.url, IDLE_PATH, { connections: CONNECTIONS / 2, seconds: SECONDS, warmupSeconds: 0 })))
        const cpuUsed = [one, two].reduce((sum, s, i) => sum + cpuMicros(s.pid) - (cpuBefore[i] as number), 0)
        await c.around.after()
        const requests = polls.reduce((sum, p) => sum + p.requests, 0)
        r.idleTwo = { perInstance: polls, total: polls.reduce((sum, p) => sum + p.rps, 0), cpuUsPerRequest: round(cpuUsed / Math.max(requests, 1), 1), redis: c.use(requests) }
        c = counting()
        const flowTwo = await fullFlow({ urls: [one.url, two.url], pairs: FLOW_PAIRS, rate: FLOW_RATE, seconds: SECONDS, warmupSeconds: FLOW_WARMUP_SECONDS, firstUserId: 6_000_000_000, pids: [one.pid, two.pid], around: c.around })
        r.flowTwo = { ...flowTwo, redis: c.use(flowTwo.resolutions) }
      })
    })
    return r as RedisBuildResult
  }
  // Round trips are exact counts, the same in every round: counted once per build.
  const trips: ByBuild<Record<string, RoundTrips>> = {}
  try {
    for (let round = 0; round < BUILD_ROUNDS; round++) {
      for (const build of inTurn(builds, round)) {
        log(`5. Redis mode: ${build.name}${BUILD_ROUNDS > 1 ? `, round ${round + 1}` : ''}`)
        ;(out[build.name] ??= []).push(await measure(build))
      }
    }
    for (const build of builds) trips[build.name] = await countRoundTrips(build, { ...redisEnv(prefixes), ...SIGN_IN_ENV })
  } finally {
    await deletePrefixes(stats, prefixes)
    stats.destroy()
  }
  // Ours: two connections per instance (at most two) and the harness's own.
  const busy = Object.values(out).some((runs) => runs.some((b) => Object.values(b).some((v) => ((v as { redis?: RedisUse }).redis?.connectedClients ?? 0) > 5)))
  const busyNote = 'other clients were connected to Redis during some counted windows: commands and Redis CPU may include theirs'
  results.redis = { redisVersion, ...(busy ? { warning: busyNote } : {}), url: REDIS_URL, note: `round trips: commands the server sent, counted by a proxy in front of Redis in a separate, untimed pass (roundTrips, once per build); the other Redis counts are INFO commandstats deltas over each measured window (commands inside Lua scripts counted under their own names) and assume nobody else used this Redis meanwhile; connectedClients shows who was connected; ${roundsFileNote}`, roundTrips: trips, rounds: out }
  const R = '5 redis'
  const noV2 = 'no v2'
  /** Round trips (the same every round) and each round's commands in Redis. */
  const commands = (name: Build['name'], unit: string, use: (b: RedisBuildResult) => RedisUse | undefined): string => {
    const runs = out[name] ?? []
    if (use(runs[0] as RedisBuildResult) === undefined) return noV2
    const perUnit = round(trips[name]?.[unit]?.perUnit ?? NaN, 2)
    return `${perUnit} round trip${perUnit === 1 ? '' : 's'}, ${eachRound(runs, (b) => String(round((use(b) as RedisUse).commandsPerUnit, 1)))} commands in Redis`
  }
  const commandsRow = (measure: string, unit: string, use: (b: RedisBuildResult) => RedisUse | undefined): void =>
    buildRow(R, measure, Object.fromEntries(Object.keys(out).map((name) => [name, commands(name as Build['name'], unit, use)])))
  const row = (measure: string, show: (b: RedisBuildResult) => string): void => roundsRow(R, measure, out, show)
  /** A v2 row: a build without v2 sign-in says so once. */
  const v2Row = (measure: string, show: (b: RedisBuildResult) => string): void =>
    buildRow(R, measure, perBuild(out, (runs) => runs[0]?.idleV2 === undefined ? noV2 : eachRound(runs, show)))
  row(`v1 idle poll, 1 instance: req/s, p50 / p99${roundsNote}`, (b) => `${rps(b.idleV1)}, ${latency(b.idleV1)}`)
  row('v1 idle poll: server CPU, Redis CPU per request', (b) => `${cpu(b.idleV1)}, ${round(b.idleV1.redis.redisCpuUsPerUnit, 1)} µs`)
  commandsRow('v1 idle poll: Redis round trips, commands per request', 'idleV1', (b) => b.idleV1.redis)
  v2Row('v2 idle poll, 1 instance: req/s, p50 / p99', (b) => b.idleV2 === undefined ? noV2 : `${rps(b.idleV2)}, ${latency(b.idleV2)}`)
  v2Row('v2 idle poll: server CPU, Redis CPU per request', (b) => b.idleV2 === undefined ? noV2 : `${cpu(b.idleV2)}, ${round(b.idleV2.redis.redisCpuUsPerUnit, 1)} µs`)
  commandsRow('v2 idle poll: Redis round trips, commands per request', 'idleV2', (b) => b.idleV2?.redis)
  v2Row('sign-in: per second, server CPU, Redis CPU', (b) => b.signIn === undefined ? noV2 : `${b.signIn.signInsPerSecond.toLocaleString('en')}/s, ${b.signIn.cpuUsPerSignIn} µs, ${round(b.signIn.redis.redisCpuUsPerUnit, 1)} µs`)
  commandsRow('sign-in: Redis round trips, commands per sign-in', 'signIn', (b) => b.signIn?.redis)
  row(`full flow, 1 instance, ${FLOW_RATE.toLocaleString('en')} asks/s (p99 target < 50 ms)`, (b) => flowCell(b.flowOne))
  row('full flow, 1 instance: server CPU, Redis CPU, load generator CPU per resolution', (b) => `${flowCpu(b.flowOne)}, ${round(b.flowOne.redis.redisCpuUsPerUnit, 1)} µs, ${driverCpu(b.flowOne)}`)
  commandsRow('full flow, 1 instance: Redis round trips, commands per resolution', 'flow', (b) => b.flowOne.redis)
  row('v1 idle poll, 2 instances: req/s in all, p99 each', (b) => `${b.idleTwo.total.toLocaleString('en')} req/s, ${b.idleTwo.perInstance.map((p) => p.p99).join(' / ')} ms`)
  row(`full flow, 2 instances (Alice and Bob apart), ${FLOW_RATE.toLocaleString('en')} asks/s`, (b) => flowCell(b.flowTwo))
  row('full flow, 2 instances: server CPU (both), Redis CPU, load generator CPU per resolution', (b) => `${flowCpu(b.flowTwo)}, ${round(b.flowTwo.redis.redisCpuUsPerUnit, 1)} µs, ${driverCpu(b.flowTwo)}`)
  commandsRow('full flow, 2 instances: Redis round trips (1 instance\'s count), commands per resolution', 'flow', (b) => b.flowTwo.redis)
  if (busy) log(`5. WARNING: ${busyNote}`)
}

async function signInCost (): Promise<void> {
  log('6. sign-in over HTTP (memory mode)')
  const out: ByBuild<SignInResult[]> = {}
  for (let round = 0; round < BUILD_ROUNDS; round++) {
    for (const build of inTurn(builds, round)) {
      await withServer(() => startWhatClient(build, SIGN_IN_ENV), async (s) => {
        if (!await hasSignIn(s.url)) return
        await signIns(s.url, s.pid, Math.min(1000, SIGN_INS), 8_000_000_000 + round * 100_000_000)
        ;(out[build.name] ??= []).push(await signIns(s.url, s.pid, SIGN_INS, 8_050_000_000 + round * 100_000_000))
      })
    }
  }
  results.signIn = { note: `POST /v2/session with distinct, fresh init data (hash check), 32 at a time, after 1,000 not measured; ${roundsFileNote}`, rounds: out }
  const failures = (r: SignInResult): string => r.errors + r.non2xx > 0 ? ` (${r.errors} errors, ${r.non2xx} non-2xx!)` : ''
  roundsRow('6 sign-in', `POST /v2/session, ${SIGN_INS.toLocaleString('en')} users: per second, p50 / p99${roundsNote}`, out, (r) => `${r.signInsPerSecond.toLocaleString('en')}/s, ${latency(r)}${failures(r)}`)
  roundsRow('6 sign-in', 'server CPU per sign-in', out, (r) => `${r.cpuUsPerSignIn} µs`)
}

const CYCLE_PLUGINS = quick ? 1_000 : 4_000
const CYCLE_WAIT_SECONDS = 2
/**
 * With a before build, each build is measured twice, first in one round and second in the
 * other: measured one after the other, the second build cost 15-25% more server CPU in
 * memory mode whichever build it was (BENCHMARKS.md §8).
 */
const CYCLE_ROUNDS = builds.length > 1 ? 2 : 1

/** One round of one build: `position` 1 when it was measured first in its round, 2 when second. */
type CycleRound = { position: number, memory: CycleResult, redis?: CycleResult & { redis: RedisUse } }

/** Scenario 8: the long-poll cycle of an online plugin nobody asks about, memory and Redis mode. */
async function longPollCycle (): Promise<void> {
  log('8. long-poll cycle (held polls that end empty and poll again)')
  const rounds: ByBuild<CycleRound[]> = {}
  const stats = skipRedis ? undefined : createClient({ url: REDIS_URL })
  await stats?.connect()
  const prefixes: string[] = []
  const options = { plugins: CYCLE_PLUGINS, waitSeconds: CYCLE_WAIT_SECONDS, seconds: SECONDS, warmupSeconds: 2 * CYCLE_WAIT_SECONDS, firstUserId: 9_000_000_000 }
  try {
    for (let round = 0; round < CYCLE_ROUNDS; round++) {
      for (const [index, build] of inTurn(builds, round).entries()) {
        const memory = await withServer(() => startWhatClient(build), async (s) => longPollCycles({ ...options, url: s.url, pid: s.pid }))
        const measured: CycleRound = { position: index + 1, memory }
        ;(rounds[build.name] ??= []).push(measured)
        if (stats === undefined) continue
        const env = redisEnv(prefixes)
        let before: RedisSnapshot | undefined
        let afterSnapshot: RedisSnapshot | undefined
        const around = { before: async () => { before = await redisSnapshot(stats) }, after: async () => { afterSnapshot = await redisSnapshot(stats) } }
        const redis = await withServer(() => startWhatClient(build, env), async (s) => longPollCycles({ ...options, url: s.url, pid: s.pid, around }))
        measured.redis = { ...redis, redis: redisUse(before as RedisSnapshot, afterSnapshot as RedisSnapshot, Math.max(1, redis.cycles)) }
      }
    }
  } finally {
    if (stats !== undefined) await deletePrefixes(stats, prefixes)
    stats?.destroy()
  }
  results.longPollCycle = { note: `${CYCLE_PLUGINS} plugins, each on its own keep-alive socket, holding GET /getTasks/{id}?wait=${CYCLE_WAIT_SECONDS} and polling again when it ends empty; server CPU from /proc over the measured window; Redis counts assume nobody else used that Redis meanwhile${CYCLE_ROUNDS > 1 ? `; ${CYCLE_ROUNDS} rounds per build, the builds' order alternating (position: 1st or 2nd in its round)` : ''}`, ...rounds }
  const failures = (runs: CycleResult[]): string => {
    const failed = runs.reduce((sum, r) => sum + r.failures, 0)
    return failed > 0 ? ` (${failed} failures!)` : ''
  }
  // Each figure the median of the rounds (with two, their mean), and each round's beside it.
  const cell = (runs: CycleResult[], redisCpus: number[] = []): string => {
    const cpus = runs.map((r) => r.cpuUsPerCycle)
    const inRedis = redisCpus.length > 0 ? `, ${round(median(redisCpus), 1)} µs` : ''
    const each = runs.length < 2 ? '' : ` (rounds: server ${cpus.join(', ')}${redisCpus.length > 0 ? `; Redis ${redisCpus.map((v) => round(v, 1)).join(', ')}` : ''})`
    return `${Math.round(median(runs.map((r) => r.cyclesPerSecond))).toLocaleString('en')}/s, ${median(cpus)} µs${inRedis}${each}${failures(runs)}`
  }
  const redisRuns = (runs: CycleRound[]) => runs.flatMap((r) => r.redis === undefined ? [] : [r.redis])
  buildRow('8 cycle', `memory: ${CYCLE_PLUGINS.toLocaleString('en')} plugins, wait=${CYCLE_WAIT_SECONDS}: cycles/s, server CPU per cycle`, perBuild(rounds, (runs) => cell(runs.map((r) => r.memory))))
  if (stats !== undefined) {
    buildRow('8 cycle', 'Redis: cycles/s, server CPU, Redis CPU per cycle', perBuild(rounds, (runs) => {
      const redis = redisRuns(runs)
      return cell(redis, redis.map((r) => r.redis.redisCpuUsPerUnit))
    }))
    buildRow('8 cycle', 'Redis: scripts, commands in Redis per cycle', perBuild(rounds, (runs) => {
      const use = redisRuns(runs).map((r) => r.redis)
      return `${round(median(use.map((u) => u.scriptsPerUnit)), 2)}, ${round(median(use.map((u) => u.commandsPerUnit)), 1)}`
    }))
  }
}

const SPREAD_ROUNDS = quick ? 1 : 4

/** One configuration of scenario 9: where Alice and Bob are served. */
type SpreadSetup = 'memory' | 'redis, 1 instance' | 'redis, 2 instances'

/**
 * Scenario 9: the 1,000/s full flow again and again, memory mode and Redis mode
 * (one and two instances) interleaved, each round on fresh servers. A single
 * 10 s window's p99 is mostly made of the worst 100 ms in it, and on this VM
 * consecutive runs of the same code differ several times over: the spread, and
 * memory mode beside Redis mode in the same minutes, say what one run cannot.
 */
async function flowSpread (): Promise<void> {
  log(`9. full flow at ${FLOW_RATE}/s, ${SPREAD_ROUNDS} rounds: memory, Redis with 1 and with 2 instances`)
  const setups: SpreadSetup[] = skipRedis ? ['memory'] : ['memory', 'redis, 1 instance', 'redis, 2 instances']
  const out: ByBuild<Partial<Record<SpreadSetup, FullFlowResult[]>>> = {}
  const stats = skipRedis ? undefined : createClient({ url: REDIS_URL })
  await stats?.connect()
  const prefixes: string[] = []
  let firstUserId = 10_000_000_000
  try {
    for (let round = 0; round < SPREAD_ROUNDS; round++) {
      for (const build of inTurn(builds, round)) {
        const byBuild = out[build.name] ??= {}
        // Setups rotate too: whichever runs later in a round would otherwise always be it.
        for (const setup of setups.map((_, i) => setups[(i + round) % setups.length] as SpreadSetup)) {
          const env = setup === 'memory' ? {} : redisEnv(prefixes)
          const servers: RunningServer[] = []
          try {
            for (let i = setup === 'redis, 2 instances' ? 2 : 1; i > 0; i--) servers.push(await startWhatClient(build, env))
            firstUserId += 2 * FLOW_PAIRS
            const flow = await fullFlow({ urls: servers.map((s) => s.url), pairs: FLOW_PAIRS, rate: FLOW_RATE, seconds: SECONDS, warmupSeconds: FLOW_WARMUP_SECONDS, firstUserId, pids: servers.map((s) => s.pid) })
            ;(byBuild[setup] ??= []).push(flow)
          } finally {
            await Promise.all(servers.map((s) => s.stop()))
          }
        }
      }
    }
  } finally {
    if (stats !== undefined) await deletePrefixes(stats, prefixes)
    stats?.destroy()
  }
  // The timelines stay out of the results file (scenarios 3 and 5 keep one each).
  results.flowSpread = {
    note: `${FLOW_PAIRS} pairs at ${FLOW_RATE}/s, ${FLOW_WARMUP_SECONDS} s warm-up then ${SECONDS} s measured, per round and setup, fresh servers each time; rounds interleave builds and setups`,
    ...Object.fromEntries(Object.entries(out).map(([name, bySetup]) => [name, Object.fromEntries(Object.entries(bySetup).map(([setup, runs]) => [setup, runs.map(({ timeline: _timeline, ...rest }) => rest)]))]))
  }
  for (const setup of setups) {
    const runsOf = (b: Partial<Record<SpreadSetup, FullFlowResult[]>>): FullFlowResult[] => b[setup] ?? []
    const p99s = (runs: FullFlowResult[]): number[] => runs.map((r) => r.p99Ms)
    buildRow('9 flow spread', `${setup}: p99 of each round, ms (target < 50)`, perBuild(out, (b) => {
      const values = p99s(runsOf(b))
      const failed = runsOf(b).reduce((sum, r) => sum + r.failures + r.skipped, 0)
      return `${values.join(', ')} (median ${median(values)}; under 50 in ${values.filter((v) => v < 50).length} of ${values.length})${failed > 0 ? `, ${failed} failures or skipped asks!` : ''}`
    }))
    buildRow('9 flow spread', `${setup}: p50 median, server CPU per resolution (median; range)`, perBuild(out, (b) => {
      const runs = runsOf(b)
      const cpus = runs.map((r) => r.cpuUsPerResolution ?? NaN).filter((v) => Number.isFinite(v))
      return `${median(runs.map((r) => r.p50Ms))} ms, ${cpus.length === 0 ? '?' : `${median(cpus)} µs (${Math.min(...cpus)}-${Math.max(...cpus)})`}`
    }))
  }
}

// --only 1,4 runs just those scenarios.
const onlyArg = flag('--only')
const only = onlyArg === undefined ? undefined : new Set(onlyArg.split(','))
const wanted = (n: number): boolean => only === undefined || only.has(String(n))
const started = Date.now()
log(`Node ${process.version}; ${builds.map((b) => `${b.name}: ${b.dir} @ ${b.commit}`).join('; ')}${quick ? '; quick' : ''}`)
// Seconds each scenario took, for planning runs.
const scenarioSeconds: Record<string, number> = {}
const timed = async (n: number, scenario: () => Promise<void>): Promise<void> => {
  if (!wanted(n)) return
  const t0 = Date.now()
  await scenario()
  scenarioSeconds[String(n)] = Math.round((Date.now() - t0) / 1000)
}
await timed(1, idlePoll)
await timed(6, signInCost)
await timed(4, held)
if (!skipRedis) await timed(5, redisMode)
await timed(3, fullFlows)
await timed(2, pendingScale)
await timed(8, longPollCycle)
await timed(9, flowSpread)
results.scenarioSeconds = scenarioSeconds
results.durationSeconds = Math.round((Date.now() - started) / 1000)
results.loadAverageAtEnd = loadavg().map((n) => round(n))

const order = ['1', '2', '3', '4', '5', '6', '8', '9']
table.rows.sort((a, b) => order.indexOf(a.scenario.charAt(0)) - order.indexOf(b.scenario.charAt(0)))
const buildsText = builds.map((b) => `${b.name} ${b.commit}`).join(', ')
const title = `WhatClient bench${quick ? ' (quick: shorter windows, smaller levels, same regime)' : ''}, Node ${process.version}, ${machine.cpus} CPUs, ${buildsText}, ${new Date().toISOString().slice(0, 16)}Z`
process.stdout.write('\n' + table.render(title) + '\n')
const file = resultsFile(quick ? '-quick' : '')
results.table = table.rows
writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
process.stdout.write(`\n${results.durationSeconds} s; results in ${file}\n`)
