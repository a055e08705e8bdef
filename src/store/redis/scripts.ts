/**
 * The Lua scripts that make each store step atomic in Redis, so that
 * instances racing on one request agree: one answer wins, a result is
 * delivered once. Time comes from Redis (TIME), so instances on hosts with
 * skewed clocks agree on expiry too.
 *
 * Keys (all names are keyed hashes, never ids):
 *   {p}q:<request>   hash   id (sealed request id), st (p|c), a (sealed answer), t (target hash),
 *                           d (pair hash), b (expiry bucket)
 *   {p}t:<target>    zset   pending request hashes of one target, scored by expiry (at most the per-target cap)
 *   {p}d:<pair>      string the pending request hash of one (requester, target) pair
 *   {p}total         int    requests held, for the total cap
 *   {p}n:<bucket>    int    requests held whose expiry falls in that time bucket
 *   {p}oldest        int    the oldest bucket not yet taken off the total
 *   channel {p}wake  messages: a target hash (new task) or a request hash (new answer)
 *
 * The total is kept in O(1) (amortised) although Redis expires requests silently:
 * requests are counted per expiry bucket (TTL / 128 wide), and once a bucket's time
 * has passed, whatever is left in it has expired and comes off the total. A request
 * counts until the end of its bucket, so the cap errs by at most 1/128 of a TTL.
 */

const NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

/**
 * Takes every bucket whose time has passed off the total, and returns the total.
 * Needs `now`; ARGV names given to it: prefix, bucketMs, ttlMs.
 */
const SWEEP = `
local function sweep (prefix, bucketMs, ttlMs)
  local current = math.floor(now / bucketMs)
  local oldest = tonumber(redis.call('GET', prefix .. 'oldest') or current)
  local total = tonumber(redis.call('GET', prefix .. 'total') or 0)
  local span = math.ceil(ttlMs / bucketMs) + 1
  if current - oldest > span then
    -- Idle for longer than a TTL: count the live buckets instead of walking the dead ones.
    total = 0
    for b = current, current + span do total = total + tonumber(redis.call('GET', prefix .. 'n:' .. b) or 0) end
  else
    for b = oldest, current - 1 do total = total - tonumber(redis.call('GET', prefix .. 'n:' .. b) or 0) end
  end
  if total < 0 then total = 0 end
  redis.call('SET', prefix .. 'oldest', current)
  redis.call('SET', prefix .. 'total', total)
  return total
end
`

/**
 * KEYS: pair, target zset, new record
 * ARGV: ttlMs, maxPerTarget, maxTotal, requestHash, sealedId, targetHash, pairHash, prefix, bucketMs
 * -> {'existing', requestHash, sealedId} | {'target_full'} | {'store_full'} | {'created'}
 */
export const CREATE = `${NOW}${SWEEP}
local prefix, ttlMs, bucketMs = ARGV[8], tonumber(ARGV[1]), tonumber(ARGV[9])
local existing = redis.call('GET', KEYS[1])
if existing then
  local rec = redis.call('HMGET', prefix .. 'q:' .. existing, 'st', 'id')
  if rec[1] == 'p' then return {'existing', existing, rec[2]} end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return {'target_full'} end
if sweep(prefix, bucketMs, ttlMs) >= tonumber(ARGV[3]) then return {'store_full'} end
local exp = now + ttlMs
local bucket = math.floor(exp / bucketMs)
redis.call('HSET', KEYS[3], 'id', ARGV[5], 'st', 'p', 't', ARGV[6], 'd', ARGV[7], 'b', bucket)
redis.call('PEXPIREAT', KEYS[3], exp)
redis.call('ZADD', KEYS[2], exp, ARGV[4])
redis.call('PEXPIREAT', KEYS[2], exp)
redis.call('SET', KEYS[1], ARGV[4], 'PX', ttlMs)
redis.call('INCR', prefix .. 'total')
redis.call('INCR', prefix .. 'n:' .. bucket)
-- A bucket's count must outlive its time by a TTL, for the sweep to take it off.
redis.call('PEXPIREAT', prefix .. 'n:' .. bucket, (bucket + 2) * bucketMs + ttlMs)
redis.call('PUBLISH', prefix .. 'wake', ARGV[6])
return {'created'}`

/**
 * KEYS: target zset
 * ARGV: prefix
 * -> {requestHash, sealedId, ...} of the target's pending requests, oldest first
 */
export const TASKS = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local id = redis.call('HGET', ARGV[1] .. 'q:' .. member, 'id')
  if id then
    out[#out + 1] = member
    out[#out + 1] = id
  end
end
return out`

/**
 * KEYS: record
 * ARGV: sealedAnswer, requestHash, prefix
 * -> 1 accepted, 0 unknown/expired/answered
 */
export const SUBMIT = `
local rec = redis.call('HMGET', KEYS[1], 'st', 't', 'd')
if rec[1] ~= 'p' then return 0 end
redis.call('HSET', KEYS[1], 'st', 'c', 'a', ARGV[1])
redis.call('ZREM', ARGV[3] .. 't:' .. rec[2], ARGV[2])
local pair = ARGV[3] .. 'd:' .. rec[3]
if redis.call('GET', pair) == ARGV[2] then redis.call('DEL', pair) end
redis.call('PUBLISH', ARGV[3] .. 'wake', ARGV[2])
return 1`

/**
 * KEYS: record
 * ARGV: prefix
 * -> {'expired'} | {'pending', pttl} | {'completed', sealedAnswer} (and the record is gone)
 */
export const TAKE = `
local rec = redis.call('HMGET', KEYS[1], 'st', 'a', 'b')
if not rec[1] then return {'expired'} end
if rec[1] == 'p' then return {'pending', redis.call('PTTL', KEYS[1])} end
redis.call('DEL', KEYS[1])
-- The record lived, so its bucket has not been swept yet: it stops counting now.
if redis.call('EXISTS', ARGV[1] .. 'n:' .. rec[3]) == 1 then
  redis.call('DECR', ARGV[1] .. 'n:' .. rec[3])
  redis.call('DECR', ARGV[1] .. 'total')
end
return {'completed', rec[2]}`

/** ARGV: prefix, bucketMs, ttlMs -> how many requests are held */
export const SIZE = `${NOW}${SWEEP}
return sweep(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))`
