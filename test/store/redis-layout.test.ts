/**
 * What the Redis store keeps and meets: its scripts' headers match the
 * arguments the code sends, records written by earlier layouts are read or
 * expire cleanly (a rolling upgrade meets them), and instances that differ in
 * their TTL do not cut each other's lists short.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { Sealer } from '../../src/crypto/sealer.js'
import { StoreKeys } from '../../src/store/keys.js'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import { luaSource, SCRIPTS } from '../../src/store/redis/scripts.js'
import type { StoreLimits } from '../../src/store/task-store.js'
import { sleep } from '../helper.js'
import { deleteKeys, SHARED_REDIS, TEST_STORE_KEY, testPrefix } from './redis-helper.js'

const LIMITS: StoreLimits = { ttlMs: 60_000, maxPendingPerTarget: 32, maxPendingTotal: 1000, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000 }
const NO_LISTENER = { wake: () => {}, wakeAll: () => {} }

describe('the Lua scripts', () => {
  it.each(Object.entries(SCRIPTS))('%s names each KEYS and ARGV entry as the code sends it', (_name, script) => {
    const source = luaSource(script.FILE)
    const named = (table: 'KEYS' | 'ARGV'): string[] => [...source.matchAll(new RegExp(`^local (\\w+) = (?:tonumber\\()?${table}\\[(\\d+)\\]`, 'gm'))]
      .map((m) => ({ name: m[1] as string, at: Number(m[2]) }))
      .sort((a, b) => a.at - b.at)
      .map((m, i) => { expect(m.at).toBe(i + 1); return m.name })
    const header = (table: 'KEYS' | 'ARGV'): string[] => [...source.matchAll(new RegExp(`^  ${table}\\[(\\d+)\\] (\\w+)`, 'gm'))].map((m) => m[2] as string)
    expect(named('KEYS')).toEqual(script.KEYS)
    expect(named('ARGV')).toEqual(script.ARGV)
    expect(header('KEYS')).toEqual(script.KEYS)
    expect(header('ARGV')).toEqual(script.ARGV)
  })
})

describe('records from earlier layouts', () => {
  const redis = createClient({ url: SHARED_REDIS })
  const keys = new StoreKeys(new Sealer(TEST_STORE_KEY))
  const sealer = new Sealer(TEST_STORE_KEY)
  const prefixes: string[] = []
  const stores: RedisTaskStore[] = []
  beforeAll(async () => { await redis.connect() })
  afterEach(async () => { await Promise.all(stores.splice(0).map((s) => s.close())) })
  afterAll(async () => {
    redis.destroy()
    for (const prefix of prefixes) await deleteKeys(prefix)
  })

  async function open (limits: Partial<StoreLimits> = {}, prefix = testPrefix()): Promise<{ store: RedisTaskStore, prefix: string }> {
    prefixes.push(prefix)
    const store = await RedisTaskStore.connect({ ...LIMITS, ...limits, listener: NO_LISTENER, url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix })
    stores.push(store)
    return { store, prefix }
  }

  /**
   * A request as the first layout wrote it (no version, no count bucket, a
   * `{p}all` set) or the second (a bucket `b`, counters `{p}total` and `{p}n:<b>`),
   * sealed bound to the request hash alone.
   */
  async function writeOld (prefix: string, layout: 'first' | 'second', requester: number, target: number, answer?: string): Promise<string> {
    const requestId = crypto.randomUUID()
    const request = keys.request(requestId)
    const targetHash = keys.target(target)
    const pair = keys.pair(requester, target)
    const expiresAt = Date.now() + 60_000
    const wire = (sealed: string): string => Buffer.from(sealed, 'latin1').toString('base64')
    const fields: Record<string, string> = { id: wire(sealer.seal(requestId, request)), st: 'p', t: targetHash, d: pair }
    if (layout === 'second') fields.b = String(Math.floor(expiresAt / 469))
    if (answer !== undefined) Object.assign(fields, { st: 'c', a: wire(sealer.seal(answer, request)) })
    await redis.hSet(`${prefix}q:${request}`, fields)
    await redis.pExpireAt(`${prefix}q:${request}`, expiresAt)
    if (answer === undefined) {
      await redis.zAdd(`${prefix}t:${targetHash}`, { score: expiresAt, value: request })
      await redis.pExpireAt(`${prefix}t:${targetHash}`, expiresAt)
      await redis.set(`${prefix}d:${pair}`, request, { PX: 60_000 })
    }
    if (layout === 'first') await redis.zAdd(`${prefix}all`, { score: expiresAt, value: request })
    else await redis.incr(`${prefix}total`)
    return requestId
  }

  it.each(['first', 'second'] as const)('lists, dedupes, answers and delivers a pending request of the %s layout', async (layout) => {
    const { store, prefix } = await open()
    const requestId = await writeOld(prefix, layout, 11, 12)
    const newer = await store.createRequest(13, 12)
    expect(await store.pendingTasks(12)).toEqual([requestId, newer.requestId])
    expect(await store.createRequest(11, 12)).toEqual({ requestId, created: false })
    expect(await store.takeResult(requestId)).toMatchObject({ status: 'pending' })
    expect(await store.submitAnswer(requestId, 'com.radolyn.ayugram')).toBe(true)
    expect(await store.submitAnswer(requestId, 'com.radolyn.ayugram')).toBe(true)
    expect(await store.submitAnswer(requestId, 'org.telegram.messenger')).toBe(false)
    expect(await store.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'com.radolyn.ayugram' })
    expect(await store.takeResult(requestId)).toEqual({ status: 'expired' })
    expect(await redis.exists(`${prefix}q:${keys.request(requestId)}`)).toBe(0)
  })

  it.each(['first', 'second'] as const)('delivers an answer the %s layout wrote, leaving nothing half done', async (layout) => {
    const { store, prefix } = await open()
    const requestId = await writeOld(prefix, layout, 21, 22, 'tw.nekomimi.nekogram')
    expect(await store.takeResult(requestId)).toEqual({ status: 'completed', packageName: 'tw.nekomimi.nekogram' })
    expect(await store.takeResult(requestId)).toEqual({ status: 'expired' })
    expect(await redis.zScore(`${prefix}all`, keys.request(requestId))).toBeNull()
  })

  it.each(['first', 'second'] as const)('lets a v2 target answer and decline a request of the %s layout, as v1 then reads it', async (layout) => {
    const { store, prefix } = await open()
    const answered = await writeOld(prefix, layout, 61, 62)
    const declined = await writeOld(prefix, layout, 63, 62)
    // (Records of those layouts have no creation order: two written in one millisecond come in either order.)
    const listed = (await store.inbox(62)).map((t) => [t.requestId, t.verified, t.requesterId])
    expect(listed).toHaveLength(2)
    expect(listed).toEqual(expect.arrayContaining([[answered, false, null], [declined, false, null]]))
    expect(await store.answerAs(62, answered, { kind: 'plain', packageName: 'com.radolyn.ayugram' })).toBe('accepted')
    expect(await store.answerAs(62, answered, { kind: 'plain', packageName: 'com.radolyn.ayugram' })).toBe('accepted')
    expect(await store.answerAs(62, declined, { kind: 'declined' })).toBe('accepted')
    expect(await store.takeResult(answered)).toEqual({ status: 'completed', packageName: 'com.radolyn.ayugram' })
    expect(await store.takeResult(declined)).toEqual({ status: 'expired' })
    expect(await redis.exists(`${prefix}q:${keys.request(declined)}`)).toBe(0)
  })

  it('writes v1 requests in layout 2, which code knowing only layout 2 reads; v2 requests in layout 3, which it cannot open', async () => {
    const { store, prefix } = await open()
    const v1 = await store.createRequest(71, 72)
    const asker = 7_300_000_000_173 // long enough that no time or count in a record can contain it
    const v2 = await store.ask(asker, 72, { named: true })
    const record = async (id: string): Promise<Record<string, string>> => redis.hGetAll(`${prefix}q:${keys.request(id)}`)
    const [v1Record, v2Record] = [await record(v1.requestId), await record(v2.requestId)]
    expect(v1Record.v).toBe('2')
    expect(v2Record.v).toBe('3')
    // What layout-2 code does with a listed record: open its id bound to `id:<request hash>`.
    const openAsLayout2 = (id: string, wire: string | undefined): string | undefined =>
      sealer.open(Buffer.from(wire ?? '', 'base64').toString('latin1'), `id:${keys.request(id)}`)
    expect(openAsLayout2(v1.requestId, v1Record.id)).toBe(v1.requestId)
    expect(openAsLayout2(v2.requestId, v2Record.id)).toBeUndefined()
    // Nothing in a v2 record names the asker in clear; the named asker's id is sealed.
    expect(JSON.stringify(v2Record)).not.toContain(String(asker))
    expect(v2Record.r).toBe(keys.requester(asker))
    expect(Object.keys(v2Record).sort()).toEqual(['b', 'd', 'id', 'o', 'r', 'ri', 'st', 't', 'v'])
  })

  it('does not open a sealed value moved to another field of its record', async () => {
    const { store, prefix } = await open()
    const { requestId } = await store.createRequest(51, 52)
    const record = `${prefix}q:${keys.request(requestId)}`
    // Someone who can write to Redis (but has no STORE_KEY) passes the sealed request id off as the answer.
    await redis.hSet(record, { st: 'c', a: await redis.hGet(record, 'id') as string, w: String(Date.now()) })
    expect(await store.takeResult(requestId)).toEqual({ status: 'expired' })
  })

  it('retires what the earlier layouts kept beside their records', async () => {
    const { store, prefix } = await open()
    await redis.zAdd(`${prefix}all`, [{ score: Date.now() - 5000, value: 'gone-1' }, { score: Date.now() - 1, value: 'gone-2' }])
    await redis.set(`${prefix}total`, '7')
    await redis.set(`${prefix}oldest`, '123')
    await store.createRequest(31, 32)
    expect(await redis.exists(`${prefix}all`)).toBe(0)
    expect(await redis.pTTL(`${prefix}total`)).toBeGreaterThan(0)
    expect(await redis.pTTL(`${prefix}oldest`)).toBeGreaterThan(0)
  })
})

describe('instances with different TTLs', () => {
  const prefix = testPrefix()
  const stores: RedisTaskStore[] = []
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()))
    await deleteKeys(prefix)
  })

  it('never shorten a target list: a short request does not hide a long one', async () => {
    const open = async (ttlMs: number): Promise<RedisTaskStore> => {
      const store = await RedisTaskStore.connect({ ...LIMITS, ttlMs, listener: NO_LISTENER, url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix })
      stores.push(store)
      return store
    }
    const [long, short] = [await open(10_000), await open(1000)]
    const [alice, bob, carol] = [41, 42, 43]
    const lasting = await long.createRequest(alice, bob)
    await short.createRequest(carol, bob)
    await sleep(1500)
    expect(await long.pendingTasks(bob)).toEqual([lasting.requestId])
    expect(await short.pendingTasks(bob)).toEqual([lasting.requestId])
    // Alice, asking again, lands on a request Bob can see.
    expect(await short.createRequest(alice, bob)).toEqual({ requestId: lasting.requestId, created: false })
  })
})
