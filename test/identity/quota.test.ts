import { randomBytes } from 'node:crypto'
import { createClient, type RedisClientType } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WC_ERR_STORE_UNAVAILABLE } from '../../src/errors.js'
import { gcraParameters, MemoryQuota, type Quota, type QuotaRate } from '../../src/identity/quota.js'
import { Sealer } from '../../src/crypto/sealer.js'
import { luaSource } from '../../src/store/redis/scripts.js'
import { deleteKeys, dumpKeys, SHARED_REDIS, testPrefix } from '../store/redis-helper.js'
import { quotaConformance } from './quota-conformance.js'

let client: RedisClientType
const prefixes: string[] = []
beforeAll(async () => {
  client = createClient({ url: SHARED_REDIS })
  await client.connect()
})
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(prefix)
  client.destroy()
})

/**
 * The quota include the Redis ask script runs (lua/includes/quota.lua), as a
 * script of its own, so that the conformance suite holds it to what
 * MemoryQuota does (the store's own tests cover it inside the ask script).
 */
class RedisQuota implements Quota {
  static readonly SCRIPT = `${luaSource('includes/time')}
${luaSource('includes/quota')}
local now = nowMs()
local wait = quota_wait(KEYS[1], now, tonumber(ARGV[2]))
if wait > 0 then return wait end
quota_take(KEYS[1], now, tonumber(ARGV[1]))
return 0`

  readonly #hasher: Sealer
  readonly #args: string[]

  constructor (readonly options: QuotaRate & { client: RedisClientType, secret: Buffer, prefix: string }) {
    const { intervalMs, burstMs } = gcraParameters(options)
    this.#hasher = new Sealer(options.secret)
    this.#args = [String(intervalMs), String(burstMs)]
  }

  async take (requesterId: number): Promise<number> {
    const key = `${this.options.prefix}quota:${this.#hasher.hash(`quota:${requesterId}`)}`
    try {
      return Number(await this.options.client.eval(RedisQuota.SCRIPT, { keys: [key], arguments: this.#args }))
    } catch {
      throw new WC_ERR_STORE_UNAVAILABLE()
    }
  }

  async close (): Promise<void> {}
}

quotaConformance('memory', async (rate) => new MemoryQuota({ ...rate, maxEntries: 1000 }))
quotaConformance('redis (the Lua fragment)', async (rate) => {
  const prefix = testPrefix()
  prefixes.push(prefix)
  return new RedisQuota({ ...rate, client, secret: randomBytes(32), prefix })
})

describe('RedisQuota', () => {
  it('keeps one key per requester, named by a keyed hash, expiring when the quota is whole', async () => {
    const prefix = testPrefix()
    prefixes.push(prefix)
    const quota = new RedisQuota({ limit: 60, client, secret: randomBytes(32), prefix })
    expect(await quota.take(6_300_000_001)).toBe(0)
    expect(await quota.take(6_300_000_001)).toBe(0)
    const keys = await dumpKeys(prefix)
    expect(keys).toHaveLength(1)
    expect(JSON.stringify(keys)).not.toContain('6300000001')
    const ttl = await client.pTTL(keys[0]?.key as string)
    // Two asks of an hour's 60: whole again in two minutes.
    expect(ttl).toBeGreaterThan(110_000)
    expect(ttl).toBeLessThanOrEqual(120_000)
  })
})

describe('MemoryQuota bounds', () => {
  it('refuses new askers with 503 when it tracks maxEntries, and frees them as their quota refills', async () => {
    let now = 1_000_000
    const quota = new MemoryQuota({ limit: 2, periodMs: 1000, maxEntries: 2, now: () => now })
    expect(await quota.take(1)).toBe(0)
    expect(await quota.take(2)).toBe(0)
    await expect(quota.take(3)).rejects.toMatchObject({ code: 'WC_ERR_QUOTA_FULL', statusCode: 503 })
    // Known askers go on as before.
    expect(await quota.take(1)).toBe(0)
    expect(await quota.take(1)).toBeGreaterThan(0)
    now += 500
    expect(await quota.take(3)).toBe(0)
    expect(quota.size).toBe(2)
  })
})
