#!lua
--[[
  v1: opens an unverified request, or finds the one still pending between the
  same requester and target (a retried create finds what the first one made).

  KEYS[1] pairKey        {p}d:<pair>     string  the pending request of one v1 (requester, target) pair
  KEYS[2] targetKey      {p}t:<target>   zset    the target's pending requests, scored by expiry
  KEYS[3] unverifiedKey  {p}u:<target>   zset    the target's pending v1 requests, scored by expiry
  KEYS[4] recordKey      {p}q:<request>  hash    the new request
  ARGV[1] prefix
  ARGV[2] ttlMs
  ARGV[3] maxPerTarget
  ARGV[4] maxUnverified  pending v1 requests per target; 0: no cap of their own
  ARGV[5] maxTotal
  ARGV[6] requestHash
  ARGV[7] sealedId       the request id, sealed for `layout`
  ARGV[8] targetHash
  ARGV[9] pairHash
  ARGV[10] layout        the record layout this instance writes for v1 requests

  The first line (a shebang with no flags) makes Redis refuse the whole script when it is
  over maxmemory. Without it Redis checks only until a script's first write, and the first
  write here frees memory (ZREMRANGEBYSCORE of what expired): the rest then wrote past the
  limit. The store turns the refusal into 503.

  Returns {'created'}
        | {'existing', requestHash, sealedId, layout, msToExpiry}   the pair's pending request
        | {'target_full', msToRoom} | {'unverified_full', msToRoom}  nothing written; when the oldest
                                                                   request in the way expires
        | {'store_full'}
]]
local pairKey = KEYS[1]
local targetKey = KEYS[2]
local unverifiedKey = KEYS[3]
local recordKey = KEYS[4]
local prefix = ARGV[1]
local ttlMs = tonumber(ARGV[2])
local maxPerTarget = tonumber(ARGV[3])
local maxUnverified = tonumber(ARGV[4])
local maxTotal = tonumber(ARGV[5])
local requestHash = ARGV[6]
local sealedId = ARGV[7]
local targetHash = ARGV[8]
local pairHash = ARGV[9]
local layout = ARGV[10]

--- @include "time"
--- @include "expiry"
--- @include "count"
--- @include "legacy"
--- @include "requests"

local now = nowMs()

local existing = pendingOfPair(prefix, pairKey)
if existing then return existing end

if pendingIn(targetKey, now) >= maxPerTarget then return {'target_full', untilOldestExpires(targetKey, now)} end
-- Kept up whether or not there is a cap, so that turning it on finds the count right.
local unverified = pendingIn(unverifiedKey, now)
if maxUnverified > 0 and unverified >= maxUnverified then return {'unverified_full', untilOldestExpires(unverifiedKey, now)} end
retireLegacy(prefix, now)
if closeBuckets(prefix, now) >= maxTotal then return {'store_full'} end

local expiresAt = now + ttlMs
openRequest(prefix, {
  recordKey = recordKey, targetKey = targetKey, pairKey = pairKey, requestHash = requestHash,
  targetHash = targetHash, pairHash = pairHash, sealedId = sealedId, layout = layout
}, expiresAt, ttlMs, {})
enqueue(unverifiedKey, expiresAt, requestHash)
return {'created'}
