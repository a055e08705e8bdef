/**
 * Runs the built `whatclient` CLI as a real child process (as an operator or a
 * user would), and waits for what it prints. Needs `npm run build` first, which
 * `npm test` does.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { closeWhenDone } from './kit/lifetime.js'

export { freePort } from '../bench/lib/free-port.js'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const CLI = fileURLToPath(new URL('../dist/src/cli/index.js', import.meta.url))

export interface Child {
  process: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>
  /** Resolves once `pattern` appears in stdout or stderr. */
  waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>
}

export function runCli (args: string[], env: Record<string, string> = {}, nodeArgs: string[] = [], cwd = ROOT): Child {
  if (!existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` (npm test does) before these tests')
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }
  })
  return wrap(child)
}

export function wrap (child: ChildProcessWithoutNullStreams): Child {
  let out = ''
  let err = ''
  const waiters = new Set<() => void>()
  const notify = (): void => { for (const w of [...waiters]) w() }
  child.stdout.on('data', (chunk) => { out += String(chunk); notify() })
  child.stderr.on('data', (chunk) => { err += String(chunk); notify() })
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => { resolve(code ?? signal ?? -1); notify() })
  })
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs = 15_000) => new Promise((resolve, reject) => {
      const check = (): void => {
        const match = (out + err).match(pattern)
        if (match) {
          cleanup()
          resolve(match)
        } else if (child.exitCode !== null) {
          cleanup()
          reject(new Error(`exited before ${pattern}: ${out}${err}`))
        }
      }
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${pattern}: ${out}${err}`)) }, timeoutMs)
      const cleanup = (): void => { clearTimeout(timer); waiters.delete(check) }
      waiters.add(check)
      check()
    })
  }
}

/**
 * Starts `whatclient serve` on a free port and returns its URL once it listens.
 * Killed (SIGKILL) when the test, or the file, is done, unless it has exited.
 */
export async function serveProcess (env: Record<string, string> = {}, nodeArgs: string[] = [], cwd = ROOT): Promise<{ child: Child, url: string }> {
  const child = runCli(['serve'], { PORT: '0', HOST: '127.0.0.1', ...env }, nodeArgs, cwd)
  closeWhenDone({ close: async () => { await kill(child) } })
  const match = await child.waitFor(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  return { child, url: match[1] as string }
}

/** Kills `child` (SIGKILL) unless it has exited, and waits until it has. */
export async function kill (child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL')
  await child.exited
}
