/**
 * `npm run bench`: drives the real server over loopback and prints what users
 * feel, against the bare node:http ceiling. `--quick` for a one-minute look.
 * Results go to bench/results/<time>.json. See BENCHMARKS.md for what they mean.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { createClient } from 'redis'
import { fillPending, hammerGet, round, type LoadResult } from './lib/load.js'
import { rssBytes, startCeiling, startWhatClient, type RunningServer } from './lib/processes.js'
import { fullFlow, type FullFlowResult } from './scenarios/full-flow.js'
import { heldPolls, type HeldPollsResult } from './scenarios/held-polls.js'

const quick = process.argv.includes('--quick')
const skipRedis = process.argv.includes('--no-redis')
const SECONDS = quick ? 3 : 10
const CONNECTIONS = 100
const PENDING_LEVELS = quick ? [0, 20_000] : [0, 100_000, 1_000_000]
const HELD_LEVELS = quick ? [2_000] : [10_000, 18_000]
const FLOW_PAIRS = 500
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const IDLE_PATH = '/getTasks/424242'

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version }
}
const table: string[][] = []
const row = (...cells: Array<string | number>): void => { table.push(cells.map(String)) }
const log = (text: string): void => { process.stderr.write(`bench: ${text}\n`) }

async function withServer<T> (start: () => Promise<RunningServer>, use: (s: RunningServer) => Promise<T>): Promise<T> {
  const server = await start()
  try {
    return await use(server)
  } finally {
    await server.stop()
  }
}

/** Median by req/s of several runs: this machine's speed drifts, so rounds are interleaved. */
function median (runs: LoadResult[]): LoadResult {
  return [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)] as LoadResult
}

async function idlePoll (): Promise<void> {
  log('1. idle poll vs the node:http ceiling')
  const rounds = quick ? 1 : 3
  const runs: Record<'ceiling' | 'ours' | 'quiet', LoadResult[]> = { ceiling: [], ours: [], quiet: [] }
  for (let i = 0; i < rounds; i++) {
    runs.ceiling.push(await withServer(startCeiling, (s) => hammerGet(s.url, IDLE_PATH, CONNECTIONS, SECONDS, s.pid)))
    runs.ours.push(await withServer(() => startWhatClient(), (s) => hammerGet(s.url, IDLE_PATH, CONNECTIONS, SECONDS, s.pid)))
    runs.quiet.push(await withServer(() => startWhatClient({ LOG_LEVEL: 'warn' }), (s) => hammerGet(s.url, IDLE_PATH, CONNECTIONS, SECONDS, s.pid)))
  }
  const [ceiling, ours, quiet] = [median(runs.ceiling), median(runs.ours), median(runs.quiet)]
  results.idlePoll = { rounds: runs, ceiling, whatclient: ours, whatclientLogWarn: quiet, ratio: round(ours.rps / ceiling.rps), ratioLogWarn: round(quiet.rps / ceiling.rps) }
  const cpu = (r: LoadResult): string => `${r.cpuUsPerRequest ?? '?'} us server CPU per request`
  row('1 idle poll', 'node:http ceiling', `${ceiling.rps} req/s`, `p50 ${ceiling.p50} ms, p99 ${ceiling.p99} ms, ${cpu(ceiling)}`)
  row('1 idle poll', 'whatclient (defaults, LOG_LEVEL=info)', `${ours.rps} req/s`, `p50 ${ours.p50} ms, p99 ${ours.p99} ms, ${cpu(ours)}, ${round(ours.rps / ceiling.rps * 100, 0)}% of ceiling`)
  row('1 idle poll', 'whatclient (LOG_LEVEL=warn)', `${quiet.rps} req/s`, `p50 ${quiet.p50} ms, p99 ${quiet.p99} ms, ${cpu(quiet)}, ${round(quiet.rps / ceiling.rps * 100, 0)}% of ceiling`)
}

async function pendingScale (): Promise<void> {
  log('2. idle poll as pending work grows')
  const levels: Array<{ pending: number, poll: LoadResult, rssMiB: number, fillRps: number }> = []
  await withServer(() => startWhatClient({ MAX_PENDING_TOTAL: '2000000', REQUEST_TTL_SECONDS: '3600' }), async (server) => {
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
      const poll = await hammerGet(server.url, IDLE_PATH, CONNECTIONS, SECONDS, server.pid, level === 0 ? 2 : 6)
      const rss = rssBytes(server.pid)
      levels.push({ pending: level, poll, rssMiB: round(rss / 2 ** 20, 1), fillRps })
      const perPending = level === 0 ? '' : `, ${Math.round((rss - rssEmpty) / level)} B RSS per pending request`
      row('2 pending scale', `${level.toLocaleString('en')} pending`, `${poll.rps} req/s`, `p99 ${poll.p99} ms, ${poll.cpuUsPerRequest} us server CPU per request, RSS ${round(rss / 2 ** 20, 1)} MiB${perPending}`)
    }
    results.pendingScale = { levels, rssEmptyMiB: round(rssEmpty / 2 ** 20, 1) }
  })
  const first = levels[0]?.poll.rps ?? 0
  const last = levels.at(-1)?.poll.rps ?? 0
  const cpuFirst = levels[0]?.poll.cpuUsPerRequest ?? NaN
  const cpuLast = levels.at(-1)?.poll.cpuUsPerRequest ?? NaN
  row('2 pending scale', 'req/s at most vs none', `${round(last / first * 100, 0)}%`, `server CPU per request ${round(cpuLast / cpuFirst * 100, 0)}% of none`)
}

function flowRow (label: string, config: string, r: FullFlowResult): void {
  row(label, config, `${r.resolutionsPerSecond} resolutions/s`, `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms${r.failures ? `, ${r.failures} failures` : ''}${r.skipped ? `, ${r.skipped} skipped` : ''}`)
}

async function fullFlows (): Promise<void> {
  log('3. full flow, memory mode')
  const out: Record<string, FullFlowResult> = {}
  await withServer(() => startWhatClient(), async (server) => {
    // Warm-up (JIT, heap, sockets); not recorded.
    await fullFlow({ urls: [server.url], pairs: FLOW_PAIRS, rate: 1000, seconds: 3, firstUserId: 1_900_000_000 })
    out.rate1000 = await fullFlow({ urls: [server.url], pairs: FLOW_PAIRS, rate: 1000, seconds: SECONDS, firstUserId: 2_000_000_000 })
    flowRow('3 full flow', `memory, ${FLOW_PAIRS} pairs at 1,000 asks/s`, out.rate1000)
    out.closedLoop = await fullFlow({ urls: [server.url], pairs: FLOW_PAIRS, rate: 0, seconds: SECONDS, firstUserId: 3_000_000_000 })
    flowRow('3 full flow', `memory, ${FLOW_PAIRS} pairs, as fast as they can`, out.closedLoop)
  })
  results.fullFlow = out
}

async function held (): Promise<void> {
  log('4. held long-polls')
  const out: HeldPollsResult[] = []
  for (const count of HELD_LEVELS) {
    await withServer(() => startWhatClient({ MAX_WAIT_SECONDS: '120', MAX_HELD_POLLS_TOTAL: '1000000' }), async (server) => {
      const r = await heldPolls(server, count, 4_000_000_000)
      out.push(r)
      row('4 held polls', `${count.toLocaleString('en')} held`, `RSS ${r.rssMiB} MiB`, `${r.rssPerPollBytes} B per held poll; a chosen one released in ${r.releaseMedianMs} ms median, ${r.releaseMaxMs} ms worst of ${r.releaseSamples}${r.refused ? `; ${r.refused} refused` : ''}`)
    })
  }
  results.heldPolls = out
}

async function redisMode (): Promise<void> {
  log('5. Redis mode, one and two instances')
  const prefix = `bench:${randomUUID()}:`
  const env = { STORE: 'redis', REDIS_URL, REDIS_KEY_PREFIX: prefix, STORE_KEY: randomBytes(32).toString('base64') }
  const out: Record<string, unknown> = {}
  try {
    await withServer(() => startWhatClient(env), async (one) => {
      const poll = await hammerGet(one.url, IDLE_PATH, CONNECTIONS, SECONDS)
      out.idleOne = poll
      row('5 redis', 'idle poll, 1 instance', `${poll.rps} req/s`, `p50 ${poll.p50} ms, p99 ${poll.p99} ms`)
      await fullFlow({ urls: [one.url], pairs: FLOW_PAIRS, rate: 1000, seconds: 3, firstUserId: 4_900_000_000 })
      const flow = await fullFlow({ urls: [one.url], pairs: FLOW_PAIRS, rate: 1000, seconds: SECONDS, firstUserId: 5_000_000_000 })
      out.flowOne = flow
      flowRow('5 redis', `full flow, 1 instance, 1,000 asks/s`, flow)
      await withServer(() => startWhatClient(env), async (two) => {
        const polls = await Promise.all([one, two].map((s) => hammerGet(s.url, IDLE_PATH, CONNECTIONS / 2, SECONDS)))
        const total = polls.reduce((sum, p) => sum + p.rps, 0)
        out.idleTwo = { perInstance: polls, total }
        row('5 redis', 'idle poll, 2 instances', `${total} req/s`, `p99 ${polls.map((p) => p.p99).join(' / ')} ms`)
        await fullFlow({ urls: [one.url, two.url], pairs: FLOW_PAIRS, rate: 1000, seconds: 3, firstUserId: 5_900_000_000 })
        const flowTwo = await fullFlow({ urls: [one.url, two.url], pairs: FLOW_PAIRS, rate: 1000, seconds: SECONDS, firstUserId: 6_000_000_000 })
        out.flowTwo = flowTwo
        flowRow('5 redis', 'full flow, 2 instances (Alice and Bob on different ones), 1,000 asks/s', flowTwo)
      })
    })
  } finally {
    const client = createClient({ url: REDIS_URL })
    await client.connect()
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await client.del(keys)
    client.destroy()
  }
  results.redis = out
}

// --only 1,4 runs just those scenarios.
const onlyArg = process.argv.indexOf('--only')
const only = onlyArg === -1 ? undefined : new Set((process.argv[onlyArg + 1] ?? '').split(','))
const wanted = (n: number): boolean => only === undefined || only.has(String(n))
const started = Date.now()
if (wanted(1)) await idlePoll()
if (wanted(2)) await pendingScale()
if (wanted(3)) await fullFlows()
if (wanted(4)) await held()
if (wanted(5) && !skipRedis) await redisMode()
results.durationSeconds = Math.round((Date.now() - started) / 1000)

const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((r) => (r[i] ?? '').length)))
process.stdout.write('\n' + table.map((r) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ')).join('\n') + '\n')
const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url))
mkdirSync(dir, { recursive: true })
const file = `${dir}${new Date().toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`
writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
process.stdout.write(`\n${results.durationSeconds} s; results in ${file}\n`)
