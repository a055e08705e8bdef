/**
 * The store for several instances: state in Redis, shared by every instance
 * behind the load balancer. Each step is one Lua script (atomic); keys and
 * values name nobody (keyed hashes; AES-256-GCM under STORE_KEY, which never
 * reaches Redis). Long-polls on one instance are woken by work that arrives on
 * any other through one pub/sub subscriber connection per process.
 *
 * With Redis gone, calls fail fast with WC_ERR_STORE_UNAVAILABLE (503): the
 * command client has no offline queue and a short command timeout, held polls
 * are released, and the clients reconnect by themselves.
 */
import { randomUUID } from 'node:crypto'
import { createClient, type RedisClientType } from 'redis'
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_STORE_FULL, WC_ERR_STORE_UNAVAILABLE, WC_ERR_TARGET_BUSY } from '../errors.js'
import { StoreKeys } from './keys.js'
import { CREATE, SIZE, SUBMIT, TAKE, TASKS } from './redis/scripts.js'
import { Script } from './redis/script.js'
import type { ResultState, StoreLimits, TaskStore, Topic, Watch } from './task-store.js'
import type { Wakeups } from './wakeups.js'

export interface RedisTaskStoreOptions extends StoreLimits {
  wakeups: Wakeups
  url: string
  /** 32 bytes shared by all instances. */
  storeKey: Buffer
  /** Key prefix, so that tests and deployments can share a Redis. */
  prefix?: string
  /** How long one Redis command may take before the call answers 503 (ms). */
  commandTimeoutMs?: number
  /** How long start-up waits for Redis (ms). */
  connectTimeoutMs?: number
  /** Told when Redis goes away or comes back (no ids in these messages). */
  onStateChange?: (state: 'down' | 'up', reason?: string) => void
}

/** Sealed values travel as base64 text: they are arbitrary bytes. */
const toWire = (sealed: string): string => Buffer.from(sealed, 'latin1').toString('base64')
const fromWire = (wire: string): string => Buffer.from(wire, 'base64').toString('latin1')

export class RedisTaskStore implements TaskStore {
  readonly #limits: StoreLimits
  readonly #sealer: Sealer
  readonly #keys: StoreKeys
  readonly #wakeups: Wakeups
  readonly #prefix: string
  /** Width of the expiry buckets that keep the total count (see scripts.ts). */
  readonly #bucketMs: number
  readonly #client: RedisClientType
  readonly #subscriber: RedisClientType
  readonly #scripts: { create: Script, tasks: Script, submit: Script, take: Script, size: Script }
  #closed = false

  private constructor (options: RedisTaskStoreOptions, client: RedisClientType, subscriber: RedisClientType) {
    this.#limits = { ttlMs: options.ttlMs, maxPendingPerTarget: options.maxPendingPerTarget, maxPendingTotal: options.maxPendingTotal }
    this.#sealer = new Sealer(options.storeKey)
    this.#keys = new StoreKeys(this.#sealer)
    this.#wakeups = options.wakeups
    this.#prefix = options.prefix ?? 'wc:'
    this.#bucketMs = Math.max(1, Math.ceil(options.ttlMs / 128))
    this.#client = client
    this.#subscriber = subscriber
    this.#scripts = {
      create: new Script(client, CREATE),
      tasks: new Script(client, TASKS),
      submit: new Script(client, SUBMIT),
      take: new Script(client, TAKE),
      size: new Script(client, SIZE)
    }
  }

  /** Connects both clients (command and subscriber); throws if Redis cannot be reached in time. */
  static async connect (options: RedisTaskStoreOptions): Promise<RedisTaskStore> {
    const client: RedisClientType = createClient({
      url: options.url,
      disableOfflineQueue: true,
      commandOptions: { timeout: options.commandTimeoutMs ?? 1000 },
      socket: { connectTimeout: 1000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) }
    })
    const subscriber = client.duplicate()
    const store = new RedisTaskStore(options, client, subscriber)
    let down = false
    const report = (state: 'down' | 'up', reason?: string): void => {
      if ((state === 'down') === down) return
      down = state === 'down'
      // Held polls re-check (and answer 503 while Redis is gone); none waits on a channel that went quiet.
      if (down) options.wakeups.wakeAll()
      options.onStateChange?.(state, reason)
    }
    for (const c of [client, subscriber]) {
      c.on('error', (err: Error) => report('down', (err as { code?: string }).code ?? err.message))
      c.on('ready', () => { if (client.isReady && subscriber.isReady) report('up') })
      c.on('end', () => { if (!store.#closed) report('down', 'connection closed') })
    }
    const limit = options.connectTimeoutMs ?? 5000
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        Promise.all([client.connect(), subscriber.connect()]),
        new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`cannot reach Redis within ${limit} ms`)), limit) })
      ])
      await subscriber.subscribe(`${store.#prefix}wake`, (message) => options.wakeups.wake(message))
    } catch (err) {
      store.#closed = true
      client.destroy()
      subscriber.destroy()
      throw err
    } finally {
      clearTimeout(timer)
    }
    return store
  }

  async createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }> {
    const requestId = randomUUID()
    const requestKey = this.#keys.request(requestId)
    const targetKey = this.#keys.target(targetId)
    const pairKey = this.#keys.pair(requesterId, targetId)
    const reply = await this.#run<string[]>(this.#scripts.create,
      [this.#key('d:', pairKey), this.#key('t:', targetKey), this.#key('q:', requestKey)],
      [String(this.#limits.ttlMs), String(this.#limits.maxPendingPerTarget), String(this.#limits.maxPendingTotal),
        requestKey, toWire(this.#sealer.seal(requestId, requestKey)), targetKey, pairKey, this.#prefix, String(this.#bucketMs)])
    switch (reply[0]) {
      case 'created': return { requestId, created: true }
      case 'target_full': throw new WC_ERR_TARGET_BUSY()
      case 'store_full': throw new WC_ERR_STORE_FULL()
      default: {
        const existing = this.#openId(reply[1] as string, reply[2] as string)
        if (existing === undefined) throw new WC_ERR_STORE_UNAVAILABLE()
        return { requestId: existing, created: false }
      }
    }
  }

  async pendingTasks (userId: number): Promise<string[]> {
    const pairs = await this.#run<string[]>(this.#scripts.tasks, [this.#key('t:', this.#keys.target(userId))], [this.#prefix])
    const ids: string[] = []
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const id = this.#openId(pairs[i] as string, pairs[i + 1] as string)
      if (id !== undefined) ids.push(id)
    }
    return ids
  }

  async submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    const requestKey = this.#keys.request(requestId)
    const accepted = await this.#run<number>(this.#scripts.submit, [this.#key('q:', requestKey)],
      [toWire(this.#sealer.seal(packageName, requestKey)), requestKey, this.#prefix])
    return accepted === 1
  }

  async takeResult (requestId: string): Promise<ResultState> {
    const requestKey = this.#keys.request(requestId)
    const reply = await this.#run<Array<string | number>>(this.#scripts.take, [this.#key('q:', requestKey)], [this.#prefix])
    if (reply[0] === 'pending') return { status: 'pending', expiresAt: Date.now() + Number(reply[1]) }
    if (reply[0] === 'completed') {
      const packageName = this.#sealer.open(fromWire(String(reply[1])), requestKey)
      if (packageName !== undefined) return { status: 'completed', packageName }
    }
    return { status: 'expired' }
  }

  watch (topic: Topic, onWake: () => void): Watch {
    return this.#wakeups.add(this.#keys.topic(topic), onWake)
  }

  heldPolls (): number {
    return this.#wakeups.size
  }

  isReady (): boolean {
    return this.#client.isReady && this.#subscriber.isReady
  }

  async size (): Promise<number> {
    return this.#run<number>(this.#scripts.size, [], [this.#prefix, String(this.#bucketMs), String(this.#limits.ttlMs)])
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#wakeups.wakeAll()
    await Promise.allSettled([this.#client.close(), this.#subscriber.close()])
  }

  #key (kind: string, hash: string): string {
    return this.#prefix + kind + hash
  }

  /** A request id, sealed bound to its request hash (so a value moved to another key does not open). */
  #openId (requestKey: string, wire: string): string | undefined {
    return this.#sealer.open(fromWire(wire), requestKey)
  }

  async #run<T> (script: Script, keys: string[], args: string[]): Promise<T> {
    try {
      return await script.run(keys, args) as T
    } catch (err) {
      throw new WC_ERR_STORE_UNAVAILABLE({ cause: err })
    }
  }
}
