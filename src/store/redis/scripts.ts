/**
 * The Lua scripts that make each store step atomic in Redis, so that
 * instances racing on one request agree: one answer wins, a result is
 * delivered once. Time comes from Redis (TIME), so instances on hosts with
 * skewed clocks agree on expiry too.
 *
 * Keys (all names are keyed hashes, never ids):
 *   {p}q:<request>  hash  id (sealed request id), st (p|c), a (sealed answer), t (target hash), d (pair hash)
 *   {p}t:<target>   zset  pending request hashes of one target, scored by expiry
 *   {p}d:<pair>     string the pending request hash of one (requester, target) pair
 *   {p}all          zset  every held request hash, scored by expiry (the total cap)
 *   channel {p}wake  messages: a target hash (new task) or a request hash (new answer)
 */

const NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

/**
 * KEYS: pair, target zset, all zset, new record
 * ARGV: ttlMs, maxPerTarget, maxTotal, requestHash, sealedId, targetHash, pairHash, prefix
 * -> {'existing', requestHash, sealedId} | {'target_full'} | {'store_full'} | {'created'}
 */
export const CREATE = `${NOW}
local existing = redis.call('GET', KEYS[1])
if existing then
  local rec = redis.call('HMGET', ARGV[8] .. 'q:' .. existing, 'st', 'id')
  if rec[1] == 'p' then return {'existing', existing, rec[2]} end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return {'target_full'} end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[3]) then return {'store_full'} end
local exp = now + tonumber(ARGV[1])
redis.call('HSET', KEYS[4], 'id', ARGV[5], 'st', 'p', 't', ARGV[6], 'd', ARGV[7])
redis.call('PEXPIREAT', KEYS[4], exp)
redis.call('ZADD', KEYS[2], exp, ARGV[4])
redis.call('PEXPIREAT', KEYS[2], exp)
redis.call('ZADD', KEYS[3], exp, ARGV[4])
redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[1])
redis.call('PUBLISH', ARGV[8] .. 'wake', ARGV[6])
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
 * KEYS: record, all zset
 * ARGV: requestHash
 * -> {'expired'} | {'pending', pttl} | {'completed', sealedAnswer} (and the record is gone)
 */
export const TAKE = `
local rec = redis.call('HMGET', KEYS[1], 'st', 'a')
if not rec[1] then return {'expired'} end
if rec[1] == 'p' then return {'pending', redis.call('PTTL', KEYS[1])} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return {'completed', rec[2]}`

/** KEYS: all zset -> how many requests are held */
export const SIZE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])`
