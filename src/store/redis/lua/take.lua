--[[
  Hands the answer to a reader. The record is not deleted here: the reader's
  instance confirms with delivered.lua once the reply is in its hands. Until
  then, and for the retry grace at most, the record stays, marked handed out.
  If the reply is lost on its way (a dropped connection, a timeout), the next
  reader gets the answer again, but only once the first reader has certainly
  given up (settleMs): before that, it is told to look again shortly.

  KEYS[1] recordKey     {p}q:<request>  hash
  ARGV[1] prefix
  ARGV[2] retryGraceMs
  ARGV[3] settleMs      longer than a reader's instance may take to confirm

  Returns {'expired'}                                         unknown, expired or delivered
        | {'pending', msToExpiry}
        | {'settling', msToSettle}                            handed to another reader just now
        | {'completed', sealedAnswer, layout, handedOutAt}
]]
local recordKey = KEYS[1]
local prefix = ARGV[1]
local retryGraceMs = tonumber(ARGV[2])
local settleMs = tonumber(ARGV[3])

--- @include "time"
--- @include "count"

local record = redis.call('HMGET', recordKey, 'st', 'a', 'v', 'b', 'h')
local state, answer, recordLayout, bucket, handedOutAt = record[1], record[2], record[3], record[4], record[5]

if not state then return {'expired'} end
if state == 'p' then return {'pending', redis.call('PTTL', recordKey)} end
if not answer then return {'expired'} end

local now = nowMs()
if state == 'h' then
  local since = now - tonumber(handedOutAt or '0')
  if since < settleMs then return {'settling', settleMs - since} end
else
  -- First hand-out: from now on the answer is kept for the grace only, and
  -- counted in the bucket of its new expiry.
  local keptUntil = now + retryGraceMs
  redis.call('PEXPIREAT', recordKey, keptUntil)
  if recordLayout and bucket then
    uncountRequest(prefix, tonumber(bucket))
    redis.call('HSET', recordKey, 'b', countRequest(prefix, keptUntil))
  end
end
redis.call('HSET', recordKey, 'st', 'h', 'h', now)
return {'completed', answer, recordLayout or '1', now}
