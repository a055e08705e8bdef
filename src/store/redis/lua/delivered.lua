--[[
  The reader has its answer: the record goes, and stops counting.

  KEYS[1] recordKey     {p}q:<request>  hash
  ARGV[1] prefix
  ARGV[2] requestHash
  ARGV[3] handedOutAt   the hand-out this reader got (a later one is another reader's)

  Returns 1 when forgotten, 0 when it was not this reader's to forget
]]
local recordKey = KEYS[1]
local prefix = ARGV[1]
local requestHash = ARGV[2]
local handedOutAt = tonumber(ARGV[3])

--- @include "count"

local record = redis.call('HMGET', recordKey, 'st', 'h', 'v', 'b', 'sw')
local state, recordHandedOutAt, recordLayout, bucket, someoneWaits = record[1], record[2], record[3], record[4], record[5]
if state ~= 'h' or tonumber(recordHandedOutAt or '0') ~= handedOutAt then return 0 end

redis.call('DEL', recordKey)
if recordLayout and bucket then
  uncountRequest(prefix, tonumber(bucket))
else
  redis.call('ZREM', prefix .. 'all', requestHash)
end
-- Readers told to wait while this one settled learn that it is gone (nobody else
-- listens: every instance would get a wake-up for nothing).
if someoneWaits then redis.call('PUBLISH', prefix .. 'wake', requestHash) end
return 1
