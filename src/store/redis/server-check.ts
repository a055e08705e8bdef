/**
 * What the store needs from the Redis server, checked once at start: Redis 7
 * or later (the scripts use PEXPIREAT NX/GT), and no eviction. Evicting keys
 * under memory pressure would drop requests silently, or the counters behind
 * MAX_PENDING_TOTAL (with `allkeys-*`), after which the count is wrong for
 * good; with `noeviction` a full Redis refuses writes and calls answer 503.
 */
import type { RedisClientType } from 'redis'
import { WC_ERR_REDIS_UNSUITABLE } from '../../errors.js'

/** The commands the check needs, from any node-redis client. */
type Client = Pick<RedisClientType, 'info' | 'configGet'>

export async function checkServer (client: Client, warn: (message: string) => void = () => {}): Promise<void> {
  const info = await client.info('server')
  const version = /^redis_version:(\d+)\./m.exec(info)?.[1]
  if (version !== undefined && Number(version) < 7) {
    throw new WC_ERR_REDIS_UNSUITABLE(`Redis ${version}.x is too old: the store needs Redis 7 or later`)
  }

  let settings: Record<string, string>
  try {
    settings = await client.configGet(['maxmemory', 'maxmemory-policy'])
  } catch {
    // Managed Redis services often rename or forbid CONFIG.
    warn('cannot read the Redis eviction policy (CONFIG GET refused): it must be noeviction, or requests can be lost under memory pressure')
    return
  }
  const policy = settings['maxmemory-policy'] ?? 'noeviction'
  if (policy === 'noeviction') return
  if (Number(settings.maxmemory ?? '0') > 0) {
    throw new WC_ERR_REDIS_UNSUITABLE(`Redis evicts keys (maxmemory-policy ${policy}): that loses requests and breaks the total count; set maxmemory-policy noeviction`)
  }
  warn(`Redis has maxmemory-policy ${policy}: harmless while maxmemory is 0, but set noeviction before setting a memory limit`)
}
