/**
 * The single-use memory in Redis, shared by every instance: one SET NX PX per
 * sign-in (one round trip), under the deployment's key prefix. The key is a
 * keyed hash of the init data; the value says nothing. Redis expires it when
 * the init data would have gone stale anyway.
 *
 * Every call runs against a deadline of its own (node-redis stops timing a
 * command once it is written: a frozen Redis or a silent connection would hold
 * the sign-in for ever), and answers 503 past it.
 *
 * Bounded by Redis itself: with `maxmemory-policy noeviction` (docs/operations.md)
 * a full Redis refuses the write, and the sign-in answers 503 instead of
 * forgetting an init data that could then be replayed. An evicting policy
 * would forget; do not use one.
 */
import { performance } from 'node:perf_hooks'
import type { RedisClientType } from 'redis'
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_STORE_UNAVAILABLE } from '../errors.js'
import type { SeenOnce } from './seen-once.js'

export interface RedisSeenOnceOptions {
  /** A connected client (the lead wires the task store's; tests bring their own). */
  client: Pick<RedisClientType, 'set'>
  /** Keys the hashes: the same on every instance (derived from STORE_KEY). */
  secret: Buffer
  /** The deployment's key prefix (REDIS_KEY_PREFIX). */
  prefix: string
  /** Called on close, for a client this adapter owns. */
  onClose?: () => Promise<void>
  /** How long one call may take before it answers 503 (default 1000 ms). */
  deadlineMs?: number
  /** Told of every call that failed or missed its deadline (it answers 503 either way), with when it was sent (performance.now()). */
  onFailure?: (kind: 'error' | 'timeout', sentAt: number) => void
}

/** The rejection of a call past its deadline (told apart from the client's own). */
const PAST_DEADLINE = Symbol('past the deadline')

export class RedisSeenOnce implements SeenOnce {
  readonly #client: Pick<RedisClientType, 'set'>
  readonly #hasher: Sealer
  readonly #prefix: string
  readonly #onClose: (() => Promise<void>) | undefined
  readonly #deadlineMs: number
  readonly #onFailure: ((kind: 'error' | 'timeout', sentAt: number) => void) | undefined

  constructor (options: RedisSeenOnceOptions) {
    this.#client = options.client
    this.#hasher = new Sealer(options.secret)
    this.#prefix = options.prefix
    this.#onClose = options.onClose
    this.#deadlineMs = options.deadlineMs ?? 1000
    this.#onFailure = options.onFailure
  }

  async firstTime (fingerprint: string, ttlMs: number): Promise<boolean> {
    const key = `${this.#prefix}seen:${this.#hasher.hash(fingerprint)}`
    let reply: unknown
    let timer: NodeJS.Timeout | undefined
    const sentAt = performance.now()
    try {
      reply = await Promise.race([
        this.#client.set(key, '1', { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } }),
        new Promise((_resolve, reject) => { timer = setTimeout(() => reject(PAST_DEADLINE), this.#deadlineMs) })
      ])
    } catch (err) {
      this.#onFailure?.(err === PAST_DEADLINE ? 'timeout' : 'error', sentAt)
      throw new WC_ERR_STORE_UNAVAILABLE()
    } finally {
      clearTimeout(timer)
    }
    return reply === 'OK'
  }

  async close (): Promise<void> {
    await this.#onClose?.()
  }
}

/**
 * A RedisSeenOnce with a client of its own, for as long as the task store does
 * not lend its client. Fails fast while Redis is gone (no offline queue) and
 * reconnects by itself. Sign-ins are rare, so the connection would often sit
 * idle, where a NAT or firewall may drop it silently (a half-open socket:
 * node-redis would wait minutes for TCP to give it up, every sign-in failing
 * meanwhile while the task store, which watches its own connections, serves).
 * So it is pinged about every second, which keeps such a mapping alive; a socket
 * with nothing written or read for 5 s (its ping unanswered) is closed and
 * connected again (this also bounds a handshake that hangs); and a call past its
 * deadline with nothing heard on the connection since it was sent gets a new
 * connection at once (sign-ins that keep coming would keep the socket from ever
 * looking idle).
 */
export async function connectRedisSeenOnce (options: { url: string, secret: Buffer, prefix: string, deadlineMs?: number }): Promise<RedisSeenOnce> {
  const { createClient } = await import('redis')
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    // Every call runs against RedisSeenOnce's deadline; node-redis's own would cost an AbortSignal per call.
    commandOptions: { timeout: 0 },
    pingInterval: 1000,
    socket: { connectTimeout: 1000, socketTimeout: 5000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) }
  })
  // The task store reports Redis going away; this client only has to stay quiet and reconnect.
  client.on('error', () => {})
  /** When this connection last brought a reply (its pings' included). */
  let heardAt = 0
  const heard = (): void => { heardAt = performance.now() }
  client.on('ping-interval', heard)
  await client.connect()
  let closed = false
  // A connect that node-redis, or the line below, had under way when the adapter closed.
  client.on('ready', () => { if (closed) client.destroy() })
  const connectAgain = (kind: 'error' | 'timeout', sentAt: number): void => {
    // A reply since the call was sent: Redis is slow, the connection works. And not while
    // node-redis reconnects it itself (it would run two connects at once).
    if (closed || kind !== 'timeout' || heardAt >= sentAt || !client.isReady) return
    client.destroy()
    client.connect().catch(() => {})
  }
  return new RedisSeenOnce({
    client: { set: (...args: Parameters<typeof client.set>) => client.set(...args).finally(heard) },
    secret: options.secret,
    prefix: options.prefix,
    deadlineMs: options.deadlineMs,
    onFailure: connectAgain,
    onClose: async () => {
      closed = true
      client.destroy()
    }
  })
}
