--[[
  Hands the answer to a reader. The record is not deleted here: the reader's
  instance confirms with delivered.lua once the reply is in its hands. Until
  then, and for the retry grace at most, the record stays, marked handed out.
  If the reply is lost on its way (a dropped connection, a timeout), the next
  reader gets the answer again, but only once the first reader has certainly
  given up (settleMs): before that, it is told to look again shortly.

  A v2 request is read by its requester only, through v2; a v1 one through v1
  only. Anyone else finds it expired, and leaves it as it is.

  KEYS[1] recordKey     {p}q:<request>  hash
  ARGV[1] prefix
  ARGV[2] callerHash    the v2 caller's requester hash; '' for a v1 read
  ARGV[3] retryGraceMs
  ARGV[4] settleMs      longer than a reader's instance may take to confirm

  Returns {'expired'}                                         unknown, expired, delivered, or not the caller's
        | {'pending', msToExpiry}
        | {'settling', msToSettle}                            handed to another reader just now (marked
                                                              'sw', so that its confirmation wakes this one)
        | {'completed', sealedAnswer or '', layout, handedOutAt, kind, verified ('1' | '0')}
]]
local recordKey = KEYS[1]
local prefix = ARGV[1]
local callerHash = ARGV[2]
local retryGraceMs = tonumber(ARGV[3])
local settleMs = tonumber(ARGV[4])

--- @include "time"
--- @include "count"

local record = redis.call('HMGET', recordKey, 'st', 'a', 'v', 'b', 'h', 'r', 'ak', 'av')
local state, answer, recordLayout, bucket, handedOutAt, requesterHash, answerKind, answerVerified =
  record[1], record[2], record[3], record[4], record[5], record[6], record[7], record[8]

if not state then return {'expired'} end
if callerHash == '' then
  if requesterHash then return {'expired'} end
elseif requesterHash ~= callerHash then
  return {'expired'}
end
if state == 'p' then return {'pending', redis.call('PTTL', recordKey)} end
local kind = answerKind or 'plain'
if not answer and kind ~= 'declined' then return {'expired'} end

local now = nowMs()
if state == 'h' then
  local since = now - tonumber(handedOutAt or '0')
  if since < settleMs then
    -- Someone waits now: the confirmation (delivered.lua) wakes them.
    redis.call('HSET', recordKey, 'sw', '1')
    return {'settling', settleMs - since}
  end
  redis.call('HSET', recordKey, 'st', 'h', 'h', now)
else
  -- First hand-out: from now on the answer is kept for the grace only, and
  -- counted in the bucket of its new expiry.
  local keptUntil = now + retryGraceMs
  redis.call('PEXPIREAT', recordKey, keptUntil)
  if recordLayout and bucket then
    uncountRequest(prefix, tonumber(bucket))
    redis.call('HSET', recordKey, 'st', 'h', 'h', now, 'b', countRequest(prefix, keptUntil))
  else
    redis.call('HSET', recordKey, 'st', 'h', 'h', now)
  end
end
return {'completed', answer or '', recordLayout or '1', now, kind, answerVerified or '0'}
