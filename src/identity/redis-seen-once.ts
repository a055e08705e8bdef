/**
 * The single-use memory in Redis, shared by every instance: one SET NX PX per
 * sign-in (one round trip), under the deployment's key prefix. The key is a
 * keyed hash of the init data; the value says nothing. Redis expires it when
 * the init data would have gone stale anyway.
 *
 * Bounded by Redis itself: with `maxmemory-policy noeviction` (docs/operations.md)
 * a full Redis refuses the write, and the sign-in answers 503 instead of
 * forgetting an init data that could then be replayed. An evicting policy
 * would forget; do not use one.
 */
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
}

export class RedisSeenOnce implements SeenOnce {
  readonly #client: Pick<RedisClientType, 'set'>
  readonly #hasher: Sealer
  readonly #prefix: string
  readonly #onClose: (() => Promise<void>) | undefined

  constructor (options: RedisSeenOnceOptions) {
    this.#client = options.client
    this.#hasher = new Sealer(options.secret)
    this.#prefix = options.prefix
    this.#onClose = options.onClose
  }

  async firstTime (fingerprint: string, ttlMs: number): Promise<boolean> {
    const key = `${this.#prefix}seen:${this.#hasher.hash(fingerprint)}`
    let reply: unknown
    try {
      reply = await this.#client.set(key, '1', { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } })
    } catch {
      throw new WC_ERR_STORE_UNAVAILABLE()
    }
    return reply === 'OK'
  }

  async close (): Promise<void> {
    await this.#onClose?.()
  }
}

/**
 * A RedisSeenOnce with a client of its own, for as long as the task store does
 * not lend its client. Fails fast while Redis is gone (no offline queue, short
 * command timeout) and reconnects by itself.
 */
export async function connectRedisSeenOnce (options: { url: string, secret: Buffer, prefix: string, commandTimeoutMs?: number }): Promise<RedisSeenOnce> {
  const { createClient } = await import('redis')
  const client = createClient({
    url: options.url,
    disableOfflineQueue: true,
    commandOptions: { timeout: options.commandTimeoutMs ?? 1000 },
    socket: { connectTimeout: 1000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) }
  })
  // The task store reports Redis going away; this client only has to stay quiet and reconnect.
  client.on('error', () => {})
  await client.connect()
  return new RedisSeenOnce({ client, secret: options.secret, prefix: options.prefix, onClose: async () => { client.destroy() } })
}
