/**
 * The expiry-bucket count (src/store/redis/lua/includes/count.lua), run in a
 * real Redis with times the test chooses: for any mix of TTLs, create times,
 * deliveries and idle gaps, the total is exactly the requests whose expiry
 * bucket has not closed, so never below the live ones and never above them
 * plus those that expired within the last second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from 'redis'
import { RedisTaskStore } from '../../src/store/redis-task-store.js'
import { luaSource } from '../../src/store/redis/scripts.js'
import { closeWhenDone, sleep } from '../helper.js'
import { deleteKeys, SHARED_REDIS, TEST_STORE_KEY, testPrefix } from './redis-helper.js'

const BUCKET_MS = 1000

/** count.lua's three functions, called with times the test chooses. */
const HARNESS = `${luaSource('includes/count')}
local op, prefix, value = ARGV[1], ARGV[2], tonumber(ARGV[3])
if op == 'count' then return countRequest(prefix, value) end
if op == 'uncount' then uncountRequest(prefix, value) return 0 end
return closeBuckets(prefix, value)`

/** A small deterministic PRNG (mulberry32), so that a failure names its seed. */
function random (seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TTLS = [1, 7, 999, 1000, 1001, 1500, 30_000, 119_999, 120_000, 120_001, 86_400_000]

describe('the expiry-bucket count', () => {
  const client = createClient({ url: SHARED_REDIS })
  const prefixes: string[] = []
  beforeAll(async () => { await client.connect() })
  afterAll(async () => {
    client.destroy()
    for (const prefix of prefixes) await deleteKeys(prefix)
  })

  it('is exact for any TTLs, create times, deliveries and idle gaps', async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const next = random(seed)
      const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)] as T
      const prefix = testPrefix()
      prefixes.push(prefix)
      const run = async (op: string, value: number): Promise<number> => Number(await client.eval(HARNESS, { keys: [], arguments: [op, prefix, String(value)] }))
      // Instances may run with different TTLs: each create picks one of a few.
      const ttls = [pick(TTLS), pick(TTLS), pick(TTLS)]
      const requests: Array<{ expiresAt: number, bucket: number, counted: boolean }> = []
      let now = 1_800_000_000_000 + Math.floor(next() * 1_000_000)
      for (let step = 0; step < 100; step++) {
        // Time moves on: mostly a little, often across a bucket edge, sometimes past every TTL.
        const leap = next()
        now += leap < 0.05 ? Math.floor(next() * 200_000_000) : leap < 0.3 ? Math.floor(next() * 3000) : Math.floor(next() * 50)
        const action = next()
        const live = requests.filter((r) => r.counted && r.expiresAt >= now)
        if (action < 0.5) {
          const expiresAt = now + pick(ttls)
          requests.push({ expiresAt, bucket: await run('count', expiresAt), counted: true })
        } else if (action < 0.65 && live.length > 0) {
          // Delivered before it expired: it stops counting now.
          const request = pick(live)
          request.counted = false
          await run('uncount', request.bucket)
        } else {
          const open = Math.floor(now / BUCKET_MS)
          const total = await run('close', now)
          expect(total, `seed ${seed} step ${step}`).toBe(requests.filter((r) => r.counted && Math.floor(r.expiresAt / BUCKET_MS) >= open).length)
          expect(total).toBeGreaterThanOrEqual(live.length)
        }
      }
    }
  })

  it('does not drift after an idle gap, as buckets as wide as a 128th of the TTL did', async () => {
    // The earlier count lost a request for good when, after an idle spell, a sweep came
    // while its bucket's counter had already expired: with MAX_PENDING_TOTAL=1 every
    // create then answered "store full". This replays that timeline with a TTL just past a
    // multiple of that width, where the window was widest.
    const ttlMs = 5001
    const width = Math.ceil(ttlMs / 128)
    const span = Math.ceil(ttlMs / width) + 1
    const redisNow = async (): Promise<number> => {
      const [seconds, micros] = await client.time() as unknown as [string, string]
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
    }
    const until = async (at: number): Promise<void> => {
      for (let left = at - await redisNow(); left > 0; left = at - await redisNow()) await sleep(Math.min(200, Math.max(1, left - 5)))
    }
    /** The timeline once, on a store of its own; 'late' when this machine stalled past the moment the refused create needs. */
    const replay = async (): Promise<'done' | 'late'> => {
      const prefix = testPrefix()
      prefixes.push(prefix)
      const store = closeWhenDone(await RedisTaskStore.connect({ ttlMs, maxPendingPerTarget: 32, maxPendingTotal: 1, retryGraceMs: 30_000, askQuota: { limit: 60 }, maxSignedInUsers: 1000, listener: { wake: () => {}, wakeAll: () => {} }, url: SHARED_REDIS, storeKey: TEST_STORE_KEY, prefix }))
      const created = await redisNow()
      await store.createRequest(1, 2)
      const bucket = Math.floor((created + ttlMs) / width)
      // A create refused while the first request still lives, in the bucket where it expires...
      const refuseAt = bucket * width + 5
      await until(refuseAt)
      const refused = await store.createRequest(3, 4).then(() => undefined, (err: unknown) => err)
      if (refused === undefined && await redisNow() > refuseAt + 20) return 'late'
      expect(refused).toMatchObject({ code: 'WC_ERR_STORE_FULL' })
      // ...then idle into the window where that bucket's counter was gone when swept.
      const gapStart = bucket * width + 2 * width + ttlMs
      await until(gapStart + Math.floor(((bucket + span + 1) * width - gapStart) / 2))
      expect((await store.createRequest(5, 6)).created).toBe(true)
      return 'done'
    }
    let outcome = await replay()
    for (let attempt = 2; attempt <= 3 && outcome === 'late'; attempt++) outcome = await replay()
    expect(outcome, 'the machine stalled past the refused create three times').toBe('done')
  }, 60_000)
})

