/**
 * Redis for tests: the machine's server on 127.0.0.1:6379 with a fresh key
 * prefix per store, and a private `redis-server` on a free port for tests that
 * stop and start it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { createClient } from 'redis'
import { luaSource } from '../../src/store/redis/scripts.js'

export { freePort } from '../process-helper.js'

export const SHARED_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const TEST_STORE_KEY = randomBytes(32)

export function testPrefix (): string {
  return `wc-test:${randomUUID()}:`
}

/** Every key and value under `prefix`, for leak checks and clean-up. */
export async function dumpKeys (prefix: string, url = SHARED_REDIS): Promise<Array<{ key: string, value: string }>> {
  const client = createClient({ url })
  await client.connect()
  try {
    const out: Array<{ key: string, value: string }> = []
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      for (const key of keys) {
        const type = await client.type(key)
        const value = type === 'hash'
          ? JSON.stringify(await client.hGetAll(key))
          : type === 'zset' ? JSON.stringify(await client.zRange(key, 0, -1)) : String(await client.get(key))
        out.push({ key, value })
      }
    }
    return out
  } finally {
    client.destroy()
  }
}

/**
 * How many requests the Redis store under `prefix` counts towards
 * MAX_PENDING_TOTAL now, read with the store's own counting code (tests only:
 * the server needs no such call).
 */
export async function countedInRedis (prefix: string, url = SHARED_REDIS): Promise<number> {
  const client = createClient({ url })
  await client.connect()
  try {
    const source = `${luaSource('includes/time')}\n${luaSource('includes/count')}\nreturn closeBuckets(ARGV[1], nowMs())`
    return Number(await client.eval(source, { keys: [], arguments: [prefix] }))
  } finally {
    client.destroy()
  }
}

export async function deleteKeys (prefix: string, url = SHARED_REDIS): Promise<void> {
  const client = createClient({ url })
  await client.connect()
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys)
    }
  } finally {
    client.destroy()
  }
}

/**
 * A redis-server of the test's own, persisting nothing: start() and stop()
 * (SIGKILL) it at will, or freeze() and thaw() it (SIGSTOP, SIGCONT) to play
 * a Redis that hangs without closing its connections.
 */
export class PrivateRedis {
  readonly port: number
  readonly #args: string[]
  #process: ChildProcess | undefined

  constructor (port: number, args: string[] = []) {
    this.port = port
    this.#args = args
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start (): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.#args], { stdio: 'ignore' })
    this.#process = child
    for (let i = 0; i < 100; i++) {
      const client = createClient({ url: this.url, socket: { reconnectStrategy: false } })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.ping()
        client.destroy()
        return
      } catch {
        client.destroy()
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    throw new Error('redis-server did not start')
  }

  freeze (): void {
    this.#process?.kill('SIGSTOP')
  }

  thaw (): void {
    this.#process?.kill('SIGCONT')
  }

  async stop (): Promise<void> {
    const child = this.#process
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    this.#process = undefined
  }
}
