/**
 * Redis for tests: the machine's server on 127.0.0.1:6379 with a fresh key
 * prefix per store, and a private `redis-server` on a free port for tests that
 * stop and start it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { createClient } from 'redis'
import { luaSource } from '../../src/store/redis/scripts.js'
import { eventually } from '../kit/eventually.js'
import { closeWhenDone } from '../kit/lifetime.js'
import { freePort } from '../process-helper.js'

const clientOf = (url: string) => createClient({ url })
type Client = ReturnType<typeof clientOf>

export const SHARED_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const TEST_STORE_KEY = randomBytes(32)

export function testPrefix (): string {
  return `wc-test:${randomUUID()}:`
}

/** Runs `use` with a client of its own, connected to `url`. */
async function withClient<T> (url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = clientOf(url)
  await client.connect()
  try {
    return await use(client)
  } finally {
    client.destroy()
  }
}

/** Every key and value under `prefix`, for leak checks and clean-up. */
export async function dumpKeys (prefix: string, url = SHARED_REDIS): Promise<Array<{ key: string, value: string }>> {
  return withClient(url, async (client) => {
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
  })
}

/**
 * How many requests the Redis store under `prefix` counts towards
 * MAX_PENDING_TOTAL now, read with the store's own counting code (tests only:
 * the server needs no such call).
 */
export async function countedInRedis (prefix: string, url = SHARED_REDIS): Promise<number> {
  const source = `${luaSource('includes/time')}\n${luaSource('includes/count')}\nreturn closeBuckets(ARGV[1], nowMs())`
  return withClient(url, async (client) => Number(await client.eval(source, { keys: [], arguments: [prefix] })))
}

export async function deleteKeys (prefix: string, url = SHARED_REDIS): Promise<void> {
  await withClient(url, async (client) => {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys)
    }
  })
}

/**
 * A redis-server of the test's own, persisting nothing, on a free port (the
 * same one across restarts): stop() (SIGKILL) and start() it again at will, or
 * freeze() and thaw() it (SIGSTOP, SIGCONT) to play a Redis that hangs without
 * closing its connections. startPrivateRedis() gives one that is stopped when
 * the test (or, started in a beforeAll, the file) is done.
 */
export class PrivateRedis {
  readonly #args: string[]
  #port: number | undefined
  #process: ChildProcess | undefined

  constructor (args: string[] = []) {
    this.#args = args
  }

  get port (): number {
    if (this.#port === undefined) throw new Error('start the private Redis first')
    return this.#port
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start (): Promise<void> {
    this.#port ??= await freePort()
    const child = spawn('redis-server', ['--port', String(this.#port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...this.#args], { stdio: 'ignore' })
    this.#process = child
    await eventually(async () => this.#answers(), { timeoutMs: 5000, intervalMs: 50, message: 'redis-server to start' })
  }

  async #answers (): Promise<boolean> {
    const client = createClient({ url: this.url, socket: { reconnectStrategy: false } })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.ping()
      return true
    } catch {
      return false
    } finally {
      client.destroy()
    }
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

/** A started PrivateRedis (with `args` for redis-server), stopped when the test or the file is done. */
export async function startPrivateRedis (args: string[] = []): Promise<PrivateRedis> {
  const redis = new PrivateRedis(args)
  closeWhenDone({ close: async () => { redis.thaw(); await redis.stop() } })
  await redis.start()
  return redis
}
