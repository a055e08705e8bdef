/**
 * The servers a benchmark drives, each in its own process (so the load
 * generator does not share its event loop): the WhatClient server as an
 * operator runs it, and the bare node:http ceiling.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { freePort } from './free-port.js'

const CLI = fileURLToPath(new URL('../../src/cli/index.js', import.meta.url))
const CEILING = fileURLToPath(new URL('../ceiling-server.js', import.meta.url))
export const BENCH_KEY = 'bench-key'

export interface RunningServer {
  url: string
  pid: number
  stop: () => Promise<void>
}

/** Starts a server process on a free port; ready once it answers HTTP (any status). */
async function startProcess (script: string, args: string[], env: Record<string, string>): Promise<RunningServer> {
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, HOST: '127.0.0.1', API_SECRET_KEY: BENCH_KEY, ...env, PORT: String(port) },
    // Logs go where an operator's would: written in full, read by nobody here.
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  let exited = false
  child.once('exit', () => { exited = true })
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`${script} exited before it served`)
    if (i > 200) throw new Error(`${script} did not answer within 20 s`)
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

/** `whatclient serve` with the given settings (defaults otherwise, LOG_LEVEL=info included). */
export function startWhatClient (env: Record<string, string> = {}): Promise<RunningServer> {
  return startProcess(CLI, ['serve'], env)
}

export function startCeiling (): Promise<RunningServer> {
  return startProcess(CEILING, [], {})
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
