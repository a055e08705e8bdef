/**
 * The store for several instances: state in Redis, shared by every instance
 * behind the load balancer. Each step is one Lua script (atomic, see
 * redis/scripts.ts); keys and values name nobody (keyed hashes; AES-256-GCM
 * under STORE_KEY, which never reaches Redis). Long-polls on one instance are
 * woken by work that arrives on any other through one pub/sub subscriber
 * connection per process.
 *
 * Every call is bounded by our own deadline (redis/reachability.ts): with
 * Redis gone or frozen, calls answer WC_ERR_STORE_UNAVAILABLE (503) within
 * about a second, and the clients reconnect by themselves. Every call is also
 * safe to retry after such a 503, though it may have taken effect unseen:
 * creates are deduplicated, a repeated submit of the same answer succeeds,
 * and a take keeps the answer until the reader's instance confirms it has it.
 */
import { randomUUID } from 'node:crypto'
import { createClient } from 'redis'
import { Sealer } from '../crypto/sealer.js'
import { WC_ERR_STORE_FULL, WC_ERR_STORE_UNAVAILABLE, WC_ERR_TARGET_BUSY } from '../errors.js'
import { StoreKeys } from './keys.js'
import { sameText } from './same-text.js'
import { checkServer } from './redis/server-check.js'
import { Reachability } from './redis/reachability.js'
import { LAYOUT, SCRIPTS } from './redis/scripts.js'
import type { ResultState, StoreLimits, StoreListener, TaskStore, Topic } from './task-store.js'

export interface RedisTaskStoreOptions extends StoreLimits {
  listener: StoreListener
  url: string
  /** 32 bytes shared by all instances. */
  storeKey: Buffer
  /** Key prefix, so that tests and deployments can share a Redis. */
  prefix?: string
  /** How long one store call may take before it answers 503 (ms). */
  callTimeoutMs?: number
  /** How long start-up waits for Redis (ms). */
  connectTimeoutMs?: number
  /** Told when the store stops or starts serving (no ids in these messages). */
  onStateChange?: (state: 'down' | 'up', reason?: string) => void
  /** Told about what the Redis server's settings put at risk (eviction), once at start. */
  onWarning?: (message: string) => void
}

const HEARTBEAT_MS = 250

function makeClient (url: string) {
  return createClient({
    url,
    scripts: SCRIPTS,
    // A call fails at once while the connection is down, rather than queueing for later.
    disableOfflineQueue: true,
    socket: { connectTimeout: 1000, reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000) }
  })
}
type Client = ReturnType<typeof makeClient>

/** Sealed values travel as base64 text: they are arbitrary bytes. */
const toWire = (sealed: string): string => Buffer.from(sealed, 'latin1').toString('base64')
const fromWire = (wire: string): string => Buffer.from(wire, 'base64').toString('latin1')

/**
 * What each sealed field is bound to: its record and, from layout 2 on, its
 * field, so that a value moved to another record or field does not open.
 */
function sealingContext (field: 'id' | 'answer', requestKey: string, layout: string): string {
  return layout === '1' ? requestKey : `${field}:${requestKey}`
}

export class RedisTaskStore implements TaskStore {
  readonly #limits: StoreLimits
  readonly #sealer: Sealer
  readonly #keys: StoreKeys
  readonly #prefix: string
  readonly #client: Client
  readonly #subscriber: Client
  readonly #reachability: Reachability
  /** How long a hand-out stays the first reader's before another reader may have the answer. */
  readonly #settleMs: number
  #closed = false

  private constructor (options: RedisTaskStoreOptions, client: Client, subscriber: Client) {
    this.#limits = { ttlMs: options.ttlMs, maxPendingPerTarget: options.maxPendingPerTarget, maxPendingTotal: options.maxPendingTotal, retryGraceMs: options.retryGraceMs }
    this.#sealer = new Sealer(options.storeKey)
    this.#keys = new StoreKeys(this.#sealer)
    this.#prefix = options.prefix ?? 'wc:'
    this.#client = client
    this.#subscriber = subscriber
    const deadlineMs = options.callTimeoutMs ?? 1000
    // A reader's instance gives up after two calls' deadlines (the take, then the confirmation).
    this.#settleMs = 2 * deadlineMs + 500
    this.#reachability = new Reachability({
      deadlineMs,
      heartbeatMs: HEARTBEAT_MS,
      ping: () => client.ping(),
      commandsConnected: () => client.isReady,
      wakeUpsConnected: () => subscriber.isReady,
      onChange: (ready, reason) => {
        // Held polls look again: while Redis is gone they answer 503, and once it is
        // back they find what they may have missed while no wake-up could come.
        options.listener.wakeAll()
        options.onStateChange?.(ready ? 'up' : 'down', reason)
      }
    })
  }

  /** Connects both clients (commands and pub/sub); throws if Redis cannot be reached in time or is unfit. */
  static async connect (options: RedisTaskStoreOptions): Promise<RedisTaskStore> {
    const client = makeClient(options.url)
    const subscriber = client.duplicate()
    const store = new RedisTaskStore(options, client, subscriber)
    for (const c of [client, subscriber]) {
      c.on('error', (err: Error) => store.#reachability.update(errorReason(err)))
      c.on('end', () => store.#reachability.update('connection closed'))
      c.on('ready', () => store.#reachability.update())
    }
    // Wake-ups published while the subscriber was away are lost: when it is back, every held poll looks again.
    subscriber.on('ready', () => { if (!store.#closed) options.listener.wakeAll() })
    const limit = options.connectTimeoutMs ?? 5000
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        (async () => {
          await Promise.all([client.connect(), subscriber.connect()])
          await checkServer(client, options.onWarning)
          await subscriber.subscribe(`${store.#prefix}wake`, (message) => options.listener.wake(message))
        })(),
        new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`cannot reach Redis within ${limit} ms`)), limit) })
      ])
    } catch (err) {
      store.#closed = true
      client.destroy()
      subscriber.destroy()
      throw err
    } finally {
      clearTimeout(timer)
    }
    store.#reachability.start()
    return store
  }

  async createRequest (requesterId: number, targetId: number): Promise<{ requestId: string, created: boolean }> {
    const requestId = randomUUID()
    const requestHash = this.#keys.request(requestId)
    const targetHash = this.#keys.target(targetId)
    const pairHash = this.#keys.pair(requesterId, targetId)
    const reply = await this.#call(() => this.#client.wcCreate({
      pairKey: this.#key('d:', pairHash),
      targetKey: this.#key('t:', targetHash),
      recordKey: this.#key('q:', requestHash),
      prefix: this.#prefix,
      ttlMs: this.#limits.ttlMs,
      maxPerTarget: this.#limits.maxPendingPerTarget,
      maxTotal: this.#limits.maxPendingTotal,
      requestHash,
      sealedId: toWire(this.#sealer.seal(requestId, sealingContext('id', requestHash, LAYOUT))),
      targetHash,
      pairHash,
      layout: LAYOUT
    }))
    switch (reply.kind) {
      case 'created': return { requestId, created: true }
      case 'target_full': throw new WC_ERR_TARGET_BUSY()
      case 'store_full': throw new WC_ERR_STORE_FULL()
      case 'existing': {
        const existing = this.#openId(reply.requestHash, reply.sealedId, reply.layout)
        if (existing === undefined) throw new WC_ERR_STORE_UNAVAILABLE()
        return { requestId: existing, created: false }
      }
    }
  }

  async pendingTasks (userId: number): Promise<string[]> {
    const tasks = await this.#call(() => this.#client.wcTasks({ targetKey: this.#key('t:', this.#keys.target(userId)), prefix: this.#prefix }))
    const ids: string[] = []
    for (const task of tasks) {
      const id = this.#openId(task.requestHash, task.sealedId, task.layout)
      if (id !== undefined) ids.push(id)
    }
    return ids
  }

  async submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    const requestHash = this.#keys.request(requestId)
    let layout = LAYOUT
    // At most twice: a record from another layout says which one to seal for.
    for (let attempt = 0; attempt < 2; attempt++) {
      const reply = await this.#call(() => this.#client.wcSubmit({
        recordKey: this.#key('q:', requestHash),
        prefix: this.#prefix,
        requestHash,
        sealedAnswer: toWire(this.#sealer.seal(packageName, sealingContext('answer', requestHash, layout))),
        layout,
        retryGraceMs: this.#limits.retryGraceMs
      }))
      switch (reply.kind) {
        case 'accepted': return true
        case 'unknown': return false
        case 'answered': return sameText(this.#sealer.open(fromWire(reply.sealedAnswer), sealingContext('answer', requestHash, reply.layout)), packageName)
        case 'reseal': layout = reply.layout
      }
    }
    return false
  }

  async takeResult (requestId: string, reader?: AbortSignal): Promise<ResultState> {
    const requestHash = this.#keys.request(requestId)
    const recordKey = this.#key('q:', requestHash)
    const reply = await this.#call(() => this.#client.wcTake({ recordKey, prefix: this.#prefix, retryGraceMs: this.#limits.retryGraceMs, settleMs: this.#settleMs }))
    switch (reply.kind) {
      case 'expired': return { status: 'expired' }
      // (A record without an expiry, which no version writes, is looked at again a TTL later.)
      case 'pending': return { status: 'pending', expiresInMs: reply.msToExpiry >= 0 ? reply.msToExpiry : this.#limits.ttlMs }
      // Handed to another reader a moment ago: look again once that one has confirmed or given up.
      case 'settling': return { status: 'pending', expiresInMs: reply.msToSettle }
      case 'completed': {
        const packageName = this.#sealer.open(fromWire(reply.sealedAnswer), sealingContext('answer', requestHash, reply.layout))
        if (packageName === undefined) return { status: 'expired' }
        // A reader that has left does not confirm: the next one gets the answer.
        if (reader?.aborted === true) return { status: 'completed', packageName }
        // Unconfirmed, the answer would reach another reader too: a 503 instead, and the retry gets it.
        await this.#call(() => this.#client.wcDelivered({ recordKey, prefix: this.#prefix, requestHash, handedOutAt: reply.handedOutAt }))
        return { status: 'completed', packageName }
      }
    }
  }

  wakeKey (topic: Topic): string {
    return this.#keys.topic(topic)
  }

  isReady (): boolean {
    return !this.#closed && this.#reachability.ready
  }

  countHeld (): Promise<number> {
    return this.#call(() => this.#client.wcCount({ prefix: this.#prefix }))
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#reachability.stop()
    // A graceful close waits for replies: a frozen Redis would hold it for ever.
    let timer: NodeJS.Timeout | undefined
    const closing = Promise.allSettled([this.#client.close(), this.#subscriber.close()])
    await Promise.race([closing, new Promise((resolve) => { timer = setTimeout(resolve, 1000) })])
    clearTimeout(timer)
    this.#client.destroy()
    this.#subscriber.destroy()
  }

  #key (kind: string, hash: string): string {
    return this.#prefix + kind + hash
  }

  /** A request id, sealed bound to its request hash (so a value moved to another key does not open). */
  #openId (requestHash: string, wire: string, layout: string): string | undefined {
    return this.#sealer.open(fromWire(wire), sealingContext('id', requestHash, layout))
  }

  #call<T> (run: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new WC_ERR_STORE_UNAVAILABLE())
    return this.#reachability.call(run)
  }
}

function errorReason (err: Error): string {
  const code = 'code' in err ? err.code : undefined
  return typeof code === 'string' ? code : err.message
}
