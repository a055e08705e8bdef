--[[
  Opens a request, or finds the one still pending between the same requester
  and target (a retried create finds what the first one made).

  KEYS[1] pairKey       {p}d:<pair>     string  the pending request of one (requester, target) pair
  KEYS[2] targetKey     {p}t:<target>   zset    the target's pending requests, scored by expiry
  KEYS[3] recordKey     {p}q:<request>  hash    the new request
  ARGV[1] prefix
  ARGV[2] ttlMs
  ARGV[3] maxPerTarget
  ARGV[4] maxTotal
  ARGV[5] requestHash
  ARGV[6] sealedId      the request id, sealed for `layout`
  ARGV[7] targetHash
  ARGV[8] pairHash
  ARGV[9] layout        the record layout this instance writes

  Returns {'created'}
        | {'existing', requestHash, sealedId, layout}   the pair's pending request
        | {'target_full'} | {'store_full'}              nothing written
]]
local pairKey = KEYS[1]
local targetKey = KEYS[2]
local recordKey = KEYS[3]
local prefix = ARGV[1]
local ttlMs = tonumber(ARGV[2])
local maxPerTarget = tonumber(ARGV[3])
local maxTotal = tonumber(ARGV[4])
local requestHash = ARGV[5]
local sealedId = ARGV[6]
local targetHash = ARGV[7]
local pairHash = ARGV[8]
local layout = ARGV[9]

--- @include "time"
--- @include "expiry"
--- @include "count"
--- @include "legacy"

local now = nowMs()

local existing = redis.call('GET', pairKey)
if existing then
  local record = redis.call('HMGET', prefix .. 'q:' .. existing, 'st', 'id', 'v')
  if record[1] == 'p' and record[2] then return {'existing', existing, record[2], record[3] or '1'} end
end

redis.call('ZREMRANGEBYSCORE', targetKey, '-inf', now)
if redis.call('ZCARD', targetKey) >= maxPerTarget then return {'target_full'} end
retireLegacy(prefix, now)
if closeBuckets(prefix, now) >= maxTotal then return {'store_full'} end

local expiresAt = now + ttlMs
-- Creation order across all instances: the target's list is scored by expiry,
-- which differs from creation order when instances run with different TTLs.
local order = redis.call('INCR', prefix .. 'order')
local bucket = countRequest(prefix, expiresAt)
redis.call('HSET', recordKey, 'v', layout, 'st', 'p', 'id', sealedId, 't', targetHash, 'd', pairHash, 'o', order, 'b', bucket)
redis.call('PEXPIREAT', recordKey, expiresAt)
redis.call('ZADD', targetKey, expiresAt, requestHash)
keepUntilAtLeast(targetKey, expiresAt)
redis.call('SET', pairKey, requestHash, 'PX', ttlMs)
redis.call('PUBLISH', prefix .. 'wake', targetHash)
return {'created'}
