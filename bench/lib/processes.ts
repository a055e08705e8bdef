/**
 * The servers a benchmark drives, each in its own process (so the load
 * generator does not share its event loop): the WhatClient server as an
 * operator runs it, from this checkout or from another one (`--before`), and
 * the bare node:http ceiling. Every server runs on the Node that runs the
 * harness (process.execPath): run the harness with another node to measure it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './free-port.js'

const CEILING = fileURLToPath(new URL('../ceiling-server.js', import.meta.url))
const HELD_CEILING = fileURLToPath(new URL('../held-ceiling-server.js', import.meta.url))
const GC_ON_SIGNAL = fileURLToPath(new URL('../gc-on-signal.js', import.meta.url))
const HERE = fileURLToPath(new URL('../../..', import.meta.url))
export const BENCH_KEY = 'bench-key'

/** A built checkout whose `dist/src/cli/index.js` is started as the server. */
export interface Build {
  /** 'after' (this checkout) or 'before' (--before DIR). */
  name: 'before' | 'after'
  dir: string
  cli: string
  /** `git describe`-like: the commit, and '+changes' when the checkout has uncommitted ones. */
  commit: string
}

function describeCommit (dir: string): string {
  try {
    const commit = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== ''
    return dirty ? `${commit}+changes` : commit
  } catch {
    return 'unknown'
  }
}

/** The checkout at `dir` (this one when undefined); throws when it is not built. */
export function findBuild (name: Build['name'], dir: string = HERE): Build {
  const root = resolve(dir)
  const cli = resolve(root, 'dist/src/cli/index.js')
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build that checkout first (cd ${root} && npm ci)`)
  return { name, dir: root, cli, commit: describeCommit(root) }
}

export interface RunningServer {
  url: string
  pid: number
  /** The metrics listener's /metrics URL, when the server was started with one. */
  metricsUrl?: string
  /** A URL answering `process.memoryUsage()`'s heap figures as JSON (the held-polls ceiling's). */
  memoryUrl?: string
  stop: () => Promise<void>
}

/**
 * The Node flags the server is started with, as `npm start`, the Dockerfile and
 * the systemd unit start it (a test holds those three to this).
 */
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=16']

/**
 * The builds (or any things measured one after the other, like scenario 1's v1 and v2
 * polls) in the order round `round` measures them: as given in even rounds, reversed in
 * odd ones. Measured one after the other, the second of two builds can cost 15-25% more
 * CPU whichever it is (BENCHMARKS.md §8): alternating, neither always pays it.
 */
export function inTurn<T> (builds: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...builds] : [...builds].reverse()
}

/** How a server process is started beyond its script: a program that runs Node (e.g. valgrind), and how long it may take to answer. */
export interface StartOptions {
  /** The command and its arguments that Node runs under (none: Node runs alone). */
  wrapper?: readonly string[]
  readyWithinMs?: number
}

/** Starts a server process on a free port; ready once it answers HTTP (any status). */
export async function startProcess (script: string, args: string[], env: Record<string, string>, nodeFlags: string[] = [], { wrapper = [], readyWithinMs = 20_000 }: StartOptions = {}): Promise<RunningServer> {
  const port = await freePort()
  const [command, ...commandArgs] = [...wrapper, process.execPath, ...nodeFlags, script, ...args] as [string, ...string[]]
  const child: ChildProcess = spawn(command, commandArgs, {
    env: { ...process.env, HOST: '127.0.0.1', API_SECRET_KEY: BENCH_KEY, ...env, PORT: String(port) },
    // Logs go where an operator's would: written in full, read by nobody here.
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  let exited = false
  child.once('exit', () => { exited = true })
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`${script} exited before it served`)
    if (i > readyWithinMs / 100) throw new Error(`${script} did not answer within ${readyWithinMs / 1000} s`)
    try {
      await fetch(`${url}/healthz`)
      break
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    url,
    pid: child.pid as number,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  }
}

/**
 * `whatclient serve` of `build` with the given settings (defaults otherwise,
 * LOG_LEVEL=info included), on Node with SERVE_NODE_FLAGS, whatever the
 * build's own start script says. With `memory`, also the metrics listener on a
 * port of its own (for the heap figures of prom-client's default metrics) and
 * a full GC on SIGWINCH (bench/gc-on-signal.ts: see collectGarbage).
 */
export async function startWhatClient (build: Build, env: Record<string, string> = {}, memory = false): Promise<RunningServer> {
  if (!memory) return startProcess(build.cli, ['serve'], env, SERVE_NODE_FLAGS)
  const metricsPort = await freePort()
  const server = await startProcess(build.cli, ['serve'], { ...env, METRICS_PORT: String(metricsPort), NODE_OPTIONS: gcOnSignal() }, SERVE_NODE_FLAGS)
  return { ...server, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` }
}

/** NODE_OPTIONS that preload bench/gc-on-signal.ts (a full GC on SIGWINCH), beside any already set. */
function gcOnSignal (): string {
  return [process.env.NODE_OPTIONS ?? '', '--expose-gc', `--import=${GC_ON_SIGNAL}`].join(' ').trim()
}

/** A full garbage collection in a server started with `memory` (ignored by any other). */
export async function collectGarbage (server: RunningServer): Promise<void> {
  process.kill(server.pid, 'SIGWINCH')
  await new Promise((resolve) => setTimeout(resolve, 300))
}

export function startCeiling (): Promise<RunningServer> {
  return startProcess(CEILING, [], {})
}

/**
 * The held-polls ceiling (bench/held-ceiling-server.ts), with the server's Node
 * flags (the young generation's size is part of RSS) and a full GC on SIGWINCH.
 */
export async function startHeldCeiling (): Promise<RunningServer> {
  const server = await startProcess(HELD_CEILING, [], { NODE_OPTIONS: gcOnSignal() }, SERVE_NODE_FLAGS)
  return { ...server, memoryUrl: `${server.url}/memory` }
}

/** Resident set size of a process, in bytes. */
export function rssBytes (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0)
  return kb * 1024
}

/** CPU time a process has used (user + system), in microseconds. */
export function cpuMicros (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  // utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second).
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** One gauge of a Prometheus text exposition (the first sample whose name matches), or undefined. */
export function metricValue (text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    const key = line.slice(0, space)
    if (key === name || key.startsWith(`${name}{`)) return Number(line.slice(space + 1))
  }
  return undefined
}

export interface HeapSample {
  /** JS heap in use (prom-client's nodejs_heap_size_used_bytes, process.memoryUsage().heapUsed). */
  heapUsed: number
  /** JS heap the process has reserved (nodejs_heap_size_total_bytes): used plus V8's slack, which RSS pays for too. */
  heapTotal: number
  /** Memory outside the JS heap held by JS objects (nodejs_external_memory_bytes: buffers and the like). */
  external: number
}

/**
 * The server's heap, from its metrics listener (prom-client's default metrics)
 * or its memory URL, or undefined without either.
 */
export async function heapSample (server: RunningServer): Promise<HeapSample | undefined> {
  if (server.memoryUrl !== undefined) {
    try {
      const { heapUsed, heapTotal, external } = await (await fetch(server.memoryUrl)).json() as HeapSample
      return { heapUsed, heapTotal, external }
    } catch {
      return undefined
    }
  }
  if (server.metricsUrl === undefined) return undefined
  try {
    const text = await (await fetch(server.metricsUrl)).text()
    const heapUsed = metricValue(text, 'nodejs_heap_size_used_bytes')
    const heapTotal = metricValue(text, 'nodejs_heap_size_total_bytes')
    const external = metricValue(text, 'nodejs_external_memory_bytes')
    return heapUsed === undefined || heapTotal === undefined || external === undefined ? undefined : { heapUsed, heapTotal, external }
  } catch {
    return undefined
  }
}
