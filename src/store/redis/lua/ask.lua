#!lua
--[[
  v2: opens a verified request, or finds the one still pending from the same
  requester to the same target with the same public key (a retried ask finds
  what the first one made). Only a request opened here is charged to the
  requester's quota, last, so that a refused ask costs nothing.

  KEYS[1] pairKey          {p}d:<pair>       string  the pending request of one v2 (requester, target, key) pair
  KEYS[2] targetKey        {p}t:<target>     zset    the target's pending requests, scored by expiry
  KEYS[3] recordKey        {p}q:<request>    hash    the new request
  KEYS[4] quotaKey         {p}quota:<requester>  string  the requester's quota (includes/quota: GCRA)
  ARGV[1] prefix
  ARGV[2] ttlMs
  ARGV[3] maxPerTarget
  ARGV[4] maxTotal
  ARGV[5] requestHash
  ARGV[6] sealedId         the request id, sealed for `layout`
  ARGV[7] targetHash
  ARGV[8] pairHash
  ARGV[9] layout           the record layout this instance writes for v2 requests
  ARGV[10] requesterHash   who may read the answer
  ARGV[11] sealedRequester the requester's id, sealed; '' when they ask anonymously
  ARGV[12] sealedPublicKey the public key of a sealed request, sealed; '' for a plain one
  ARGV[13] quotaIntervalMs one ask's share of the quota period
  ARGV[14] quotaBurstMs    how far ahead of now the quota may run

  The first line makes Redis refuse the whole script over maxmemory, as create.lua's does.

  Returns {'created'}
        | {'existing', requestHash, sealedId, layout, msToExpiry}   the pair's pending request
        | {'target_full', msToRoom}                                  when the target's oldest request expires
        | {'store_full'}
        | {'quota', msToNextAsk}                                     nothing written or charged
]]
local pairKey = KEYS[1]
local targetKey = KEYS[2]
local recordKey = KEYS[3]
local quotaKey = KEYS[4]
local prefix = ARGV[1]
local ttlMs = tonumber(ARGV[2])
local maxPerTarget = tonumber(ARGV[3])
local maxTotal = tonumber(ARGV[4])
local requestHash = ARGV[5]
local sealedId = ARGV[6]
local targetHash = ARGV[7]
local pairHash = ARGV[8]
local layout = ARGV[9]
local requesterHash = ARGV[10]
local sealedRequester = ARGV[11]
local sealedPublicKey = ARGV[12]
local quotaIntervalMs = tonumber(ARGV[13])
local quotaBurstMs = tonumber(ARGV[14])

--- @include "time"
--- @include "expiry"
--- @include "count"
--- @include "legacy"
--- @include "requests"
--- @include "quota"

local now = nowMs()

local existing = pendingOfPair(prefix, pairKey)
if existing then return existing end

if pendingIn(targetKey, now) >= maxPerTarget then return {'target_full', untilOldestExpires(targetKey, now)} end
retireLegacy(prefix, now)
if closeBuckets(prefix, now) >= maxTotal then return {'store_full'} end
local wait = quota_wait(quotaKey, now, quotaBurstMs)
if wait > 0 then return {'quota', wait} end
quota_take(quotaKey, now, quotaIntervalMs)

local extra = {'r', requesterHash}
if sealedRequester ~= '' then extra[#extra + 1] = 'ri'; extra[#extra + 1] = sealedRequester end
if sealedPublicKey ~= '' then extra[#extra + 1] = 'pk'; extra[#extra + 1] = sealedPublicKey end
openRequest(prefix, {
  recordKey = recordKey, targetKey = targetKey, pairKey = pairKey, requestHash = requestHash,
  targetHash = targetHash, pairHash = pairHash, sealedId = sealedId, layout = layout
}, now + ttlMs, ttlMs, extra)
return {'created'}
