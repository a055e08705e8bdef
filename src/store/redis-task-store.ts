/**
 * The store for several instances: state in Redis, shared by every instance
 * behind the load balancer. Each step is one Lua script (atomic, see
 * redis/scripts.ts); keys and values name nobody (keyed hashes; AES-256-GCM
 * under STORE_KEY, which never reaches Redis). Long-polls on one instance are
 * woken by work that arrives on any other through one pub/sub subscriber
 * connection per process.
 *
 * v1 and v2 requests live side by side (see redis/scripts.ts for the
 * layout); which caller may see, answer or read which request is decided
 * inside the scripts, in the same atomic step as the rest.
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
import {
  retryAfter, WC_ERR_QUOTA_EXCEEDED, WC_ERR_REDIS_UNREACHABLE, WC_ERR_STORE_FULL, WC_ERR_STORE_UNAVAILABLE, WC_ERR_TARGET_BUSY, WC_ERR_UNVERIFIED_BUSY
} from '../errors.js'
import { gcraParameters } from '../identity/quota.js'
import type { SetOnce } from '../identity/redis-seen-once.js'
import { answerFromPayload, answerPayload } from './answers.js'
import { StoreKeys } from './keys.js'
import { sameText } from './same-text.js'
import { FreshRequests } from './redis/fresh-requests.js'
import { checkServer } from './redis/server-check.js'
import { Reachability } from './redis/reachability.js'
import { LAYOUT, SCRIPTS, type ExistingReply } from './redis/scripts.js'
import { storeLimits, type Answer, type AnswerOutcome, type AskOptions, type Reader, type ResultState, type StoreLimits, type StoreListener, type Task, type TaskStore, type Topic, type VerifiedResult } from './task-store.js'

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
  /** Told of each store call that failed or missed its deadline (the store-failures metric). */
  onFailure?: (kind: 'error' | 'timeout') => void
}

const HEARTBEAT_MS = 250
/** How long one store call may take before it answers 503. */
const DEFAULT_DEADLINE_MS = 1000

function makeClient (url: string, deadlineMs: number) {
  return createClient({
    url,
    scripts: SCRIPTS,
    // A call fails at once while the connection is down, rather than queueing for later.
    disableOfflineQueue: true,
    // No per-command timeout of node-redis's own: every call already runs against our deadline
    // (redis/reachability.ts), and node-redis's costs an AbortSignal.timeout per command that
    // lives 5 s (about half the client's CPU per call, and old-space garbage, when measured).
    commandOptions: { timeout: 0 },
    socket: {
      connectTimeout: 1000,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000),
      // The heartbeat pings each connection every quarter second once its last ping is answered:
      // a socket idle this long has had a ping unanswered all along. When both connections are
      // gone at once (a host or NAT failover), neither can judge the other
      // (redis/reachability.ts), and this closes them, as TCP would only after many minutes.
      socketTimeout: Math.max(5000, 5 * deadlineMs)
    }
  })
}
type Client = ReturnType<typeof makeClient>

/** Where a Redis URL points, without what else it may carry (a user name, a password). */
function hostOf (url: string): string {
  const { hostname, port } = new URL(url)
  return `${hostname}:${port === '' ? '6379' : port}`
}

/** Sealed values travel as base64 text: they are arbitrary bytes. */
const toWire = (sealed: string): string => Buffer.from(sealed, 'latin1').toString('base64')
const fromWire = (wire: string): string => Buffer.from(wire, 'base64').toString('latin1')

/**
 * What each sealed field is bound to: its record and, from layout 2 on, its
 * field, so that a value moved to another record or field does not open. A
 * layout-3 request id is bound to its layout too, so that code that knows
 * only layout 2 cannot open it (and skips the request: see redis/scripts.ts).
 */
function sealingContext (field: 'id' | 'answer' | 'requester' | 'key', requestKey: string, layout: string): string {
  if (layout === '1') return requestKey
  if (field === 'id' && layout !== '2') return `id:${layout}:${requestKey}`
  return `${field}:${requestKey}`
}

/** How answers are sealed: bound to record and field (layouts 2 and 3 alike), or to the record alone (layout 1). */
const ANSWER_SEALING = LAYOUT.v1

export class RedisTaskStore implements TaskStore, SetOnce {
  readonly #limits: StoreLimits
  readonly #quota: { intervalMs: number, burstMs: number }
  readonly #sealer: Sealer
  readonly #keys: StoreKeys
  readonly #prefix: string
  readonly #client: Client
  readonly #subscriber: Client
  readonly #reachability: Reachability
  /** Requests just created here, whose asker's first held look needs no round trip. */
  readonly #fresh: FreshRequests
  readonly #listener: StoreListener
  /** How long a hand-out stays the first reader's before another reader may have the answer. */
  readonly #settleMs: number
  #closed = false
  /** Why a connection is being closed on purpose, for the 'end' it emits meanwhile. */
  #closingFor: string | undefined = undefined
  readonly #onWarning: ((message: string) => void) | undefined

  private constructor (options: RedisTaskStoreOptions, client: Client, subscriber: Client) {
    this.#limits = storeLimits(options)
    this.#quota = gcraParameters(options.askQuota)
    this.#sealer = new Sealer(options.storeKey)
    this.#keys = new StoreKeys(this.#sealer)
    this.#prefix = options.prefix ?? 'wc:'
    this.#client = client
    this.#subscriber = subscriber
    this.#fresh = new FreshRequests(this.#limits.ttlMs)
    this.#listener = options.listener
    this.#onWarning = options.onWarning
    const deadlineMs = options.callTimeoutMs ?? DEFAULT_DEADLINE_MS
    // A reader's instance gives up after two calls' deadlines (the take, then the confirmation).
    this.#settleMs = 2 * deadlineMs + 500
    this.#reachability = new Reachability({
      deadlineMs,
      heartbeatMs: HEARTBEAT_MS,
      ping: () => client.ping(),
      commandsConnected: () => client.isReady,
      wakeUpsConnected: () => subscriber.isReady,
      pingWakeUps: () => subscriber.ping(),
      // Wake-ups lost meanwhile: the subscriber's 'ready' makes every held poll look again.
      onWakeUpsSilent: () => { this.#reconnect(subscriber, 'wake-ups') },
      // Calls failed meanwhile (503); Redis is down until a PING through the new connection is answered.
      onCommandsSilent: () => { this.#reconnect(client, 'commands') },
      onFailure: options.onFailure,
      onChange: (ready, reason) => {
        // Held polls look again: while Redis is gone they answer 503, and once it is
        // back they find what they may have missed while no wake-up could come.
        this.#lostWakeUps()
        options.onStateChange?.(ready ? 'up' : 'down', reason)
      }
    })
  }

  /** Connects both clients (commands and pub/sub); throws if Redis cannot be reached in time or is unfit. */
  static async connect (options: RedisTaskStoreOptions): Promise<RedisTaskStore> {
    const client = makeClient(options.url, options.callTimeoutMs ?? DEFAULT_DEADLINE_MS)
    const subscriber = client.duplicate()
    const store = new RedisTaskStore(options, client, subscriber)
    // What went wrong last while connecting (a refused connection, a wrong password, TLS), for the start-up error.
    let lastFailure: string | undefined
    for (const c of [client, subscriber]) {
      c.on('error', (err: Error) => {
        lastFailure = errorReason(err)
        store.#reachability.update(lastFailure)
      })
      c.on('end', () => store.#reachability.update(store.#closingFor ?? 'connection closed'))
      // A connect node-redis had under way when the store closed (close found no socket yet).
      c.on('ready', () => { if (store.#closed) c.destroy(); else store.#reachability.update() })
    }
    // Wake-ups published while the subscriber was away are lost: when it is back, every held poll looks again.
    subscriber.on('ready', () => { if (!store.#closed) store.#lostWakeUps() })
    const limit = options.connectTimeoutMs ?? 5000
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        (async () => {
          await Promise.all([client.connect(), subscriber.connect()])
          await checkServer(client, options.onWarning)
          await subscriber.subscribe(`${store.#prefix}wake`, (message) => {
            store.#reachability.heardWakeUp()
            store.#fresh.heard(message)
            options.listener.wake(message)
          })
        })(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => {
            const why = lastFailure === undefined ? '' : `: ${withoutPassword(lastFailure, options.url)}`
            reject(new WC_ERR_REDIS_UNREACHABLE(`${hostOf(options.url)} (REDIS_URL) within ${limit} ms${why}`))
          }, limit)
        })
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
    const reply = await this.#create(requestHash, '', () => this.#client.wcCreate({
      pairKey: this.#key('d:', pairHash),
      targetKey: this.#key('t:', targetHash),
      unverifiedKey: this.#key('u:', targetHash),
      recordKey: this.#key('q:', requestHash),
      prefix: this.#prefix,
      ttlMs: this.#limits.ttlMs,
      maxPerTarget: this.#limits.maxPendingPerTarget,
      maxUnverified: this.#limits.maxUnverifiedPerTarget ?? 0,
      maxTotal: this.#limits.maxPendingTotal,
      requestHash,
      sealedId: toWire(this.#sealer.seal(requestId, sealingContext('id', requestHash, LAYOUT.v1))),
      targetHash,
      pairHash,
      layout: LAYOUT.v1
    }))
    switch (reply.kind) {
      case 'created': return { requestId, created: true }
      case 'target_full': throw retryAfter(new WC_ERR_TARGET_BUSY(), reply.msToRoom)
      case 'unverified_full': throw retryAfter(new WC_ERR_UNVERIFIED_BUSY(), reply.msToRoom)
      case 'store_full': throw new WC_ERR_STORE_FULL()
      case 'existing': return { requestId: this.#existingId(reply), created: false }
    }
  }

  async ask (requesterId: number, targetId: number, options: AskOptions): Promise<{ requestId: string, created: boolean, expiresInMs: number }> {
    const requestId = randomUUID()
    const requestHash = this.#keys.request(requestId)
    const targetHash = this.#keys.target(targetId)
    const requesterHash = this.#keys.requester(requesterId)
    const pairHash = this.#keys.verifiedPair(requesterId, targetId, options.publicKey)
    const seal = (field: 'id' | 'requester' | 'key', value: string): string => toWire(this.#sealer.seal(value, sealingContext(field, requestHash, LAYOUT.v2)))
    const reply = await this.#create(requestHash, requesterHash, () => this.#client.wcAsk({
      pairKey: this.#key('d:', pairHash),
      targetKey: this.#key('t:', targetHash),
      recordKey: this.#key('q:', requestHash),
      quotaKey: this.#key('quota:', requesterHash),
      prefix: this.#prefix,
      ttlMs: this.#limits.ttlMs,
      maxPerTarget: this.#limits.maxPendingPerTarget,
      maxTotal: this.#limits.maxPendingTotal,
      requestHash,
      sealedId: seal('id', requestId),
      targetHash,
      pairHash,
      layout: LAYOUT.v2,
      requesterHash,
      sealedRequester: options.named ? seal('requester', String(requesterId)) : '',
      sealedPublicKey: options.publicKey === undefined ? '' : seal('key', options.publicKey),
      quotaIntervalMs: this.#quota.intervalMs,
      quotaBurstMs: this.#quota.burstMs
    }))
    switch (reply.kind) {
      case 'created': return { requestId, created: true, expiresInMs: this.#limits.ttlMs }
      case 'target_full': throw retryAfter(new WC_ERR_TARGET_BUSY(), reply.msToRoom)
      case 'quota': throw retryAfter(new WC_ERR_QUOTA_EXCEEDED(), reply.msToNextAsk)
      case 'store_full': throw new WC_ERR_STORE_FULL()
      // (A record without an expiry, which no version writes, counts as a whole TTL.)
      case 'existing': return { requestId: this.#existingId(reply), created: false, expiresInMs: reply.msToExpiry >= 0 ? reply.msToExpiry : this.#limits.ttlMs }
    }
  }

  async pendingTasks (userId: number, key?: string): Promise<string[] | null> {
    const tasks = await this.#tasks(userId, 'v1', key)
    if (tasks === null) return null
    const ids: string[] = []
    for (const task of tasks) {
      const id = this.#openId(task.requestHash, task.sealedId, task.layout)
      if (id !== undefined) ids.push(id)
    }
    return ids
  }

  async inbox (userId: number, key?: string, signedInUntilMs?: number): Promise<Task[]> {
    // Relative, as markSignedIn's: the session ends when this instance's clock says.
    const signedInMs = signedInUntilMs === undefined ? '' : Math.max(1, Math.ceil(signedInUntilMs - Date.now()))
    const records = await this.#tasks(userId, 'v2', key, signedInMs) ?? []
    const tasks: Task[] = []
    for (const record of records) {
      const requestId = this.#openId(record.requestHash, record.sealedId, record.layout)
      if (requestId === undefined) continue
      const open = (field: 'requester' | 'key', wire: string): string | undefined =>
        wire === '' ? undefined : this.#sealer.open(fromWire(wire), sealingContext(field, record.requestHash, record.layout))
      const requester = open('requester', record.sealedRequester)
      const task: Task = { requestId, requesterId: requester === undefined ? null : Number(requester), verified: record.verified, expiresInMs: record.msToExpiry }
      if (record.sealedPublicKey !== '') {
        const publicKey = open('key', record.sealedPublicKey)
        if (publicKey === undefined) continue
        task.publicKey = publicKey
      }
      tasks.push(task)
    }
    return tasks
  }

  async submitAnswer (requestId: string, packageName: string): Promise<boolean> {
    return await this.#answer('', requestId, { kind: 'plain', packageName }) === 'accepted'
  }

  answerAs (callerId: number, requestId: string, answer: Answer): Promise<AnswerOutcome> {
    return this.#answer(this.#keys.target(callerId), requestId, answer)
  }

  async takeResult (requestId: string, reader?: Reader, key?: string): Promise<ResultState> {
    const state = await this.#take('', requestId, reader, key)
    if (state.status !== 'completed') return state.status === 'pending' ? state : { status: 'expired' }
    // A v1 request is never sealed; a declined one is over, as v1 says it.
    return state.answer?.kind === 'plain' ? { status: 'completed', packageName: state.answer.packageName } : { status: 'expired' }
  }

  async resultFor (callerId: number, requestId: string, reader?: Reader, key?: string): Promise<VerifiedResult> {
    const state = await this.#take(this.#keys.requester(callerId), requestId, reader, key)
    if (state.status !== 'completed') return state
    const answer = state.answer
    if (answer === undefined) return { status: 'expired' }
    if (answer.kind === 'declined') return { status: 'declined' }
    return { status: 'completed', answer, verified: state.verified }
  }

  async markSignedIn (userId: number, untilMs: number): Promise<void> {
    // Relative, so that the session ends when this instance's clock says, whatever Redis's says.
    const ttlMs = Math.max(1, Math.ceil(untilMs - Date.now()))
    const targetHash = this.#keys.target(userId)
    await this.#call(() => this.#client.wcSignedIn({ signedInKey: this.#key('s:', targetHash), ttlMs, prefix: this.#prefix, targetHash }))
  }

  /**
   * Sets `key` (under the prefix) to a value that says nothing, for `ttlMs`, unless it is
   * set already: true when this call set it. The v2 single-use memory's one command
   * (identity/redis-seen-once.ts), lent this store's command connection, deadline and
   * watch, so that a sign-in fails and recovers as every other call here does.
   */
  async setOnce (key: string, ttlMs: number): Promise<boolean> {
    const expiration = { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } as const
    return await this.#call(() => this.#client.set(this.#prefix + key, '1', { condition: 'NX', expiration })) === 'OK'
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
    this.#fresh.clear()
    this.#reachability.stop()
    // A graceful close waits for replies: a frozen Redis would hold it for ever.
    let timer: NodeJS.Timeout | undefined
    const closing = Promise.allSettled([this.#client.close(), this.#subscriber.close()])
    await Promise.race([closing, new Promise((resolve) => { timer = setTimeout(resolve, 1000) })])
    clearTimeout(timer)
    this.#client.destroy()
    this.#subscriber.destroy()
  }

  #tasks (userId: number, view: 'v1' | 'v2', targetHash = this.#keys.target(userId), signedInMs: number | '' = '') {
    return this.#call(() => this.#client.wcTasks({ targetKey: this.#key('t:', targetHash), signedInKey: this.#key('s:', targetHash), prefix: this.#prefix, view, signedInMs }))
  }

  /** An answer through v1 (`callerHash` '') or v2 (the caller's target hash). */
  async #answer (callerHash: string, requestId: string, answer: Answer): Promise<AnswerOutcome> {
    const requestHash = this.#keys.request(requestId)
    const payload = answerPayload(answer)
    let layout: string = ANSWER_SEALING
    // At most twice: a record of the first layout binds its answer otherwise, and says so.
    for (let attempt = 0; attempt < 2; attempt++) {
      const reply = await this.#call(() => this.#client.wcSubmit({
        recordKey: this.#key('q:', requestHash),
        prefix: this.#prefix,
        requestHash,
        callerHash,
        kind: answer.kind,
        sealedAnswer: payload === undefined ? '' : toWire(this.#sealer.seal(payload, sealingContext('answer', requestHash, layout))),
        layout,
        retryGraceMs: this.#limits.retryGraceMs
      }))
      switch (reply.kind) {
        case 'accepted': return 'accepted'
        case 'unknown': return 'not_found'
        case 'mismatch': return 'mismatch'
        case 'answered': {
          // A retry: the same kind, through the same version, saying the same.
          if (reply.answerKind !== answer.kind || reply.verified !== (callerHash !== '')) return 'not_found'
          if (payload === undefined) return reply.sealedAnswer === '' ? 'accepted' : 'not_found'
          const held = reply.sealedAnswer === '' ? undefined : this.#sealer.open(fromWire(reply.sealedAnswer), sealingContext('answer', requestHash, reply.layout))
          return sameText(held, payload) ? 'accepted' : 'not_found'
        }
        case 'reseal': layout = reply.layout
      }
    }
    return 'not_found'
  }

  /**
   * A take through v1 (`callerHash` '') or v2 (the caller's requester hash), confirmed unless the
   * reader has left. Only a `listening` reader, registered for wake-ups before it looked
   * (TaskStore), may be answered from this instance's watch of a fresh request.
   */
  async #take (callerHash: string, requestId: string, reader: Reader | undefined, requestHash = this.#keys.request(requestId)): Promise<
    | { status: 'pending', expiresInMs: number }
    | { status: 'expired' }
    | { status: 'completed', answer: Answer | undefined, verified: boolean }
  > {
    if (reader?.listening === true) {
      const expiresInMs = this.#fresh.spend(requestHash, callerHash)
      if (expiresInMs !== undefined) return { status: 'pending', expiresInMs }
    }
    const recordKey = this.#key('q:', requestHash)
    const reply = await this.#call(() => this.#client.wcTake({ recordKey, prefix: this.#prefix, callerHash, retryGraceMs: this.#limits.retryGraceMs, settleMs: this.#settleMs }))
    switch (reply.kind) {
      case 'expired': return { status: 'expired' }
      // (A record without an expiry, which no version writes, is looked at again a TTL later.)
      case 'pending': return { status: 'pending', expiresInMs: reply.msToExpiry >= 0 ? reply.msToExpiry : this.#limits.ttlMs }
      // Handed to another reader a moment ago: look again once that one has confirmed or given up.
      case 'settling': return { status: 'pending', expiresInMs: reply.msToSettle }
      case 'completed': {
        const payload = reply.sealedAnswer === '' ? undefined : this.#sealer.open(fromWire(reply.sealedAnswer), sealingContext('answer', requestHash, reply.layout))
        const answer = answerFromPayload(reply.answerKind, payload)
        if (answer === undefined) return { status: 'expired' }
        // A reader that has left does not confirm: the next one gets the answer.
        if (reader?.aborted !== true) {
          // A confirmation that failed may have run (its reply lost, or late): a 503 could then
          // lose the answer for good. This reader has it; unconfirmed, it also stays for the
          // next reader of the request, as a hand-out whose reply never reached us does.
          await this.#call(() => this.#client.wcDelivered({ recordKey, prefix: this.#prefix, requestHash, handedOutAt: reply.handedOutAt })).catch(() => {})
        }
        return { status: 'completed', answer, verified: reply.verified }
      }
    }
  }

  /**
   * Sends the create (or ask) of `requestHash` for `callerHash`, watched from
   * before it is sent (redis/fresh-requests.ts) while wake-ups can arrive; the
   * watch stays only if it created. (node-redis sets `isReady` only once a
   * reconnected subscriber has subscribed again: see its client's socket
   * initiator. test/store/redis-fresh-requests.test.ts covers a reconnect.)
   */
  async #create<R extends { kind: string }> (requestHash: string, callerHash: string, send: () => Promise<R>): Promise<R> {
    if (this.#subscriber.isReady) this.#fresh.watch(requestHash, callerHash)
    try {
      const reply = await this.#call(send)
      if (reply.kind !== 'created') this.#fresh.forget(requestHash)
      return reply
    } catch (err) {
      this.#fresh.forget(requestHash)
      throw err
    }
  }

  /** Wake-ups may have been lost: no watch vouches for its request, and every held poll looks again. */
  #lostWakeUps (): void {
    this.#fresh.clear()
    this.#listener.wakeAll()
  }

  /**
   * A connection is silently gone: a new socket in its place. node-redis keeps
   * the pub/sub connection's subscription and makes it again before it says it
   * is ready. Replies still due on the old one are lost; their calls answer 503
   * and, like any call that timed out, are harmless if they ran.
   */
  #reconnect (connection: Client, which: 'commands' | 'wake-ups'): void {
    // Not while node-redis reconnects it itself (it would run two connects at once).
    if (this.#closed || !connection.isReady) return
    // Said apart from the store's state, which a silent command connection has turned 'down' already.
    this.#onWarning?.(`the Redis connection for ${which} went silent: connecting it again`)
    const reason = `${which} silent`
    this.#closingFor = reason
    connection.destroy()
    this.#closingFor = undefined
    this.#reachability.update(reason)
    // It retries by itself until it connects or is closed; failures are its events', and a
    // close that came meanwhile is the 'ready' handler's.
    connection.connect().catch(() => {})
  }

  #existingId (reply: ExistingReply): string {
    const existing = this.#openId(reply.requestHash, reply.sealedId, reply.layout)
    if (existing === undefined) throw new WC_ERR_STORE_UNAVAILABLE()
    return existing
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

/** `text` with REDIS_URL's password, should it appear, blotted out. */
function withoutPassword (text: string, url: string): string {
  let password = ''
  try {
    password = decodeURIComponent(new URL(url).password)
  } catch {}
  return password === '' ? text : text.replaceAll(password, '***')
}

function errorReason (err: Error): string {
  const code = 'code' in err ? err.code : undefined
  return typeof code === 'string' ? code : err.message
}
